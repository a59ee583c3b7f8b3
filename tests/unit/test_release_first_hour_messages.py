"""Small first-hour drift (probe P16): COLOR's messages name the command and suggest a fix, every release
command closes with `exit N: ...` when it did not end ok, the release summary always has `warnings`, and the
README's examples say what the kit says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.release import environment, exitcodes, switch

REPO = Path(__file__).resolve().parents[2]


def test_a_missing_color_is_required_with_the_commands_own_example():
    with pytest.raises(environment.BadInput) as raised:
        environment.check_color(None, "verify")
    assert (
        str(raised.value)
        == "COLOR is required for make verify: blue or green. Example: make verify COLOR=green"
    )
    assert "None" not in str(raised.value)


@pytest.mark.parametrize(("typed", "meant"), [("gren", "green"), ("Green", "green"), ("bleu", "blue")])
def test_a_color_typo_gets_a_did_you_mean(typed, meant):
    with pytest.raises(environment.BadInput) as raised:
        environment.check_color(typed, "plan")
    assert f"COLOR must be blue or green (got '{typed}'); did you mean {meant}?" in str(raised.value)


def test_a_color_far_from_both_gets_no_guess():
    with pytest.raises(environment.BadInput) as raised:
        environment.check_color("purple")
    assert str(raised.value) == "COLOR must be blue or green (got 'purple'). Example: make plan COLOR=green"


def test_make_verify_without_color_says_so_and_closes_with_the_exit_line(monkeypatch, capsys):
    monkeypatch.delenv("KIT_COLOR", raising=False)
    monkeypatch.setenv("KIT_ENV", "local")
    assert switch.main(["verify"]) == exitcodes.BAD_INPUT
    err = capsys.readouterr().err.splitlines()
    assert "error: COLOR is required for make verify" in err[0] and "make verify COLOR=green" in err[0]
    assert err[-1] == "exit 2: bad input"


def test_make_migrate_closes_with_the_exit_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "DATABASE_URL", "AWS_"))}
    env.update(PYTHONPATH=f"{REPO / 'lambda'}{os.pathsep}{REPO}", KIT_ACTION="lsit")
    env["RELEASE_KIT_LOCAL_DIR"] = "/nonexistent/release-kit-test"
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.release.migrate"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == exitcodes.BAD_INPUT
    assert proc.stderr.splitlines()[-1] == "exit 2: bad input"


def test_every_release_summary_has_warnings(capsys):
    assert environment.run_command("release", lambda: {"ok": True, "outcome": "completed"}) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["warnings"] == []
    environment.run_command("release", lambda: {}, problems=["COLOR=gren"])
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["warnings"] == []
    assert err.splitlines()[-1] == "exit 2: bad input"
    kept = {"ok": True, "outcome": "completed", "warnings": ["drift"]}
    environment.run_command("rollback", lambda: kept)
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["warnings"] == ["drift"]


def test_the_readme_lists_the_actions_make_migrate_accepts():
    from migrator.events import ACTIONS

    readme = (REPO / "README.md").read_text()
    listed = re.search(r"ACTION=sqll is not an action; did you mean sql\? use one of: (.*)", readme)
    assert listed is not None
    assert listed[1].strip() == ", ".join(ACTIONS)


def test_the_readme_never_tells_rollback_to_auto_approve():
    # `make rollback` never asks, so it never reads AUTO_APPROVE.
    for path in (REPO / "README.md", REPO / "docs" / "runbook.md", REPO / "docs" / "decisions.md"):
        assert "rollback AUTO_APPROVE" not in path.read_text(), path
