"""The release's data: steps, bakes, the traffic-only plan check, the contract list, journal lines."""

from __future__ import annotations

import pytest

from scripts.release import contract, journal, rollout
from scripts.release.switch import ReleaseError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, [10, 50, 100]), ("", [10, 50, 100]), ("100", [100]), ("5, 25,100", [5, 25, 100])],
)
def test_steps(raw, expected) -> None:
    assert rollout.parse_steps(raw) == expected


@pytest.mark.parametrize("raw", ["10,50", "50,10,100", "0,100", "10,10,100", "ten,100", "10,150"])
def test_bad_steps_are_refused_with_an_example(raw) -> None:
    with pytest.raises(ReleaseError, match="STEPS=10,50,100"):
        rollout.parse_steps(raw)


def test_bakes_are_minutes_on_aws_and_seconds_locally() -> None:
    assert rollout.parse_bake(None, "production") == 600
    assert rollout.parse_bake(None, "local") == 5
    assert rollout.parse_bake("2.5", "production") == 2.5
    with pytest.raises(ReleaseError, match="BAKE must be seconds"):
        rollout.parse_bake("-1", "local")


def test_steps_are_data() -> None:
    assert rollout.build_steps([10, 100], 30, migrate=True) == [
        {"do": "verify"},
        {"do": "migrate"},
        {"do": "weight", "percent": 10},
        {"do": "bake", "seconds": 30},
        {"do": "weight", "percent": 100},
        {"do": "bake", "seconds": 30},
    ]


def _record(color: str, before: int, after: int, **extra) -> dict:
    def values(weight: int) -> dict:
        return {"name": "api.example.test", "weighted_routing_policy": [{"weight": weight}], **extra}

    return {
        "address": f'module.traffic.aws_route53_record.this["{color}"]',
        "mode": "managed",
        "change": {
            "actions": ["update"],
            "before": values(before),
            "after": values(after),
            "after_unknown": {},
        },
    }


def test_a_weight_only_plan_has_no_foreign_changes() -> None:
    # A canary step also switches target-health evaluation on (no colour at weight 0): that is traffic too
    canary = _record("green", 0, 10)
    canary["change"]["before"]["alias"] = [{"name": "green-alb", "evaluate_target_health": False}]
    canary["change"]["after"]["alias"] = [{"name": "green-alb", "evaluate_target_health": True}]
    plan = {
        "resource_changes": [
            _record("blue", 100, 90),
            canary,
            {"address": "data.aws_route53_zone.this", "mode": "data", "change": {"actions": ["read"]}},
            {"address": "module.blue.aws_lb.this[0]", "mode": "managed", "change": {"actions": ["no-op"]}},
        ]
    }
    assert rollout.foreign_changes(plan) == []


def test_anything_else_is_foreign_even_on_a_weighted_record() -> None:
    moved = _record("green", 0, 10)
    moved["change"]["after"]["alias"] = [{"name": "other-alb"}]
    plan = {
        "resource_changes": [
            _record("blue", 100, 90),
            moved,
            {
                "address": "module.blue.aws_cloudwatch_log_group.this[0]",
                "mode": "managed",
                "change": {"actions": ["update"], "before": {}, "after": {}},
            },
        ]
    }
    assert rollout.foreign_changes(plan) == [
        'module.traffic.aws_route53_record.this["green"] (changes alias)',
        "module.blue.aws_cloudwatch_log_group.this[0] (update)",
    ]


def test_pending_contracts_up_to_the_target() -> None:
    listed = {
        "migrations": [
            {"id": "0005", "state": "applied", "contract": False},
            {"id": "0006", "state": "pending", "contract": False},
            {"id": "0007", "state": "pending", "contract": True},
        ]
    }
    assert contract.pending_contracts(listed, None) == ["0007"]
    assert contract.pending_contracts(listed, "0006") == []


def test_evidence_retired_only_without_weight_and_tasks() -> None:
    assert contract.Evidence("green", "blue", 0, 0, 0).retired
    assert not contract.Evidence("green", "blue", 10, 0, 0).retired
    assert not contract.Evidence("green", "blue", 0, 1, 1).retired


def test_a_journal_line_says_who_what_and_the_weights() -> None:
    line = journal.render_line(
        {
            "at": "2026-11-30T05:00:00.000Z",
            "kind": "rollback",
            "outcome": "rolled_back",
            "weights_before": {"blue": 20, "green": 80},
            "weights_after": {"blue": 0, "green": 100},
            "alarm": "x-blue-target-5xx-rate",
            "plan_sha256": "ab" * 32,
            "who": "arn:aws:sts::1:assumed-role/deploy/alice",
        }
    )
    assert line.split()[1:3] == ["rollback", "rolled_back"]
    assert "blue 20 / green 80 -> blue 0 / green 100" in line
    assert "alarm=x-blue-target-5xx-rate" in line and "plan=abababababab" in line
    assert line.endswith("by arn:aws:sts::1:assumed-role/deploy/alice")
