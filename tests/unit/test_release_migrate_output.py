"""`make migrate` for people: every make variable checked at once before any call, in make's terms, and
results as tables and lines instead of JSON (FORMAT=json keeps the JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.release import exitcodes, results

REPO = Path(__file__).resolve().parents[2]


def make_migrate(*variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "DATABASE_URL", "AWS_"))}
    env["PYTHONPATH"] = f"{REPO / 'lambda'}{os.pathsep}{REPO}"
    env.update({f"KIT_{v.split('=', 1)[0]}": v.split("=", 1)[1] for v in variables})
    # No local default and no AWS: anything that got past validation would fail loudly, not silently.
    env["RELEASE_KIT_LOCAL_DIR"] = "/nonexistent/release-kit-test"
    return subprocess.run(
        [sys.executable, "-m", "scripts.release.migrate"], cwd=REPO, env=env, capture_output=True, text=True
    )


def test_every_problem_is_reported_at_once_before_anything_is_called():
    proc = make_migrate("ACTION=sqll", "ENV=prod", "STEPS=abc")
    assert proc.returncode == exitcodes.BAD_INPUT
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, proc.stderr
    assert "ACTION=sqll is not an action; did you mean sql?" in errors[0]
    assert "ENV=prod is not an environment here" in errors[1] and "did you mean production?" in errors[1]
    assert "Environments: local" in errors[1] and "production.tfvars.example" in errors[1]
    assert "nothing was run" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (("ACTION=rollback", "STEPS=abc"), "STEPS=abc must be a whole number from 1 to 1000"),
        (("ACTION=rollback", "STEPS=0"), "STEPS=0 must be from 1 to 1000"),
        (("ACTION=rollback",), "rollback needs STEPS= (how many"),
        (("ACTION=migrate", "DRY_RUN=maybe"), "DRY_RUN=maybe must be true or false"),
        (
            ("ACTION=list", "STEPS=3", "TARGET=4"),
            "ACTION=list does not take STEPS=, TARGET=; it takes no other",
        ),
        (("ACTION=seed", "TARGET=4"), "ACTION=seed does not take TARGET=; it takes: ALLOW_PRODUCTION_SEED="),
        (("ACTION=sql",), "ACTION=sql needs SQL=: one read-only statement"),
        (("ACTION=sql", "SQL=x", "SQL_FILE=y"), "give the statement as SQL=... or SQL_FILE=path"),
        ((), "ACTION= is missing"),
    ],
)
def test_messages_name_make_variables_not_event_keys(variables, message):
    proc = make_migrate(*variables)
    assert proc.returncode == exitcodes.BAD_INPUT, proc.stderr
    assert message in proc.stderr
    assert '"steps"' not in proc.stderr and "event" not in proc.stderr


def test_format_json_keeps_the_json_contract_for_bad_input():
    proc = make_migrate("ACTION=rollback", "STEPS=0", "FORMAT=json")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] is False and result["error"]["type"] == "BadInput"
    assert "STEPS=0 must be from 1 to 1000" in result["error"]["message"]
    assert proc.returncode == exitcodes.BAD_INPUT


def test_a_list_is_a_table_with_counts():
    listed = {
        "ok": True,
        "action": "list",
        "migrations": [
            {"id": "0001", "name": "create_users", "state": "applied",
             "applied_at": "2026-12-07T10:00:00+00:00", "duration_ms": 3, "contract": False,
             "transactional": True, "reversible": True},
            {"id": "0007", "name": "contract_users", "state": "pending", "applied_at": None,
             "duration_ms": None, "contract": True, "transactional": True, "reversible": False},
        ],
        "counts": {"applied": 1, "baselined": 0, "pending": 1, "changed": 0, "missing_from_code": 0},
    }  # fmt: skip
    text = results.render(listed)
    lines = text.splitlines()
    assert lines[0].split() == ["id", "name", "state", "applied", "at", "(UTC)", "took", "notes"]
    assert lines[2].split()[:5] == ["0001", "create_users", "applied", "2026-12-07", "10:00:00"]
    assert "contract, irreversible" in lines[3]
    assert lines[-1] == "1 applied, 1 pending"
    assert "{" not in text


def test_sql_rows_are_a_table_and_truncation_is_said():
    text = results.render(
        {
            "ok": True,
            "action": "sql",
            "columns": [{"name": "count", "type": "int8"}],
            "rows": [[0]],
            "row_count": 1,
            "truncated": True,
            "truncated_reason": "row limit 1",
            "role": "migrator_sql_reader",
        }
    )
    assert text.splitlines() == [
        "count",
        "-----",
        "0",
        "(1 row; truncated: row limit 1; as migrator_sql_reader)",
    ]


def test_an_error_is_one_line_in_make_terms_with_partial_progress_after_it():
    text = results.render_error(
        {
            "ok": False,
            "action": "migrate",
            "error": {
                "type": "ContractRefused",
                "message": "run again with allow_contract: true; run the list action to see ids",
            },
            "applied": [{"id": "0004", "name": "add", "duration_ms": 2}],
        }
    )
    assert text.splitlines() == [
        "error (ContractRefused): run again with ALLOW_CONTRACT=1; run `make migrate ACTION=list` to see ids",
        "  applied 0004 add (2 ms)",
    ]


def test_a_result_of_an_unknown_shape_still_reads_as_text():
    # Actions added later (and fields added to known ones) render generically, never as a JSON dump.
    text = results.render(
        {
            "ok": True,
            "action": "check",
            "compatibility": {"ok": True, "checked": 3},
            "nothing": None,
            "ids": ["a"],
        }
    )
    assert text.splitlines() == ["compatibility: ok=yes, checked=3", "ids: a"]


@pytest.mark.parametrize(
    ("error_type", "code"),
    [
        (None, 0),
        ("InvalidEvent", 2),
        ("UnknownTarget", 2),
        ("UnsafeSQL", 3),
        ("ContractRefused", 3),
        ("MigrationFailed", 1),
        ("DatabaseUnavailable", 1),
    ],
)
def test_exit_codes_tell_bad_input_from_a_refusal_from_a_failure(error_type, code):
    assert exitcodes.for_migrator_error(error_type) == code


def test_a_report_reads_like_sql_with_its_description_and_note():
    text = results.render(
        {
            "ok": True,
            "action": "report",
            "report": "locks",
            "description": "who blocks whom",
            "note": "other roles' query text is not shown",
            "columns": [{"name": "pid"}, {"name": "mode"}],
            "rows": [[42, "AccessExclusiveLock"]],
            "row_count": 1,
        }
    )
    assert text.splitlines() == [
        "locks: who blocks whom",
        "pid  mode",
        "---  -------------------",
        "42   AccessExclusiveLock",
        "(1 row)",
        "note: other roles' query text is not shown",
    ]


@pytest.mark.parametrize(
    ("summary", "code"),
    [
        ({"ok": True, "outcome": "completed"}, 0),
        ({"ok": True, "outcome": "rolled_back"}, 0),  # make rollback did what it was asked
        ({"ok": False, "outcome": "rolled_back"}, 4),  # a release that rolled back on an alarm
        ({"ok": False, "outcome": "inconclusive"}, 5),
        ({"ok": False, "outcome": "stopped"}, 3),
        ({"ok": False, "outcome": "interrupted"}, 130),
        ({"ok": False, "outcome": "something else"}, 1),
    ],
)
def test_a_release_summary_s_exit_code_follows_its_outcome(summary, code):
    assert exitcodes.for_summary(summary) == code


def make_release(*variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "DATABASE_URL", "AWS_"))}
    env["PYTHONPATH"] = f"{REPO / 'lambda'}{os.pathsep}{REPO}"
    env.update({f"KIT_{v.split('=', 1)[0]}": v.split("=", 1)[1] for v in variables})
    env["RELEASE_KIT_LOCAL_DIR"] = "/nonexistent/release-kit-test"  # nothing past validation may run
    return subprocess.run(
        [sys.executable, "-m", "scripts.release.rollout", "release"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )


def test_make_release_checks_every_variable_before_the_state_the_lock_or_terraform():
    # The state (green already live, a release under way) is never reached: the bad values are what it says.
    proc = make_release("COLOR=purple", "STEPS=abc", "BAKE=-5", "MIN_REQUESTS=many", "ENV=prod")
    assert proc.returncode == exitcodes.BAD_INPUT, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 5, proc.stderr
    expected = ("ENV=prod", "COLOR must be", "STEPS must be whole", "BAKE must be", "MIN_REQUESTS must be")
    for fragment in expected:
        assert any(fragment in e for e in errors), (fragment, errors)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["ok"] is False and summary["outcome"] == "refused" and summary["exit_code"] == 2


def test_a_baselines_warnings_are_printed_one_per_line():
    from scripts.release.results import render

    text = render(
        {
            "action": "baseline",
            "ok": True,
            "baselined": [{"id": "1", "name": "a"}],
            "warnings": ["golang-migrate records only its last version (3)"],
        }
    )
    assert text.splitlines()[-1] == "warning: golang-migrate records only its last version (3)"


def test_a_migrate_result_renders_roles_and_compatibility_as_lines_not_json():
    # The probe (P15): `roles: group={"name": "app", ... "login": tr…` was a JSON blob cut at 60 characters.
    text = results.render(
        {
            "ok": True,
            "action": "migrate",
            "dry_run": False,
            "applied": [{"id": "0007", "name": "contract_users_display_name", "duration_ms": 1}],
            "roles": {
                "group": {"name": "app", "created": False, "login": False},
                "colors": {
                    "blue": {"name": "app_blue", "created": False, "login": True, "password": "unchanged"},
                    "green": {"name": "app_green", "created": True, "login": True, "password": "set"},
                },
                "tables": 3,
                "ddl_refused": True,
            },
            "roles_recorded": ["app_blue", "app_green"],
            "compatibility": {
                "ok": True,
                "checked": 14,
                "inconclusive": 0,
                "broken": [],
                "serving": ["green"],
            },
        }
    )
    assert "{" not in text and "…" not in text and '"' not in text
    lines = text.splitlines()
    assert lines[0] == "  applied 0007 contract_users_display_name (1 ms)"
    assert "roles:" in lines
    assert "  group: name=app, created=no, login=no" in lines
    assert "    blue: name=app_blue, created=no, login=yes, password=unchanged" in lines
    assert "    green: name=app_green, created=yes, login=yes, password=set" in lines
    assert "  tables: 3" in lines and "  ddl_refused: yes" in lines
    assert "compatibility: ok=yes, checked=14, inconclusive=0, broken=none, serving=green" in lines


def test_a_nested_list_of_objects_is_an_indented_table():
    text = results.render(
        {
            "ok": True,
            "action": "check",
            "compatibility": {"ok": False, "broken": [{"color": "blue", "migration": "0004", "error": "x"}]},
        }
    )
    assert text.splitlines() == [
        "compatibility:",
        "  ok: no",
        "  broken:",
        "    color  migration  error",
        "    -----  ---------  -----",
        "    blue   0004       x",
    ]
