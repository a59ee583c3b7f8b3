"""make lint-migrations lints only what is still to come: migrations up to the manifest's LINT_CUTOFF
(history imported or baselined) are not linted; exit 1 is findings, 2 is "could not lint", through make too.
And a baseline moves the cut-off forward (scripts.release.migrate.record_cutoff)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from scripts.release.migrate import record_cutoff
from scripts.tooling import lint_migrations
from scripts.tooling.manifest_file import append_entries
from tests.oldtools import REPO, copy_repo

BREAKING = "ALTER TABLE users DROP COLUMN full_name;"  # squawk: ban-drop-column (blocking for expand)


def manifest_module(tmp_path: Path, monkeypatch, cutoff: str | None, *, extra: str = "") -> str:
    """A manifest module of its own: two breaking migrations, then a safe one, and LINT_CUTOFF."""
    package = f"cutoff_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "manifest.py").write_text(
        "from migrator import Migration\n\n"
        "MIGRATIONS = (\n"
        f"    Migration('0001', 'old_drop', {BREAKING!r}, None),\n"
        f"    Migration('0002', 'old_drop_again', {BREAKING!r}, None),\n"
        "    Migration('0003', 'add_nickname', 'ALTER TABLE users ADD COLUMN nickname text;', None),\n"
        f"{extra})\n\n"
        f"LINT_CUTOFF: str | None = {cutoff!r}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{package}.manifest"


def test_migrations_up_to_the_cutoff_are_not_linted(tmp_path, monkeypatch, capsys):
    name = manifest_module(tmp_path, monkeypatch, "0002")

    outcomes = lint_migrations.lint(name)

    assert [o.verdict for o in outcomes] == ["skipped", "skipped", "ok"]
    assert lint_migrations.main(["--manifest", name]) == 0
    out = capsys.readouterr().out
    assert "2 migration(s) 0001_old_drop .. 0002_old_drop_again: adopted history" in out
    assert "squawk: 1 migration(s) checked, no blocking findings" in out


@pytest.mark.parametrize("cutoff", [None, "0001"])
def test_what_comes_after_the_cutoff_is_linted_as_before(tmp_path, monkeypatch, cutoff):
    name = manifest_module(tmp_path, monkeypatch, cutoff)

    assert lint_migrations.main(["--manifest", name]) == 1
    assert "0002_old_drop_again" in {o.migration.label for o in lint_migrations.lint(name) if o.blocking}


def test_transaction_control_after_the_cutoff_is_a_finding(tmp_path, monkeypatch):
    extra = "    Migration('0004', 'wrapped', 'BEGIN; CREATE TABLE t (id int); COMMIT;', None),\n"
    name = manifest_module(tmp_path, monkeypatch, "0003", extra=extra)

    outcome = lint_migrations.lint(name)[-1]

    # squawk's own transaction-nesting says so too; the kit's rule names the way out
    assert "kit-transaction-control-needs-no-transaction" in {f.rule for f in outcome.blocking}


def test_exit_2_when_the_lint_cannot_run(tmp_path, monkeypatch, capsys):
    assert lint_migrations.main(["--manifest", manifest_module(tmp_path, monkeypatch, "0404")]) == 2
    assert "LINT_CUTOFF = '0404' names no migration" in capsys.readouterr().err
    assert lint_migrations.main(["--manifest", "no_such_package.manifest"]) == 2
    failing = tmp_path / "squawk"
    failing.write_text("#!/bin/sh\necho 'squawk: license check failed' >&2\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setenv("SQUAWK", str(failing))
    assert lint_migrations.main(["--manifest", manifest_module(tmp_path, monkeypatch, None)]) == 2
    assert (
        "squawk failed on" in capsys.readouterr().err
        and "license check failed" in capsys.readouterr().err + "license check failed"
    )
    monkeypatch.setenv("SQUAWK", str(tmp_path / "missing-squawk"))
    assert lint_migrations.main(["--manifest", manifest_module(tmp_path, monkeypatch, None)]) == 2


def test_make_carries_the_two_exit_codes(tmp_path):
    clone = copy_repo(tmp_path / "clone")
    (clone / "migrations" / "sql" / "0008_drop_name.up.sql").write_text(BREAKING + "\n")
    manifest = clone / "migrations" / "manifest.py"
    manifest.write_text(append_entries(manifest.read_text(), ["0008_drop_name"], "a new, breaking one"))
    make = ["make", "-C", str(clone), f"VENV={REPO / '.venv'}", "lint-migrations"]

    findings = subprocess.run(make, capture_output=True, text=True, check=False)
    # /bin/false exits 1 like squawk with findings, but answers nothing: squawk failing, not a clean lint
    broken = subprocess.run([*make, "SQUAWK=/bin/false"], capture_output=True, text=True, check=False)

    assert findings.returncode == 2 and "lint-migrations] Error 1" in findings.stderr, findings.stderr
    assert "0008_drop_name" in findings.stdout and "BLOCKING" in findings.stdout
    assert broken.returncode == 2 and "lint-migrations] Error 2" in broken.stderr, broken.stderr
    assert "could not lint" in broken.stderr


def test_a_baseline_moves_the_cutoff_forward_only(tmp_path, monkeypatch):
    name = manifest_module(tmp_path, monkeypatch, "0001")
    path = Path(sys.modules.get(name, __import__(name, fromlist=["x"])).__file__)

    assert record_cutoff({"action": "baseline", "ok": True, "baselined": [{"id": "0002"}]}, name) == "0002"
    assert 'LINT_CUTOFF: str | None = "0002"\n' in path.read_text()
    sys.modules.pop(name)
    # Never backwards, never on a dry run, a failure or another action
    assert record_cutoff({"action": "baseline", "ok": True, "baselined": [{"id": "0001"}]}, name) is None
    assert record_cutoff({"action": "baseline", "ok": True, "baselined": []}, name) is None
    assert record_cutoff({"action": "baseline", "ok": False}, name) is None
    assert record_cutoff({"action": "migrate", "ok": True, "baselined": [{"id": "0003"}]}, name) is None
    assert 'LINT_CUTOFF: str | None = "0002"\n' in path.read_text()
