"""The local CLI as a process: the same handler path, JSON result as the last stdout line, exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(database_url: str | None, **kit: str) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "AWS_LAMBDA", "MIGRATOR_"))}
    env["PYTHONPATH"] = f"{REPO / 'lambda'}{os.pathsep}{REPO}"
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update({f"KIT_{k.upper()}": v for k, v in kit.items()})
    proc = subprocess.run(
        [sys.executable, "-m", "migrator.cli"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
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
