"""The local CLI as a process: the same handler path, JSON result as the last stdout line, exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(database_url: str | None, *, stdin: str | None = None, **kit: str) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "AWS_LAMBDA", "MIGRATOR_"))}
    env["PYTHONPATH"] = f"{REPO / 'lambda'}{os.pathsep}{REPO}"
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update({f"KIT_{k.upper()}": v for k, v in kit.items()})
    proc = subprocess.run(
        [sys.executable, "-m", "migrator.cli"],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = proc.stdout.strip().splitlines()[-1]
    return proc.returncode, json.loads(last), proc.stderr


def test_cli_runs_the_actions_and_exits_zero_only_when_ok(fresh_database):
    code, result, stderr = run_cli(fresh_database, action="migrate", target="0006", dry_run="1")
    assert code == 0 and result["dry_run"] and len(result["would_apply"]) == 6
    assert all(json.loads(line) for line in stderr.splitlines() if line.strip())  # logs: JSON on stderr

    code, result, _ = run_cli(fresh_database, action="migrate")
    assert code == 1 and result["error"]["type"] == "ContractRefused"

    code, result, _ = run_cli(fresh_database, action="migrate", allow_contract="yes")
    assert code == 0 and len(result["applied"]) == 7

    code, result, _ = run_cli(fresh_database, action="rollback", steps="2")
    assert code == 0 and [r["id"] for r in result["rolled_back"]] == ["0007", "0006"]

    code, result, _ = run_cli(fresh_database, action="list")
    assert code == 0 and result["counts"] == {
        "applied": 5,
        "baselined": 0,
        "pending": 2,
        "changed": 0,
        "missing_from_code": 0,
    }


def test_cli_refuses_bad_input_through_the_handler(fresh_database):
    code, result, _ = run_cli(fresh_database, action="rollback", steps="two")
    assert code == 1 and result["error"]["type"] == "InvalidEvent" and '"steps"' in result["error"]["message"]

    code, result, _ = run_cli(fresh_database)
    assert code == 1 and 'no "action"' in result["error"]["message"]


def test_cli_sql_value_arrives_intact(fresh_database):
    code, result, _ = run_cli(fresh_database, action="sql", sql="SELECT 'it''s; $HOME\n`id`' AS \"odd name\"")
    assert code == 0, result
    assert result["columns"] == ["odd name"] and result["rows"] == [["it's; $HOME\n`id`"]]


def test_cli_without_database_url_says_what_to_set():
    code, result, _ = run_cli(None, action="list")
    assert (
        code == 1
        and result["error"]["type"] == "ConfigurationError"
        and "DATABASE_URL" in result["error"]["message"]
    )


def long_select(chars: int) -> str:
    """One read-only statement of about ``chars`` characters."""
    rows = ",".join("(1)" for _ in range(chars // 4))  # flat: the guard refuses deeply nested trees
    return f"SELECT count(*) AS total FROM (VALUES {rows}) AS v (n)"


def test_cli_sql_file_from_a_path_and_from_stdin(fresh_database, tmp_path):
    statement = long_select(9_000)  # under the guard's 10,000-character limit
    query = tmp_path / "long.sql"
    query.write_text(statement)

    code, result, _ = run_cli(fresh_database, action="sql", sql_file=str(query))
    assert code == 0, result
    assert result["rows"] == [[9_000 // 4]]

    code, result, _ = run_cli(fresh_database, action="sql", sql_file="-", stdin=statement)
    assert code == 0 and result["rows"] == [[9_000 // 4]]


@pytest.mark.parametrize(
    ("kit", "stdin", "kind", "message"),
    [
        ({"sql_file": "/nonexistent.sql"}, None, "InvalidEvent", "no such file"),
        ({"sql_file": "-", "sql": "SELECT 1"}, None, "InvalidEvent", "not both"),
        ({"sql_file": "-"}, "", "InvalidEvent", '"sql" is empty'),
        ({"sql_file": "-"}, long_select(300_000), "InvalidEvent", "the limit is 100000"),
        ({"sql_file": "-"}, long_select(50_000), "UnsafeSQL", "10000"),
    ],
    ids=["missing", "both", "empty", "over-the-event-limit", "over-the-guard-limit"],
)
def test_cli_sql_file_problems_end_in_one_json_line(fresh_database, kit, stdin, kind, message):
    code, result, _ = run_cli(fresh_database, action="sql", stdin=stdin, **kit)
    assert code == 1
    assert result["ok"] is False and result["action"] == "sql"
    assert result["error"]["type"] == kind and message in result["error"]["message"], result


def test_make_migrate_takes_a_long_statement_on_stdin(fresh_database):
    # The JSON-last-line contract through make itself (a statement this long given as SQL=... is what used
    # to die in make with "Argument list too long").
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "MIGRATOR_"))}
    env["DATABASE_URL"] = fresh_database
    proc = subprocess.run(
        ["make", "-s", "migrate", "ACTION=sql", "SQL_FILE=-", "FORMAT=json"],
        cwd=REPO,
        env=env,
        input=long_select(9_000),
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and result["ok"] and result["rows"] == [[9_000 // 4]], proc.stderr[-500:]


def test_cli_baseline_with_a_target(fresh_database):
    code, result, _ = run_cli(fresh_database, action="baseline", target="0004", dry_run="1")
    assert code == 0 and [m["id"] for m in result["would_baseline"]] == ["0001", "0002", "0003", "0004"]

    code, result, _ = run_cli(fresh_database, action="baseline")
    assert code == 1 and 'baseline needs "target"' in result["error"]["message"]


@pytest.mark.parametrize(
    ("kit", "heavy_allowed"),
    [
        ({"action": "list"}, set()),
        ({"action": "migrate", "target": "0004"}, set()),  # transactional SQL only: no statement splitting
        ({"action": "migrate", "target": "0006"}, {"pglast"}),  # CONCURRENTLY runs statement by statement
    ],
    ids=["list", "migrate-transactional", "migrate-non-transactional"],
)
def test_the_cli_imports_pglast_and_boto3_only_when_a_path_needs_them(fresh_database, kit, heavy_allowed):
    # Start-up is what `make migrate` pays on every call: pglast and boto3 cost tens of milliseconds each.
    probe = (
        "import json, sys\n"
        "from migrator import cli\n"
        "code = cli.main()\n"
        "print(json.dumps(sorted(m for m in ('pglast', 'boto3', 'botocore') if m in sys.modules)))\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "AWS_LAMBDA", "MIGRATOR_"))}
    env.update(PYTHONPATH=f"{REPO / 'lambda'}{os.pathsep}{REPO}", DATABASE_URL=fresh_database)
    env.update({f"KIT_{k.upper()}": v for k, v in kit.items()})
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and json.loads(lines[-2])["ok"], proc.stdout + proc.stderr[-500:]
    assert set(json.loads(lines[-1])) == heavy_allowed
