"""cli.event_from_env: KIT_* variables to the event, byte for byte."""

from __future__ import annotations

import pytest
from migrator.cli import event_from_env
from migrator.errors import InvalidEvent
from migrator.events import RollbackRequest, parse_event


def test_empty_values_mean_not_given():
    env = {
        k: ""
        for k in (
            "KIT_ACTION",
            "KIT_STEPS",
            "KIT_TARGET",
            "KIT_SQL",
            "KIT_DRY_RUN",
            "KIT_ALLOW_CONTRACT",
            "KIT_ALLOW_PRODUCTION_SEED",
        )
    }
    assert event_from_env({**env, "KIT_ACTION": "list"}) == {"action": "list"}
    assert event_from_env({}) == {}


def test_rollback_steps_become_an_int():
    event = event_from_env({"KIT_ACTION": "rollback", "KIT_STEPS": "2", "KIT_DRY_RUN": "1"})
    assert event == {"action": "rollback", "steps": 2, "dry_run": True}
    assert parse_event(event) == RollbackRequest(steps=2, dry_run=True)


@pytest.mark.parametrize("raw", ["two", "1.5", "2x", " ", "0x10"])
def test_non_integer_steps_pass_through_for_the_handler_to_refuse(raw):
    event = event_from_env({"KIT_ACTION": "rollback", "KIT_STEPS": raw})
    assert event["steps"] == raw
    with pytest.raises(InvalidEvent, match='"steps" must be a whole number'):
        parse_event(event)


@pytest.mark.parametrize("raw", ["-1", "0", "99999"])
def test_out_of_range_steps_are_refused_by_the_handler(raw):
    with pytest.raises(InvalidEvent, match="from 1 to 1000"):
        parse_event(event_from_env({"KIT_ACTION": "rollback", "KIT_STEPS": raw}))


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("YES", True), ("yes", True)])
def test_flags_accept_1_true_yes(raw, value):
    event = event_from_env({"KIT_ACTION": "migrate", "KIT_DRY_RUN": raw, "KIT_ALLOW_CONTRACT": raw})
    assert event == {"action": "migrate", "dry_run": value, "allow_contract": value}
    seed = event_from_env({"KIT_ACTION": "seed", "KIT_ALLOW_PRODUCTION_SEED": raw})
    assert seed == {"action": "seed", "allow_production_seed": True}


@pytest.mark.parametrize("raw", ["0", "false", "no"])
def test_false_flags_are_left_out(raw):
    assert event_from_env({"KIT_ACTION": "list", "KIT_DRY_RUN": raw}) == {"action": "list"}


def test_an_unrecognised_flag_value_is_refused_by_name():
    event = event_from_env({"KIT_ACTION": "migrate", "KIT_DRY_RUN": "maybe"})
    with pytest.raises(InvalidEvent, match='"dry_run"'):
        parse_event(event)


def test_sql_arrives_byte_for_byte():
    nasty = "SELECT 'it''s; $HOME `id` $(rm -rf /)'\n  , \"Quoted\" -- ;\n\tFROM users;"
    assert event_from_env({"KIT_ACTION": "sql", "KIT_SQL": nasty}) == {"action": "sql", "sql": nasty}


def test_target_is_passed_as_a_string():
    assert event_from_env({"KIT_ACTION": "migrate", "KIT_TARGET": "0003"}) == {
        "action": "migrate",
        "target": "0003",
    }


def test_sql_file_reads_a_path_or_standard_input(tmp_path):
    import io

    query = tmp_path / "report.sql"
    query.write_text("SELECT 'a;b' AS x\n-- a comment\n")
    assert event_from_env({"KIT_ACTION": "sql", "KIT_SQL_FILE": str(query)}) == {
        "action": "sql",
        "sql": "SELECT 'a;b' AS x\n-- a comment\n",
    }
    stdin = io.StringIO("SELECT 1")
    assert event_from_env({"KIT_ACTION": "sql", "KIT_SQL_FILE": "-"}, stdin=stdin)["sql"] == "SELECT 1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KIT_SQL_FILE": "/nonexistent/q.sql"}, "no such file"),
        ({"KIT_SQL_FILE": "/"}, "is a directory"),
        ({"KIT_SQL_FILE": "-", "KIT_SQL": "SELECT 1"}, "not both"),
    ],
)
def test_sql_file_problems_are_invalid_events(env, message):
    with pytest.raises(InvalidEvent, match=message):
        event_from_env({"KIT_ACTION": "sql", **env})


def test_baseline_takes_target_and_dry_run():
    from migrator.events import BaselineRequest

    event = event_from_env({"KIT_ACTION": "baseline", "KIT_TARGET": "0004", "KIT_DRY_RUN": "1"})
    assert parse_event(event) == BaselineRequest(target="0004", dry_run=True)
