"""`make release`, `make rollback`, `make status`, `make history` and the contract gate, end to end.

They reuse the stacks test_release_flow.py deployed (one session-wide local default), and run after it, in
this order: every traffic step is a real plan and apply on moto (~30 s each), so the scenario is one story
rather than independent tests. Bakes are seconds long; nothing produces metrics on moto, so the test fires
an alarm itself with CloudWatch SetAlarmState, which is what CloudWatch does when a threshold is crossed.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from kit import Kit

pytestmark = pytest.mark.e2e

BLUE_5XX = "release-kit-local-blue-target-5xx-rate"


def test_a_release_with_quiet_alarms_completes(kit: Kit) -> None:
    # GIVEN blue live (test_release_flow ends there) and both colours deployed
    assert kit.traffic() == ("blue", 0)
    alarms = json.loads(kit.make("status", "FORMAT=json").stdout)["colours"]["green"]["alarms"]
    assert sorted(alarms) == [
        "release-kit-local-green-p99-response-time",
        "release-kit-local-green-target-5xx-rate",
        "release-kit-local-green-unhealthy-hosts",
    ]

    # WHEN green is released 10 -> 50 -> 100 with short bakes and quiet alarms
    proc, summary = kit.release("COLOR=green", "STEPS=10,50,100", "BAKE=2", "AUTO_APPROVE=1")

    # THEN it completes, the file says green, and Route 53 answers 0/100
    assert summary["outcome"] == "completed", proc.stderr
    assert (summary["from"], summary["to"], summary["steps"]) == ("blue", "green", [10, 50, 100])
    assert kit.traffic() == ("green", 0)
    assert kit.live_weights() == {"blue": 0, "green": 100}
    assert "bake" in proc.stderr and "only the weighted records" in proc.stderr
    assert kit.rollout_state() is None

    # AND a plan of the committed files alone (no COLOR, as the pull-request job runs it) changes nothing
    kit.make("plan")
    assert kit.review()["color"] == "green" and kit.review()["changes"] == []

    # AND the journal has each step's weights and plan hash, and the outcome
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
    finished = [e for e in kit.journal() if e["kind"] == "release" and e["release"] == release_id]
    assert finished[-1]["outcome"] == "completed"


def test_an_alarm_during_a_bake_rolls_back(kit: Kit) -> None:
    # GIVEN green live, WHEN a release to blue is baking at 20% and blue's 5xx alarm fires
    cloudwatch = kit.boto("cloudwatch")
    proc = kit.start("release", "COLOR=blue", "STEPS=20,100", "BAKE=60", "AUTO_APPROVE=1")
    try:
        kit.wait_for_step(proc, 2)  # verify, weight 20 done: baking
        assert kit.live_weights() == {"blue": 20, "green": 80}
        cloudwatch.set_alarm_state(AlarmName=BLUE_5XX, StateValue="ALARM", StateReason="e2e: 5xx rate 40%")
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        cloudwatch.set_alarm_state(AlarmName=BLUE_5XX, StateValue="OK", StateReason="e2e: reset")

    # THEN it rolls back by itself: the weights return, the exit is non-zero, the summary names the alarm
    summary = kit.summary(stdout)
    assert proc.returncode != 0, stderr
    assert summary["outcome"] == "rolled_back" and summary["ok"] is False
    assert summary["alarm"] == BLUE_5XX and BLUE_5XX in summary["reason"]
    assert kit.live_weights() == {"blue": 0, "green": 100}
    assert kit.traffic() == ("green", 0)
    assert kit.rollout_state() is None

    # AND the journal records the rollback with the alarm that caused it
    rollback = [e for e in kit.journal() if e["kind"] == "rollback"][-1]
    assert rollback["alarm"] == BLUE_5XX
    assert rollback["weights_before"] == {"blue": 20, "green": 80}
    assert rollback["weights_after"] == {"blue": 0, "green": 100}


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


def test_an_interrupted_release_resumes_and_the_contract_gate_uses_evidence(kit: Kit) -> None:
    # GIVEN a release to blue interrupted (Ctrl-C) while baking at 10%
    proc = kit.start("release", "COLOR=blue", "STEPS=10,100", "BAKE=120", "AUTO_APPROVE=1")
    try:
        kit.wait_for_step(proc, 2)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    summary = kit.summary(stdout)
    assert proc.returncode != 0 and summary["outcome"] == "stopped", stderr
    assert "make release` resumes" in summary["reason"]
    assert kit.live_weights() == {"blue": 10, "green": 90}
    assert kit.rollout_state()["index"] == 2

    # THEN status shows the release in progress, and the three views of the live colour agree
    status = json.loads(kit.make("status", "FORMAT=json").stdout)
    assert status["release_in_progress"]["to"] == "blue"
    assert status["live_color"] == {"repository": "green", "state": "green", "route53": "green"}
    assert status["weights"]["route53"] == {"blue": 10, "green": 90}
    assert status["problems"] == []
    text = kit.make("status").stdout
    assert "in progress" in text and "DISAGREE" not in text

    # AND a contract migration is refused while blue takes 10% (evidence: Route 53), even with ALLOW_CONTRACT
    refused = kit.migrate(ACTION="migrate", ALLOW_CONTRACT="1")
    assert refused["error"]["type"] == "ContractGateError", refused
    assert "weight 10" in refused["error"]["message"] and "FORCE_CONTRACT=1" in refused["error"]["message"]

    # WHEN the release is resumed (with a shorter bake), THEN it completes from where it stopped
    resumed, summary = kit.release("BAKE=1")
    assert summary["outcome"] == "completed", resumed.stderr
    assert "resuming release" in resumed.stderr
    assert kit.live_weights() == {"blue": 100, "green": 0}
    assert kit.traffic() == ("blue", 0)

    # AND make rollback returns all traffic to the previous colour at once
    rolled = kit.make("rollback")
    assert kit.summary(rolled.stdout)["to"] == "green"
    assert kit.live_weights() == {"blue": 0, "green": 100}
    assert kit.traffic() == ("green", 0)

    # WHEN blue has no traffic but still runs a task, THEN the contract step is still refused
    still_running = kit.migrate(ACTION="migrate", ALLOW_CONTRACT="1")
    assert still_running["error"]["type"] == "ContractGateError"
    assert "runs 1 task(s)" in still_running["error"]["message"]

    # WHEN it is drained (desired_count 0, applied like any change), THEN the contract step runs
    overlay = kit.local_dir / "drain-blue.tfvars"
    overlay.write_text(
        'blue = { enabled = true, image = "public.ecr.aws/nginx/nginx:1.27", container_port = 80, '
        "desired_count = 0 }\n"
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
    assert {"step", "rollback", "release", "migration", "switch"} <= kinds
    assert any("alarm=" + BLUE_5XX in line for line in text)
