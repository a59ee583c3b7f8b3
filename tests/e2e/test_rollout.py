"""`make release`, `make rollback`, `make release-unlock`, `make status`, `make history` and the contract
gate, end to end.

They reuse the stacks test_release_flow.py deployed (one session-wide local default), and run after it, in
this order: every forward traffic step is a real plan and apply on moto (~30 s each), so the scenario is one
story rather than independent tests. Bakes are seconds long. Nothing produces metrics on moto, so the tests
stand in for CloudWatch: they fire alarms with SetAlarmState (what CloudWatch does when a threshold is
crossed) and publish RequestCount datapoints as synthetic traffic (what the ALB publishes under load).

The incident cases inject on moto what an account mid-incident shows: a service scaled by hand, Terraform's
state lock held (a cancelled CI plan), a pending change in the database module, and a task definition changed
under a service (what an ECS circuit-breaker revert leaves). The local default has no RDS instance (moto
serves one per server, and the local default uses its own PostgreSQL), so the pending database change is
drift on the database module's secret; the break-glass path never plans before it moves traffic, so what the
foreign change is does not matter to it, only that it is reported afterwards as a warning.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest
from kit import STATE_BUCKET, Kit

pytestmark = pytest.mark.e2e

BLUE_5XX = "release-kit-local-blue-target-5xx-rate"
GOAL_SECONDS = 60  # issue 15: alarm to weights restored in at most 60 s on the local default


def test_a_bake_without_traffic_is_inconclusive_and_a_release_with_quiet_alarms_completes(kit: Kit) -> None:
    # GIVEN blue live (test_release_flow ends there) and both colours deployed
    assert kit.traffic() == ("blue", 0)
    alarms = json.loads(kit.make("status", "FORMAT=json").stdout)["colours"]["green"]["alarms"]
    assert sorted(alarms) == [
        "release-kit-local-green-p99-response-time",
        "release-kit-local-green-target-5xx-rate",
        "release-kit-local-green-target-connection-errors",
        "release-kit-local-green-unhealthy-hosts",
    ]

    # WHEN green is released while nothing sends it traffic, with the minimum AWS environments default to
    # (the local default needs none: no load balancer runs there)
    proc, summary = kit.release(
        "COLOR=green", "STEPS=10,50,100", "BAKE=2", "AUTO_APPROVE=1", "MIN_REQUESTS=200"
    )

    # THEN the first bake is inconclusive: a pause at 10%, never a pass, and the state waits to bake again
    assert summary["outcome"] == "inconclusive", proc.stderr
    assert "MIN_REQUESTS=200" in summary["reason"] and "fewer than" in summary["reason"]
    assert kit.live_weights() == {"blue": 90, "green": 10}
    assert kit.rollout_state()["index"] == 2 and kit.rollout_state()["steps"][2]["do"] == "bake"
    assert kit.release_lock() is None  # a paused release holds no lock

    # WHEN traffic reaches green and the release is resumed, THEN it completes
    with kit.synthetic_traffic():
        proc, summary = kit.release("AUTO_APPROVE=1")
    assert summary["outcome"] == "completed", proc.stderr
    assert (summary["from"], summary["to"], summary["steps"]) == ("blue", "green", [10, 50, 100])
    assert kit.traffic() == ("green", 0)
    assert kit.live_weights() == {"blue": 0, "green": 100}
    # a bake this short has no whole CloudWatch minute: it counts the minute it began in, and says so
    assert (
        "request(s) in the minute the bake began" in proc.stderr
        and "only the weighted records" in proc.stderr
    )
    assert kit.rollout_state() is None

    # AND a plan of the committed files alone (no COLOR, as the pull-request job runs it) changes nothing
    kit.make("plan")
    assert kit.review()["color"] == "green" and kit.review()["changes"] == []

    # AND the journal has each step's weights and plan hash, and the outcomes
    release_id = None
    steps = []
    for event in kit.journal():
        if event["kind"] == "step" and event["to"] == "green":
            steps.append(event)
            release_id = event["release"]
    steps = [e for e in steps if e["release"] == release_id]
    assert [e["weights_after"] for e in steps] == [
        {"blue": 90, "green": 10},
        {"blue": 50, "green": 50},
        {"blue": 0, "green": 100},
    ]
    assert all(len(e["plan_sha256"]) == 64 and e["who"].startswith("arn:aws:") for e in steps)
    assert steps[0]["images"]["green"] == "public.ecr.aws/nginx/nginx:1.27"
    outcomes = [e["outcome"] for e in kit.journal() if e["kind"] == "release" and e["release"] == release_id]
    assert outcomes == ["started", "inconclusive", "completed"]


def _scale_by_hand(kit: Kit):
    """Manual scaling during the incident: blue's desired count changed outside Terraform."""
    ecs = kit.boto("ecs")
    ecs.update_service(cluster="release-kit-local-blue", service="release-kit-local-blue", desiredCount=2)
    return lambda: ecs.update_service(
        cluster="release-kit-local-blue", service="release-kit-local-blue", desiredCount=1
    )


def _inject_ecs_drift(kit: Kit):
    """What an ECS circuit-breaker revert leaves: the service runs a task definition Terraform did not set."""
    ecs = kit.boto("ecs")
    service = ecs.describe_services(cluster="release-kit-local-blue", services=["release-kit-local-blue"])
    terraforms = service["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=terraforms)["taskDefinition"]
    keep = ("family", "containerDefinitions", "networkMode", "requiresCompatibilities", "cpu", "memory")
    other = ecs.register_task_definition(**{k: definition[k] for k in keep if k in definition})
    ecs.update_service(
        cluster="release-kit-local-blue",
        service="release-kit-local-blue",
        taskDefinition=other["taskDefinition"]["taskDefinitionArn"],
    )
    return lambda: ecs.update_service(
        cluster="release-kit-local-blue", service="release-kit-local-blue", taskDefinition=terraforms
    )


def _hold_the_state_lock(kit: Kit):
    """Terraform's S3 lock file, as a plan cancelled in CI leaves it."""
    s3 = kit.boto("s3")
    info = {"ID": "5f3e", "Operation": "OperationTypePlan", "Who": "runner@ci", "Version": "1.11.4"}
    s3.put_object(Bucket=STATE_BUCKET, Key="local/terraform.tfstate.tflock", Body=json.dumps(info).encode())
    return lambda: s3.delete_object(Bucket=STATE_BUCKET, Key="local/terraform.tfstate.tflock")


def _pend_a_database_change(kit: Kit):
    """A pending change in the database module (see the module docstring: a secret's drift stands in)."""
    secrets = kit.boto("secretsmanager")
    arn = kit.outputs()["migrator_secret_arn"]
    original = secrets.describe_secret(SecretId=arn)["Description"]
    secrets.update_secret(SecretId=arn, Description="changed by hand during the incident")
    return lambda: secrets.update_secret(SecretId=arn, Description=original)


@pytest.mark.parametrize(
    ("fault", "inject", "warned"),
    [
        ("ecs service drift", _scale_by_hand, "module.blue.aws_ecs_service.this[0] (update)"),
        ("state lock held", _hold_the_state_lock, "Error acquiring the state lock"),
        (
            "database change pending",
            _pend_a_database_change,
            "module.database.aws_secretsmanager_secret.this[0]",
        ),
    ],
)
def test_an_alarm_rolls_back_through_the_break_glass_path_whatever_the_incident_did(
    kit: Kit, fault, inject, warned
) -> None:
    # GIVEN green live, a release to blue baking at 20%, and the incident's side effect injected meanwhile
    cloudwatch = kit.boto("cloudwatch")
    with kit.synthetic_traffic():
        proc = kit.start("release", "COLOR=blue", "STEPS=20,100", "BAKE=60", "AUTO_APPROVE=1")
        undo = None
        try:
            kit.wait_for_step(proc, 2)  # verify, weight 20 done: baking
            assert kit.live_weights() == {"blue": 20, "green": 80}
            undo = inject(kit)
            if fault == "state lock held":
                # ... and a second operator's `make release` is refused by the release lock, naming its holder
                other = kit.other_checkout("second-operator").make("release", "COLOR=blue", check=False)
                refusal = Kit.summary(other.stdout)["reason"]
                assert other.returncode != 0 and "release lock" in refusal and "since 20" in refusal, refusal
                assert f"pid {kit.release_lock()['pid']}" in refusal

            # WHEN blue's 5xx alarm fires
            fired = time.monotonic()
            cloudwatch.set_alarm_state(
                AlarmName=BLUE_5XX, StateValue="ALARM", StateReason="e2e: 5xx rate 40%"
            )
            restored_after = kit.wait_for_weights({"blue": 0, "green": 100}, timeout=GOAL_SECONDS * 2)
            stdout, stderr = proc.communicate(timeout=240)
            finished_after = time.monotonic() - fired
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            cloudwatch.set_alarm_state(AlarmName=BLUE_5XX, StateValue="OK", StateReason="e2e: reset")
            if undo:
                undo()
    print(
        f"\n[rollback timing] {fault}: alarm -> weights restored in {restored_after:.1f}s "
        f"(command done {finished_after:.1f}s after the alarm)",
        file=sys.stderr,
    )

    # THEN the weights are back within the goal, by the break-glass path, and the foreign change is a warning
    assert restored_after <= GOAL_SECONDS
    summary = kit.summary(stdout)
    assert proc.returncode != 0, stderr
    assert summary["outcome"] == "rolled_back" and summary["ok"] is False, stderr
    assert summary["alarm"] == BLUE_5XX and BLUE_5XX in summary["reason"]
    assert "break-glass" in stderr and "no plan, no state lock" in stderr
    assert any(warned in warning for warning in summary["warnings"]), summary["warnings"]
    assert kit.traffic() == ("green", 0)
    assert kit.rollout_state() is None

    # AND the journal records the rollback with the alarm that caused it
    rollback = [e for e in kit.journal() if e["kind"] == "rollback"][-1]
    assert rollback["alarm"] == BLUE_5XX and rollback["route53_change"]
    assert rollback["weights_before"] == {"blue": 20, "green": 80}
    assert rollback["weights_after"] == {"blue": 0, "green": 100}

    # AND once the lock is free, a plan of the committed files changes nothing: the records Route 53 got are
    # exactly what Terraform would write (weights and target-health evaluation alike), even though the state
    # was not reconciled (the same batch serves every case, so one plan proves it for all three)
    if fault == "state lock held":
        kit.make("plan")
        assert kit.review()["changes"] == [], kit.review()


def test_a_plan_that_changes_more_than_traffic_stops_before_applying(kit: Kit) -> None:
    # GIVEN a change besides traffic in the env tfvars (a pull request that also changed logs)
    original = kit.tfvars.read_text()
    kit.tfvars.write_text(original.replace("log_retention_days = 1", "log_retention_days = 3"))
    try:
        # WHEN a release is started
        _, summary = kit.release("COLOR=blue", "STEPS=100", "BAKE=0", "AUTO_APPROVE=1")
    finally:
        written = kit.tfvars.read_text()
        kit.tfvars.write_text(original)

    # THEN it stops before applying anything, names what else would change, and the file is put back
    assert summary["outcome"] == "stopped"
    assert "aws_cloudwatch_log_group" in summary["reason"] and "make plan" in summary["reason"]
    assert written == original.replace("log_retention_days = 1", "log_retention_days = 3")
    assert kit.live_weights() == {"blue": 0, "green": 100}
    kit.make("rollback", check=False)  # the stopped release's state: nothing was moved, undo is a no-op
    assert kit.rollout_state() is None


def _wait_for_the_lock(kit: Kit, holder: Kit, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lock = kit.release_lock()
        if lock and lock["workdir"] == str(holder.local_dir):
            return
        time.sleep(0.3)
    pytest.fail(f"{holder.local_dir} did not take the release lock within {timeout}s")


def test_a_killed_release_resumes_elsewhere_stops_on_a_revert_is_undone_anywhere_and_the_contract_gate_waits(
    kit: Kit,
) -> None:
    # GIVEN a release to blue killed (kill -9: no cleanup at all) while baking at 10%
    proc = kit.start("release", "COLOR=blue", "STEPS=10,100", "BAKE=120", "AUTO_APPROVE=1")
    try:
        kit.wait_for_step(proc, 2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert kit.live_weights() == {"blue": 10, "green": 90}
    assert kit.rollout_state()["index"] == 2
    holder = kit.release_lock()
    assert holder["workdir"] == str(kit.local_dir)

    # THEN status shows the release in progress and the lock, and the three views of the live colour agree
    status = json.loads(kit.make("status", "FORMAT=json").stdout)
    assert status["release_in_progress"]["to"] == "blue"
    assert status["release_lock"]["pid"] == holder["pid"]
    assert status["live_color"] == {"repository": "green", "state": "green"}
    assert status["traffic"] == "green live, blue canary at 10%"
    assert status["weights"]["route53"] == {"blue": 10, "green": 90}
    assert status["problems"] == []
    text = kit.make("status").stdout
    assert "in progress" in text and "release lock" in text and "DISAGREE" not in text

    # AND a contract migration is refused while blue takes 10% (evidence: Route 53), even with ALLOW_CONTRACT
    refused = kit.migrate(ACTION="migrate", ALLOW_CONTRACT="1")
    assert refused["error"]["type"] == "ContractGateError", refused
    assert "weight 10" in refused["error"]["message"] and "FORCE_CONTRACT=1" in refused["error"]["message"]

    # WHEN another operator resumes it from another checkout, THEN the stale lock refuses, naming who, since
    other = kit.other_checkout("resume")
    _, summary = other.release("BAKE=1")
    assert summary["outcome"] == "refused" and summary["exit_code"] == 3 and "since 20" in summary["reason"]
    assert str(kit.local_dir) in summary["reason"] and "make release-unlock" in summary["reason"]

    # WHEN the lock is broken explicitly, THEN the break is journalled, and the release resumes there
    unlocked = other.make("release-unlock")
    assert Kit.summary(unlocked.stdout)["holder"]["pid"] == holder["pid"]
    broken = [e for e in kit.journal() if e["kind"] == "lock"][-1]
    assert broken["outcome"] == "broken" and broken["holder"]["pid"] == holder["pid"]
    resumed = other.start("release", "BAKE=60")
    undo = None
    try:
        _wait_for_the_lock(kit, other)
        # ... and while it bakes, ECS reverts blue's deployment (a circuit breaker: another task definition)
        undo = _inject_ecs_drift(kit)
        stdout, stderr = resumed.communicate(timeout=120)

        # THEN the resumed release stops, naming the revert; traffic stays (a stop, not a rollback)
        summary = Kit.summary(stdout)
        assert "resuming release" in stderr and summary["outcome"] == "stopped", stderr
        assert "circuit breaker" in summary["reason"], summary
        assert "not Terraform's release-kit-local-blue:" in summary["reason"]
        assert kit.live_weights() == {"blue": 10, "green": 90}

        # AND `make rollback` on the first machine, with the revert still there, undoes the release the second
        # one ran: all traffic back to the previous colour at once, the drift only a warning
        rolled = kit.make("rollback")
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
        if undo:
            undo()
    result = kit.summary(rolled.stdout)
    assert result["outcome"] == "rolled_back" and result["to"] == "green"
    assert any("aws_ecs_service" in warning for warning in result["warnings"]), result["warnings"]
    assert kit.live_weights() == {"blue": 0, "green": 100}
    assert kit.traffic() == ("green", 0) and kit.rollout_state() is None

    # WHEN blue has no traffic but still runs a task, THEN the contract step is still refused
    still_running = kit.migrate(ACTION="migrate", ALLOW_CONTRACT="1")
    assert still_running["error"]["type"] == "ContractGateError"
    assert "runs 1 task(s)" in still_running["error"]["message"]

    # WHEN it is drained (desired_count 0, applied like any change), THEN the contract step runs
    overlay = kit.local_dir / "drain-blue.tfvars"
    overlay.write_text(
        'blue = { enabled = true, image = "public.ecr.aws/nginx/nginx:1.27", container_port = 80, '
        "desired_count = 0, health_check_grace_period_seconds = 0, readonly_root_filesystem = false }\n"
    )
    kit.make("plan", f"VAR_FILE={overlay}")
    kit.make("apply", f"VAR_FILE={overlay}")
    # ... but while a session of blue's own database role is still open (a pool that did not let go), the
    # database says blue is not gone
    with kit.app_connection("blue"):
        held = kit.migrate(ACTION="migrate", ALLOW_CONTRACT="1")
    assert held["error"]["type"] == "ContractGateError", held
    assert "app_blue has 1 open session(s)" in held["error"]["message"]
    allowed = kit.migrate(ACTION="migrate", ALLOW_CONTRACT="1")
    assert allowed["ok"] is True, allowed
    assert "0007" in [m["id"] if isinstance(m, dict) else m for m in allowed["applied"]]
    # ... checked against the live colour alone: blue is gone
    assert allowed["compatibility"]["serving"] == ["green"]
    assert any(e["kind"] == "migration" and "0007" in e.get("migrations", []) for e in kit.journal())


def test_history_prints_the_journal(kit: Kit) -> None:
    text = kit.make("history").stdout.splitlines()
    kinds = {line.split()[1] for line in text}
    assert {"step", "rollback", "release", "migration", "switch", "lock"} <= kinds
    assert any("alarm=" + BLUE_5XX in line for line in text)
