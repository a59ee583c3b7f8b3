"""Event validation: every refusal case, without any service."""

from __future__ import annotations

import pytest
from migrator.errors import InvalidEvent
from migrator.events import (
    ListRequest,
    MigrateRequest,
    RollbackRequest,
    SeedRequest,
    SqlRequest,
    parse_event,
)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"action": "migrate"}, MigrateRequest()),
        (
            {"action": "migrate", "target": "0003", "dry_run": True},
            MigrateRequest(target="0003", dry_run=True),
        ),
        ({"action": "migrate", "allow_contract": True}, MigrateRequest(allow_contract=True)),
        ({"action": "list"}, ListRequest()),
        ({"action": "rollback", "steps": 1}, RollbackRequest(steps=1)),
        ({"action": "rollback", "steps": 1000}, RollbackRequest(steps=1000)),
        (
            {"action": "rollback", "target": "0001", "dry_run": True},
            RollbackRequest(target="0001", dry_run=True),
        ),
        ({"action": "seed"}, SeedRequest()),
        ({"action": "seed", "allow_production_seed": True}, SeedRequest(allow_production_seed=True)),
        ({"action": "sql", "sql": "SELECT 1"}, SqlRequest(sql="SELECT 1")),
    ],
)
def test_valid_events_become_typed_requests(event, expected):
    assert parse_event(event) == expected


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (None, "must be a JSON object"),
        ([{"action": "list"}], "must be a JSON object"),
        ("list", "must be a JSON object"),
        (42, "must be a JSON object"),
        ({}, 'no "action"'),
        ({"action": "drop"}, "use one of: migrate, list, rollback, seed, sql"),
        ({"action": "MIGRATE"}, "unknown action"),
        ({"action": 1}, "unknown action integer"),
        ({"action": None}, "unknown action null"),
        ({"action": "rollback", "step": 1}, "does not take 'step'"),
        ({"action": "list", "dry_run": True}, "does not take 'dry_run'"),
        ({"action": "migrate", "steps": 1}, "does not take 'steps'"),
        ({"action": "seed", "dry_run": True}, "does not take 'dry_run'"),
        ({"action": "sql", "sql": "SELECT 1", "target": "x"}, "does not take 'target'"),
        ({"action": "rollback"}, 'needs "steps"'),
        ({"action": "rollback", "steps": 1, "target": "0001"}, "not both"),
        ({"action": "rollback", "steps": True}, "not boolean"),
        ({"action": "rollback", "steps": False}, "not boolean"),
        ({"action": "rollback", "steps": "1"}, "not string"),
        ({"action": "rollback", "steps": 1.0}, "not number"),
        ({"action": "rollback", "steps": None}, "not null"),
        ({"action": "rollback", "steps": 0}, "from 1 to 1000"),
        ({"action": "rollback", "steps": -1}, "from 1 to 1000"),
        ({"action": "rollback", "steps": 1001}, "from 1 to 1000"),
        ({"action": "rollback", "steps": 10**30}, "from 1 to 1000"),
        ({"action": "migrate", "dry_run": "yes"}, '"dry_run" must be true or false'),
        ({"action": "migrate", "dry_run": 1}, '"dry_run" must be true or false'),
        ({"action": "migrate", "allow_contract": "true"}, '"allow_contract" must be true or false'),
        ({"action": "seed", "allow_production_seed": 1}, '"allow_production_seed" must be true or false'),
        ({"action": "migrate", "target": 3}, '"target" must be a migration id string'),
        ({"action": "migrate", "target": ""}, "is not a migration id"),
        ({"action": "migrate", "target": "0001; DROP TABLE users"}, "is not a migration id"),
        ({"action": "migrate", "target": "x" * 300}, "is not a migration id"),
        ({"action": "sql"}, 'needs "sql"'),
        ({"action": "sql", "sql": ["SELECT 1"]}, '"sql" must be a string'),
        ({"action": "sql", "sql": "   "}, "is empty"),
        ({"action": "sql", "sql": "SELECT 1 " + "x" * 100_000}, "the limit is"),
    ],
)
def test_refusals_say_what_is_wrong(event, fragment):
    with pytest.raises(InvalidEvent) as refused:
        parse_event(event)
    assert fragment in str(refused.value)


def test_requests_are_frozen():
    request = parse_event({"action": "rollback", "steps": 2})
    with pytest.raises(AttributeError):
        request.steps = 3  # type: ignore[misc]
