"""The demo's edits to an env tfvars file: one value at a time, comments kept, terraform fmt applied (the
real terraform binary, as `make fmt` runs it)."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import pytest

from scripts.release import envfile, trafficfile
from scripts.release.envfile import EnvFileError
from tests import committed

REPO = Path(__file__).resolve().parents[2]
LOCAL_TFVARS = REPO / "terraform" / "env" / "local.tfvars"


@pytest.fixture
def local_tfvars(tmp_path: Path) -> Path:
    path = tmp_path / "local.tfvars"
    path.write_text(committed.text(LOCAL_TFVARS))
    return path


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_a_value_in_one_colour_block_changes_and_nothing_else(local_tfvars: Path) -> None:
    before = local_tfvars.read_text()
    assert envfile.edit(local_tfvars, blocks={"green": {"image": "public.ecr.aws/nginx/nginx:1.28"}})
    after = local_tfvars.read_text()
    changed = _changed_lines(before, after)
    assert len(changed) == 2 and changed[0].lstrip("-").strip().startswith("image")
    assert changed[1].split("=", 1)[1].strip() == '"public.ecr.aws/nginx/nginx:1.28"'
    # blue's image is untouched, and the comments above the blocks are kept
    assert after.count("nginx:1.27") == 1 and "# nginx answers 200" in after


def test_a_missing_attribute_is_added_aligned_and_removed_again(local_tfvars: Path) -> None:
    before = local_tfvars.read_text()
    assert envfile.edit(local_tfvars, blocks={"blue": {"desired_count": 0}})
    after = local_tfvars.read_text()
    assert "  desired_count                     = 0\n" in after  # terraform fmt aligned it
    subprocess.run(["terraform", "fmt", "-check", str(local_tfvars)], check=True)
    assert envfile.edit(local_tfvars, blocks={"blue": {"desired_count": None}})
    assert local_tfvars.read_text() == before


def test_a_top_level_setting_is_added_and_removed(local_tfvars: Path) -> None:
    before = local_tfvars.read_text()
    assert envfile.edit(local_tfvars, top={"migrator_package_path": "../.local/demo/migrator.zip"})
    assert 'migrator_package_path = "../.local/demo/migrator.zip"\n' in local_tfvars.read_text()
    assert envfile.edit(local_tfvars, top={"migrator_package_path": None})
    assert local_tfvars.read_text() == before
    assert envfile.edit(local_tfvars, top={"migrator_package_path": None}) is False


def test_traffic_keys_belong_to_the_traffic_file(local_tfvars: Path) -> None:
    before = local_tfvars.read_text()
    with pytest.raises(EnvFileError, match="traffic setting"):
        envfile.edit(local_tfvars, top={"live_color": "green"})
    assert local_tfvars.read_text() == before
    assert trafficfile.read(local_tfvars).live_color == "blue"


def test_a_missing_block_is_a_clear_error_and_changes_nothing(local_tfvars: Path) -> None:
    before = local_tfvars.read_text()
    with pytest.raises(EnvFileError, match="no block `purple = "):
        envfile.edit(local_tfvars, blocks={"purple": {"image": "x"}})
    assert local_tfvars.read_text() == before
