"""The incident path's decisions, on API shapes: what really runs (ECS deployments, target health), the
traffic module's health rule the break-glass path writes, the bake's rules (traffic, length), the contract
evidence, and what a journal that cannot be written does to a forward step.

moto cannot show an ECS deployment circuit breaker at work (it runs no tasks, so nothing fails to start), so
the ECS decisions are tested on DescribeServices answers in ``recorded/``, shaped field for field as the ECS
API reference documents Service and Deployment. Their event messages are illustrative: AWS does not document
that text, and the decision does not depend on it (without it, the check still fails and names both causes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from scripts.release import bake, breakglass, contract, journal, rollout, verify
from scripts.release.verify import FAIL, PASS, SKIP

RECORDED = Path(__file__).parent / "recorded"
TERRAFORMS_7 = "arn:aws:ecs:eu-west-1:111122223333:task-definition/release-kit-production-green:7"
TERRAFORMS_8 = "arn:aws:ecs:eu-west-1:111122223333:task-definition/release-kit-production-green:8"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


def statuses(checks) -> list[str]:
    return [check.status for check in checks]


# ------------------------------------------------------------------------------------ what really runs


def test_one_completed_primary_deployment_of_terraforms_task_definition_passes() -> None:
    assert statuses(verify.deployment_checks(recorded("ecs_steady"), TERRAFORMS_7)) == [PASS, PASS]


def test_a_deployment_in_progress_is_not_done() -> None:
    rollout_check, definition = verify.deployment_checks(recorded("ecs_in_progress"), TERRAFORMS_8)
    assert rollout_check.status == FAIL and "2 deployment(s)" in rollout_check.detail
    assert "IN_PROGRESS" in rollout_check.detail
    assert definition.status == PASS  # the PRIMARY already runs Terraform's :8


def test_a_circuit_breaker_rolling_back_is_named_as_a_revert() -> None:
    checks = verify.deployment_checks(recorded("ecs_circuit_breaker_rolling_back"), TERRAFORMS_8)
    assert statuses(checks) == [FAIL, FAIL]
    detail = checks[1].detail
    assert "circuit breaker reverted release-kit-production-green" in detail
    assert (
        "release-kit-production-green:8 failed (ECS deployment circuit breaker: tasks failed to start.)"
        in detail
    )
    assert "went back to release-kit-production-green:7" in detail


def test_a_finished_revert_fails_on_the_task_definition_and_names_the_circuit_breaker() -> None:
    service = recorded("ecs_circuit_breaker_rolled_back")
    checks = verify.deployment_checks(service, TERRAFORMS_8)
    assert statuses(checks) == [PASS, FAIL]  # one COMPLETED PRIMARY... of the previous release
    assert "not Terraform's release-kit-production-green:8" in checks[1].detail
    assert "circuit breaker reverted it" in checks[1].detail
    # Without the event text, the check still fails, naming both possible causes
    service["events"] = []
    detail = verify.deployment_checks(service, TERRAFORMS_8)[1].detail
    assert "circuit breaker reverted it or it was changed outside Terraform" in detail


def test_healthy_targets_must_equal_the_desired_count(monkeypatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert verify.target_check(["healthy", "healthy"], 2).status == PASS
    assert verify.target_check(["healthy", "unhealthy"], 2).status == FAIL
    assert verify.target_check(["healthy", "healthy", "healthy"], 2).status == FAIL  # leftovers
    assert verify.target_check([], 2).status == FAIL
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert verify.target_check([], 2).status == SKIP  # the local default registers no targets


# ------------------------------------------------------------------------------------ the way back


@pytest.mark.parametrize(
    ("weights", "idle_failover", "expected"),
    [
        ({"blue": 100, "green": 0}, False, {"blue": False, "green": False}),
        ({"blue": 90, "green": 10}, False, {"blue": True, "green": True}),
        ({"blue": 0, "green": 100}, True, {"blue": True, "green": True}),
        ({"blue": 100}, False, {"blue": True}),
    ],
)
def test_the_break_glass_records_follow_the_traffic_modules_health_rule(weights, idle_failover, expected):
    # modules/traffic: no record evaluates health while any has weight 0, unless idle failover is on
    assert breakglass.evaluate_target_health(weights, idle_failover) == expected


class FakeRoute53:
    """Stands in for Route 53 answering PriorRequestNotComplete (moto never does: it has no pending
    changes), to show the way back waits for a change already under way instead of giving up."""

    def __init__(self, refusals: int, code: str = "PriorRequestNotComplete") -> None:
        self.refusals = refusals
        self.code = code
        self.calls = 0

    def change_resource_record_sets(self, **_kwargs) -> dict:
        self.calls += 1
        if self.calls <= self.refusals:
            raise ClientError({"Error": {"Code": self.code, "Message": "still processing"}}, "Change")
        return {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING"}}


def test_a_pending_change_to_the_zone_is_waited_out_and_a_real_refusal_is_not(monkeypatch) -> None:
    monkeypatch.setattr(breakglass.time, "sleep", lambda _s: None)
    busy = FakeRoute53(refusals=3)
    assert breakglass._change(busy, "Z1", []) == "/change/C1" and busy.calls == 4
    with pytest.raises(breakglass.BreakGlassError, match="InvalidChangeBatch"):
        breakglass._change(FakeRoute53(refusals=1, code="InvalidChangeBatch"), "Z1", [])


# ------------------------------------------------------------------------------------ the bake's rules


def test_min_requests_defaults_to_200_and_takes_whole_numbers() -> None:
    assert bake.min_requests(None, "production") == 200 and bake.min_requests("", "staging") == 200
    # the local default runs no load balancer: no request can reach a colour there
    assert bake.min_requests(None, "local") == 0 and bake.min_requests("200", "local") == 200
    assert bake.min_requests("0", "production") == 0 and bake.min_requests("1000", "production") == 1000
    with pytest.raises(rollout.ReleaseError, match="MIN_REQUESTS=200"):
        bake.min_requests("-5", "production")


# DescribeAlarms' shape for the stack's 5xx-rate alarm (metric math: each metric has its own period)
METRIC_MATH_ALARM = {
    "AlarmName": "release-kit-production-green-target-5xx-rate",
    "EvaluationPeriods": 3,
    "Metrics": [
        {"Id": "rate", "Expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"},
        {"Id": "errors", "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {}}},
        {"Id": "requests", "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {}}},
    ],
}
SIMPLE_ALARM = {
    "AlarmName": "release-kit-production-green-p99-response-time",
    "Period": 300,
    "EvaluationPeriods": 2,
}


def test_an_alarm_window_is_its_period_times_its_evaluation_periods() -> None:
    from scripts.release import observe

    assert observe.alarm_window_seconds(METRIC_MATH_ALARM) == 180
    assert observe.alarm_window_seconds(SIMPLE_ALARM) == 600


class FakeSession:
    """DescribeAlarms answering the two shapes above (moto would do, but the rule applies only on AWS)."""

    def client(self, _name: str):
        return self

    def describe_alarms(self, **_kwargs) -> dict:
        return {"MetricAlarms": [METRIC_MATH_ALARM, SIMPLE_ALARM]}


def test_on_aws_a_bake_shorter_than_the_alarm_window_plus_the_ttl_is_refused(monkeypatch) -> None:
    names = [METRIC_MATH_ALARM["AlarmName"], SIMPLE_ALARM["AlarmName"]]
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(rollout.ReleaseError, match=r"BAKE=660 or more, or ALLOW_SHORT_BAKE=1") as refused:
        bake.check_length(FakeSession(), names, 300, allow_short=False)
    assert "p99-response-time (600 s" in str(refused.value) and "record TTL (60 s)" in str(refused.value)
    bake.check_length(FakeSession(), names, 660, allow_short=False)
    bake.check_length(FakeSession(), names, 5, allow_short=True)  # overridden, on purpose
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    bake.check_length(FakeSession(), names, 5, allow_short=False)  # the local default has no metrics pipeline


# ------------------------------------------------------------------------------------ evidence and journal


def test_a_missing_record_or_a_live_colour_not_running_terraforms_deployment_is_not_retired() -> None:
    assert contract.Evidence("green", "blue", 0, 0, 0).retired
    missing = contract.Evidence("green", "blue", None, 0, 0)
    assert not missing.retired and "no record in Route 53" in missing.describe()
    reverted = contract.Evidence(
        "green", "blue", 0, 0, 0, "task definition: runs green:7, not Terraform's green:8"
    )
    assert not reverted.retired and "green does not run what Terraform deployed" in reverted.describe()


def test_a_journal_write_that_fails_stops_a_forward_step(monkeypatch) -> None:
    def unreachable(*_args, **_kwargs):
        raise journal.JournalError("could not write the journal event to s3://bucket/key: AccessDenied")

    monkeypatch.setattr(journal, "record", unreachable)
    with pytest.raises(rollout.Stopped, match="the journal could not be written, so the release stops"):
        rollout._journal(object(), "step", step=10)
