"""A bake: watch the new colour with real traffic on it, and judge it with three outcomes, not two.

    rolled back   an alarm of the target colour fired (AlarmFired): the release returns the weights
    stopped       the target colour no longer runs what Terraform deployed (an ECS circuit-breaker revert,
                  a deployment that is not the one COMPLETED PRIMARY, fewer healthy targets than tasks), or
                  the bake went blind (alarms unreadable three times in a row)
    inconclusive  the bake passed but saw fewer than MIN_REQUESTS requests to the target colour: too little
                  to judge, so the release pauses without advancing, as Argo Rollouts does with an
                  inconclusive analysis; `make release` bakes again. It is never a pass.

On AWS a bake may not be shorter than the target's alarm window (period x evaluation periods) plus the
record TTL (60 s for an alias to an ALB): shorter, and an alarm could not fire before the next step moves
more traffic. ALLOW_SHORT_BAKE=1 overrides. The local default has no metrics pipeline (alarms change state
only when a test or the demo sets them), so the rule applies only when no local endpoint is set; and it
runs no load balancer, so there MIN_REQUESTS defaults to 0 (the alarms and the tasks are still judged).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from scripts.release import observe, verify
from scripts.release.environment import LOCAL_ENV, BadInput, ReleaseError, say

if TYPE_CHECKING:
    from boto3.session import Session

    from scripts.release.releasestate import Rollout, Store

DEFAULT_MIN_REQUESTS = 200
# The local default runs no load balancer, so no request ever reaches a colour there: its bakes judge the
# alarms and the tasks, and need no traffic unless MIN_REQUESTS says so (the demo and the tests do).
DEFAULT_MIN_REQUESTS_BY_ENV = {LOCAL_ENV: 0}
# An alias record to an ALB answers with the ALB's own TTL, 60 s (Route 53 developer guide, "Choosing
# between alias and non-alias records"): resolvers may keep the old weights that long after a step.
RECORD_TTL_SECONDS = 60


class Stopped(ReleaseError):
    """The release stopped without rolling back (the state stays for a resume or a rollback)."""

    outcome = "stopped"


class Inconclusive(Stopped):
    """The bake saw too little traffic to judge: a pause, never a pass."""

    outcome = "inconclusive"


class Aborted(ReleaseError):
    """The release state changed under this run: a `make rollback`, or the lock broken and taken elsewhere."""


class AlarmFired(ReleaseError):
    """An alarm of the target colour fired during a bake."""

    def __init__(self, alarm: str, states: dict[str, str], changed_at: float | None = None) -> None:
        super().__init__(f"alarm {alarm} is in ALARM")
        self.alarm = alarm
        self.states = states
        self.detected_at = time.time()
        self.changed_at = changed_at or self.detected_at  # when CloudWatch moved it to ALARM


def on_aws() -> bool:
    """True unless AWS calls go to a local endpoint (the local default's moto server)."""
    return not os.environ.get("AWS_ENDPOINT_URL")


def min_requests(raw: str | None, env: str) -> int:
    """MIN_REQUESTS for a release of ``env``: 200 unless set, and 0 on the local default (no traffic)."""
    if raw is None or not raw.strip():
        return DEFAULT_MIN_REQUESTS_BY_ENV.get(env, DEFAULT_MIN_REQUESTS)
    if not raw.strip().isdigit():
        raise BadInput(
            f"MIN_REQUESTS must be a whole number of requests, e.g. MIN_REQUESTS=200 (got {raw!r})"
        )
    return int(raw)


def check_length(session: Session, alarm_names: list[str], seconds: float, *, allow_short: bool) -> None:
    """On AWS, refuse a bake shorter than the alarm window plus the record TTL (ALLOW_SHORT_BAKE=1
    overrides)."""
    if not on_aws() or allow_short or not alarm_names:
        return
    found = {name: alarm for name, alarm in observe.alarms(session, alarm_names).items() if alarm}
    if not found:
        return
    longest = max(found, key=lambda name: observe.alarm_window_seconds(found[name]))
    window = observe.alarm_window_seconds(found[longest])
    needed = window + RECORD_TTL_SECONDS
    if seconds < needed:
        raise ReleaseError(
            f"BAKE={seconds:g} is shorter than the alarm window of {longest} ({window} s: period x "
            f"evaluation periods) plus the record TTL ({RECORD_TTL_SECONDS} s), so an alarm could not fire "
            f"before the next step moves more traffic. Use BAKE={needed} or more, or ALLOW_SHORT_BAKE=1 if "
            "you know why"
        )


def poll_seconds(bake_seconds: float) -> float:
    return max(1.0, min(15.0, bake_seconds / 10))


def watch(
    session: Session,
    store: Store,
    rollout: Rollout,
    alarms: dict[str, list[str]],
    outputs: dict,
    seconds: float,
    minimum: int,
) -> int:
    """Bake for ``seconds``; return the requests the target colour saw. Raises AlarmFired, Stopped,
    Inconclusive or Aborted."""
    names = alarms.get(rollout.target, []) + alarms.get(rollout.source, [])
    stack = (outputs.get("stacks") or {}).get(rollout.target) or {}
    began = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    warned: set[str] = set()
    failures = 0
    while True:
        try:
            states = observe.alarm_states(session, names)
            if store.changed():
                raise Aborted("the release state changed while baking")
            service = observe.service(session, stack)
            failures = 0
        except (BotoCoreError, ClientError, ReleaseError) as exc:
            if isinstance(exc, Aborted):
                raise
            # One failed poll is a network hiccup; three in a row mean the bake is blind, so it stops
            # (the state stays: `make release` resumes the bake, `make rollback` undoes the release).
            failures += 1
            say(f"    warning: could not watch the bake ({exc})")
            if failures >= 3:
                raise Stopped(f"could not watch the bake three times in a row: {exc}") from exc
            time.sleep(poll_seconds(seconds))
            continue
        missing = [n for n in names if states[n] == "MISSING"]
        if missing:
            raise Stopped(
                f"alarm(s) {', '.join(missing)} do not exist, so the bake watches nothing: apply first"
            )
        firing = [n for n in alarms.get(rollout.target, []) if states[n] == "ALARM"]
        if firing:
            raise AlarmFired(firing[0], states, _changed_at(session, firing[0]))
        if service is not None:
            definition = verify.deployment_checks(service, stack.get("task_definition_arn"))[1]
            if definition.status == verify.FAIL:
                raise Stopped(
                    f"{rollout.target}: {definition.detail}; traffic stays where it is: `make rollback` "
                    "returns it"
                )
        for name in alarms.get(rollout.source, []):
            if states[name] == "ALARM" and name not in warned:
                warned.add(name)
                say(f"    note: {name} ({rollout.source}, the colour traffic leaves) is in ALARM")
        elapsed = time.monotonic() - started
        summary = "  ".join(
            f"{color}: {sum(states[n] == 'OK' for n in watched)}/{len(watched)} OK"
            for color in (rollout.target, rollout.source)
            for watched in [alarms.get(color, [])]
        )
        say(f"    bake {min(elapsed, seconds):4.0f}/{seconds:.0f}s  {summary}")
        if elapsed >= seconds:
            break
        time.sleep(min(poll_seconds(seconds), max(seconds - elapsed, 0.0)))
    return judge(session, rollout, outputs, began, minimum)


def _changed_at(session: Session, name: str) -> float | None:
    """When CloudWatch moved the alarm to its state (StateUpdatedTimestamp), to time the way back from it."""
    try:
        alarm = observe.alarms(session, [name]).get(name) or {}
    except (BotoCoreError, ClientError):
        return None
    stamp = alarm.get("StateUpdatedTimestamp")
    return stamp.timestamp() if stamp else None


def judge(session: Session, rollout: Rollout, outputs: dict, began: dt.datetime, minimum: int) -> int:
    """The end of a bake: the target runs what Terraform deployed, and the bake saw enough traffic."""
    verdict = verify.running(rollout.target, outputs, session)
    if not verdict.ok:
        raise Stopped(
            f"{rollout.target} does not run what Terraform deployed after the bake: {verdict.failures()}; "
            "traffic stays where it is: `make rollback` returns it"
        )
    stack = outputs["stacks"][rollout.target]
    alb = observe.alb_arn(session, stack["target_group_arn"])
    ended = dt.datetime.now(dt.UTC)
    requests = observe.request_count(session, alb, began, ended) if alb else 0
    needed = f"{minimum} needed" if minimum else "none needed here: MIN_REQUESTS=0"
    whole = ended - began >= observe.WHOLE_MINUTES_FROM  # else the minute it began, taken whole
    counted = "during the bake" if whole else "in the minute the bake began"
    say(f"    {rollout.target} served {requests} request(s) {counted} (RequestCount, {needed})")
    if requests < minimum:
        raise Inconclusive(
            f"inconclusive: the bake saw {requests} request(s) to {rollout.target}, fewer than "
            f"MIN_REQUESTS={minimum}, too few to judge, so the release did not advance. When traffic reaches "
            f"{rollout.target}, `make release` bakes again (MIN_REQUESTS=0 skips the rule)"
        )
    return requests
