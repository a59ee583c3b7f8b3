"""The baseline event's "from" and "table" (baseline from another tool's state table), and the CLI variables
FROM and TABLE that make migrate passes as KIT_FROM and KIT_TABLE."""

from __future__ import annotations

import pytest
from migrator.cli import event_from_env
from migrator.errors import InvalidEvent
from migrator.events import BaselineRequest, parse_event


def test_from_and_table_become_the_request():
    request = parse_event({"action": "baseline", "from": "flyway", "table": "app.flyway_schema_history"})

    assert request == BaselineRequest(from_tool="flyway", table="app.flyway_schema_history")
    assert parse_event({"action": "baseline", "from": "goose", "dry_run": True}).dry_run is True
    assert parse_event({"action": "baseline", "target": "0004"}) == BaselineRequest(target="0004")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, 'baseline needs "target".*or "from".*golang-migrate, dbmate, flyway, goose'),
        ({"target": "0004", "from": "dbmate"}, 'takes "target" or "from", not both'),
        ({"from": "liquibase"}, "'liquibase' is not a tool baseline reads"),
        ({"from": 3}, '"from" integer is not a tool'),
        ({"table": "schema_migrations"}, 'give "from" too'),
        ({"target": "0004", "table": "t"}, 'give "from" too'),
        ({"from": "dbmate", "table": "x; DROP TABLE users"}, "is not a table name"),
        ({"from": "dbmate", "table": "a.b.c"}, "is not a table name"),
        ({"from": "dbmate", "table": "x" * 64}, "is not a table name"),
    ],
)
def test_bad_baseline_events_are_refused_by_name(event, message):
    with pytest.raises(InvalidEvent, match=message):
        parse_event({"action": "baseline", **event})


def test_make_variables_from_and_table_reach_the_event():
    assert event_from_env(
        {"KIT_ACTION": "baseline", "KIT_FROM": "goose", "KIT_TABLE": "gdb", "KIT_DRY_RUN": "1"}
    ) == {
        "action": "baseline",
        "from": "goose",
        "table": "gdb",
        "dry_run": True,
    }


def test_a_quoted_table_name_is_refused_with_a_hint_that_names_no_made_up_variable():
    from scripts.release.results import in_make_terms

    with pytest.raises(InvalidEvent) as refused:
        parse_event({"action": "baseline", "from": "golang-migrate", "table": 'ops."migrate_State"'})
    shown = in_make_terms(str(refused.value), {"table": 'ops."migrate_State"'})
    assert "SCHEMA_MIGRATIONS=" not in shown and "without its quotes" in shown
