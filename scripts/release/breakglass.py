"""The way back, which nothing may refuse: the weights in one Route 53 change batch, then the truth told.

A forward step is a Terraform plan and apply, checked to touch only traffic, and it stops on any surprise.
The way back cannot work like that: the incident that needs it (an ECS circuit-breaker revert, manual
scaling, a pending RDS change, a cancelled CI plan holding the state lock) is exactly what makes a full plan
refuse or wait. So every rollback, `make rollback` and the automatic one on an alarm:

    1. reads the two weighted records as Route 53 holds them, in the hosted zone named by its ID;
    2. UPSERTs both in one ChangeResourceRecordSets batch (Route 53 applies all of a batch or none), changing
       only their weights and, by the traffic module's own rule, whether they evaluate target health;
    3. waits until GetChange reports INSYNC: every Route 53 name server answers the new weights.
       ---- traffic is back here; what follows records it, and a failure below never undoes it ----
    4. writes the same settings into the env tfvars, the one source of truth (a plan of the committed file
       then changes nothing: tested end to end);
    5. reconciles Terraform's state: `apply -refresh-only` of the two records, waiting at most a few seconds
       for the state lock; when it stays held, a warning says so (every later plan refreshes them anyway);
    6. plans without the lock and reports every other change in it as a warning (usually the drift the
       incident itself caused), never as a refusal.

    python -m scripts.release.breakglass      (make rollback) all traffic back to the previous colour

Why not a Terraform apply with ``-target`` and ``-refresh=false``: it still needs the state lock (a held lock
refuses it), targeting also plans the records' dependencies (the ALBs, which an incident may have drifted),
and HashiCorp documents targeting for exceptional recovery only. See docs/decisions.md.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from scripts.release import environment, evidence, journal, observe, releasestate, trafficfile
from scripts.release.environment import PLANS_DIR, say
from scripts.release.plan_review import WEIGHTED_RECORDS, foreign_changes
from scripts.release.releasestate import StateError, Store
from scripts.release.tf import TerraformError, Workspace
from scripts.release.trafficfile import Traffic, show_weights

if TYPE_CHECKING:
    from boto3.session import Session

INSYNC_WAIT_SECONDS = 180.0  # Route 53: "changes generally propagate to all name servers within 60 seconds"
RETRY_SECONDS = 45.0  # throttling, or PriorRequestNotComplete while another change to the zone is pending
STATE_LOCK_WAIT = "10s"


class BreakGlassError(RuntimeError):
    """Route 53 did not take the weights; the message says what it answered."""


@dataclass
class Restored:
    weights_before: dict[str, int]
    weights_after: dict[str, int]
    change_id: str | None
    insync: bool
    seconds: float  # from the first read to INSYNC: the time traffic took to come back
    warnings: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)  # when the weights were back (epoch seconds)


def evaluate_target_health(weights: dict[str, int], idle_failover_enabled: bool) -> dict[str, bool]:
    """modules/traffic's rule: no record evaluates health while any has weight 0, unless idle failover is on
    (a zero-weight colour would otherwise take everything once the live one looks unhealthy)."""
    any_zero = any(weight == 0 for weight in weights.values())
    return {color: idle_failover_enabled or not any_zero for color in weights}


def restore(
    session: Session, outputs: dict, traffic: Traffic, *, wait_seconds: float = INSYNC_WAIT_SECONDS
) -> Restored:
    """Steps 1-3: put ``traffic``'s weights on the live records in one batch and wait for INSYNC."""
    started = time.monotonic()
    live = (outputs.get("hostnames") or {}).get("live")
    if not live:
        raise BreakGlassError("the Terraform outputs name no live hostname: nothing is deployed to roll back")
    route53 = session.client("route53")
    zone = observe.hosted_zone_id(session, live, outputs.get("hosted_zone_id"))
    records = observe.weighted_records(session, zone, live)
    if traffic.live_color not in records:
        raise BreakGlassError(
            f"Route 53 has no {traffic.live_color} record for {live} (zone {zone}), so traffic cannot go "
            f"back to it: it has records for {', '.join(sorted(records)) or 'no colour'}"
        )
    before = {color: int(record["Weight"]) for color, record in sorted(records.items())}
    wanted = {color: weight for color, weight in traffic.weights.items() if color in records}
    health = evaluate_target_health(wanted, bool(outputs.get("idle_failover_enabled")))
    changes = []
    for color, record in sorted(records.items()):
        alias = record.get("AliasTarget")
        if int(record["Weight"]) == wanted[color] and (
            not alias or alias["EvaluateTargetHealth"] == health[color]
        ):
            continue
        upsert = {**record, "Weight": wanted[color]}
        if alias:
            upsert["AliasTarget"] = {**alias, "EvaluateTargetHealth": health[color]}
        changes.append({"Action": "UPSERT", "ResourceRecordSet": upsert})
    if not changes:
        return Restored(before, before, None, True, time.monotonic() - started)
    change_id = _change(route53, zone, changes)
    insync = _wait_insync(route53, change_id, wait_seconds)
    after = {
        color: int(r["Weight"]) for color, r in sorted(observe.weighted_records(session, zone, live).items())
    }
    if after != wanted:
        raise BreakGlassError(f"Route 53 accepted change {change_id} but answers {after}, not {wanted}")
    return Restored(before, after, change_id, insync, time.monotonic() - started)


def _change(route53, zone: str, changes: list[dict]) -> str:
    deadline = time.monotonic() + RETRY_SECONDS
    delay = 0.5
    while True:
        try:
            answer = route53.change_resource_record_sets(
                HostedZoneId=zone,
                ChangeBatch={"Comment": "release-kit break-glass rollback", "Changes": changes},
            )
            return answer["ChangeInfo"]["Id"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            retry = code in ("PriorRequestNotComplete", "Throttling", "ThrottlingException")
            if not retry or time.monotonic() > deadline:
                raise BreakGlassError(f"Route 53 refused the weights: {exc}") from exc
            say(f"    Route 53 answered {code}; trying again in {delay:.1f}s")
        except BotoCoreError as exc:
            if time.monotonic() > deadline:
                raise BreakGlassError(f"Route 53 could not be reached: {exc}") from exc
            say(f"    Route 53 could not be reached ({exc}); trying again in {delay:.1f}s")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def _wait_insync(route53, change_id: str, wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if route53.get_change(Id=change_id)["ChangeInfo"]["Status"] == "INSYNC":
                return True
        except (BotoCoreError, ClientError) as exc:
            say(f"    could not read change {change_id} ({exc}); the change itself was accepted")
        if time.monotonic() > deadline:
            say(f"    change {change_id} is still PENDING after {wait_seconds:.0f}s: Route 53 accepted it")
            return False
        time.sleep(1.0)


def reconcile(ws: Workspace, traffic: Traffic, *, lock_timeout: str = STATE_LOCK_WAIT) -> list[str]:
    """Steps 4-6: the env tfvars and Terraform's state say what Route 53 now answers; every other change in
    a plan comes back as a warning. Never raises: traffic has already moved."""
    warnings: list[str] = []
    path = trafficfile.path_for(ws.env)
    shown = trafficfile.shown(path)
    try:
        if trafficfile.write(path, traffic):
            say(f"    wrote {traffic.describe()} to {shown}: commit it, so the next plan keeps it")
    except (OSError, trafficfile.TrafficFileError) as exc:
        warnings.append(f"{shown} still says something else ({exc}): set {traffic.describe()} there by hand")
    try:
        ws.init()
        ws.refresh_only(WEIGHTED_RECORDS, lock_timeout=lock_timeout)
        say("    Terraform's state records the weights Route 53 answers")
    except TerraformError as exc:
        warnings.append(
            f"Terraform's state still records the old weights ({_first_error(exc)}); the next plan "
            "refreshes them from Route 53, and `make apply` writes them"
        )
    plan_file = PLANS_DIR / f"{ws.env}-rollback-check.tfplan"
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        ws.plan(plan_file, {}, lock=False)
        for change in foreign_changes(ws.show_json(plan_file)):
            warnings.append(
                f"the plan also has a change besides traffic: {change} (review it with `make plan`)"
            )
    except TerraformError as exc:
        warnings.append(f"could not plan to look for other changes ({_first_error(exc)}): run `make plan`")
    finally:
        plan_file.unlink(missing_ok=True)
    return warnings


def _first_error(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return next(
        (line for line in lines if line.startswith("Error")), lines[0] if lines else "terraform failed"
    )


def rollback_to(ws: Workspace, session: Session, outputs: dict, traffic: Traffic) -> Restored:
    """All of it: restore the weights (timed, and raising only when Route 53 did not take them), then
    reconcile and collect the warnings."""
    say(f"==> break-glass: {show_weights(traffic.weights)} in one Route 53 change, no plan, no state lock")
    restored = restore(session, outputs, traffic)
    if restored.change_id is None:
        say(f"    Route 53 already answers {show_weights(restored.weights_after)}")
    else:
        synced = "INSYNC" if restored.insync else "accepted, still PENDING"
        say(
            f"    Route 53 answers {show_weights(restored.weights_after)} "
            f"(was {show_weights(restored.weights_before)}), change {restored.change_id} {synced} "
            f"in {restored.seconds:.1f}s"
        )
    restored.warnings = reconcile(ws, traffic)
    # The colour whose weight just reached 0: its statements from now on are evidence for the contract gate.
    evidence.mark_zero(
        outputs, restored.weights_before, restored.weights_after, restored.change_id is not None
    )
    for warning in restored.warnings:
        say(f"    warning: {warning}")
    return restored


# ------------------------------------------------------------------------------------------ make rollback


def _moved_away(weights_before: dict[str, int], to: str) -> str | None:
    """Outside a release: the colour traffic left (it had weight before), or None when none had."""
    return next((color for color, weight in sorted(weights_before.items()) if color != to and weight), None)


def rollback(env: str, *, extra_var_files: tuple[Path, ...] = ()) -> dict:
    """Return all traffic to the previous colour at once, through the break-glass path: the colour an
    unfinished release (started anywhere) began from, or else the live colour without its canary, or else
    the other colour. Nothing it meets refuses it: foreign changes, a held state lock or a running release
    elsewhere become warnings."""
    started = time.monotonic()
    ws = environment.workspace(env, extra_var_files)
    ws.init()
    outputs = ws.outputs()
    session = environment.aws_session(ws)
    by = releasestate.actor(session)
    warnings: list[str] = []
    store: Store | None = None
    rollout = None
    try:
        store = Store(ws)
        rollout = store.load()
    except StateError as exc:
        warnings.append(f"could not read the release state ({exc}): going by what Route 53 answers")
    if rollout is not None:
        wanted = Traffic(rollout.source, 0)
    else:
        wanted, done = _after_the_last_change(ws, session, outputs, warnings)
        if done is not None:
            say(f"==> rollback of ENV={env}: nothing to roll back: {done}")
            return {
                "ok": True,
                "action": "rollback",
                "from": None,
                "to": wanted.live_color,
                "steps": [],
                "outcome": "nothing_to_do",
                "reason": done,
                "weights": wanted.weights,
                "warnings": warnings,
                "duration_s": round(time.monotonic() - started, 1),
            }
    say(f"==> rollback of ENV={env}: all traffic to {wanted.live_color}")
    reason = f"make rollback by {by}"
    if rollout is not None and store is not None:
        # Before the weights move: a release still running elsewhere sees the tombstone at its next poll
        # and stops (and puts these weights back if one of its applies lands after this change).
        try:
            store.abort("rolled_back", reason, by)
            say(
                f"    ended release {rollout.id} ({rollout.source} -> {rollout.target}, {rollout.started_by})"
            )
        except StateError as exc:
            warnings.append(f"the release state could not be marked ended ({exc}); traffic moves anyway")
    restored = rollback_to(ws, session, outputs, wanted)
    warnings += restored.warnings
    summary_reason = f"make rollback: traffic returned to {show_weights(restored.weights_after)}"
    recorded = journal.record_quietly(
        ws,
        "rollback",
        outputs=outputs,
        release=rollout.id if rollout else None,
        weights_before=restored.weights_before,
        weights_after=restored.weights_after,
        route53_change=restored.change_id,
        restore_s=round(restored.seconds, 2),
        warnings=warnings,
        outcome="rolled_back",
        reason=summary_reason,
    )
    if recorded is None:
        warnings.append("the journal could not be written (see above): traffic moved anyway")
    if store is not None:
        try:
            holder = store.holder()
        except StateError:
            holder = None
        if holder:
            say(
                f"    note: the release lock is still held by {releasestate.describe_holder(holder)}: that "
                "run stops at its next poll; if it is gone, `make release-unlock`"
            )
    return {
        "ok": True,
        "action": "rollback",
        "from": rollout.target if rollout else _moved_away(restored.weights_before, wanted.live_color),
        "to": wanted.live_color,
        "steps": [],
        "outcome": "rolled_back",
        "reason": summary_reason,
        "weights": restored.weights_after,
        "restore_s": round(restored.seconds, 2),
        "warnings": warnings,
        "duration_s": round(time.monotonic() - started, 1),
    }


# Journal events that moved traffic, and which of them were themselves a way back
_MOVES = ("release", "rollback", "switch")
_WAYS_BACK = ("rolled_back", "aborted")


def _after_the_last_change(
    ws: Workspace, session: Session, outputs: dict, warnings: list[str]
) -> tuple[Traffic, str | None]:
    """With no release in progress: back to where the last traffic change started, by the journal. When
    that change was itself a way back (a rollback, a release that rolled back on an alarm) and traffic is
    still where it left it, there is nothing to undo: (where traffic is, why). A second `make rollback`
    must never send traffic back to the colour the first one left. Without a journal event that explains
    the weights Route 53 answers, :func:`previous_colour` decides (and a warning says so)."""
    answered = _answered(session, outputs)
    try:
        events = [
            e
            for e in journal.read(ws, last=200)
            if e.get("kind") in _MOVES
            and e.get("weights_after")
            and _normal(e.get("weights_before") or {}) != _normal(e["weights_after"])  # it moved traffic
        ]
    except journal.JournalError as exc:
        events = []
        warnings.append(f"could not read the journal ({exc}): going by what Route 53 answers")
    last = events[-1] if events else None
    if last is None or not answered or _normal(last["weights_after"]) != answered:
        if last is not None and answered:
            warnings.append(
                f"Route 53 answers {show_weights(answered)}, not what the journal's last change left "
                f"({show_weights(last['weights_after'])}, {last.get('kind')} at {last.get('at')}): going by "
                "Route 53"
            )
        return previous_colour(ws, session, outputs), None
    if len(set(answered.values())) == 1:  # a 50/50 tie names no colour: the file breaks it
        return previous_colour(ws, session, outputs), None
    here = _leader(answered)
    if last.get("kind") == "rollback" or last.get("outcome") in _WAYS_BACK:
        return Traffic(here, 0), (
            f"{show_weights(answered)} since the {last.get('kind')} at {last.get('at')} "
            f"({last.get('outcome')}); to move traffic, `make release COLOR=<colour>`"
        )
    before = _normal(last.get("weights_before") or {})
    if not before or len(set(before.values())) == 1:
        return previous_colour(ws, session, outputs), None
    return Traffic(_leader(before), 0), None


def _answered(session: Session, outputs: dict) -> dict[str, int]:
    live = (outputs.get("hostnames") or {}).get("live")
    return _normal(observe.route53_weights(session, live, outputs.get("hosted_zone_id")) if live else {})


def _normal(weights: dict) -> dict[str, int]:
    """Weights with every colour present (a colour without a record has 0)."""
    return {color: int(weights.get(color) or 0) for color in ("blue", "green")} if weights else {}


def _leader(weights: dict[str, int]) -> str:
    return max(sorted(weights), key=lambda color: weights[color])


def previous_colour(ws: Workspace, session: Session, outputs: dict) -> Traffic:
    """With no release in progress: all traffic on one colour goes to the other one; a canary goes back to
    the colour with the larger share. Decided by what Route 53 answers, not by this checkout's tfvars, which
    may be behind a release finished on another machine (the file breaks a 50/50 tie)."""
    written = trafficfile.read(trafficfile.path_for(ws.env))
    live = (outputs.get("hostnames") or {}).get("live")
    weights = observe.route53_weights(session, live, outputs.get("hosted_zone_id")) if live else {}
    if not weights:
        return Traffic(written.live_color, 0) if written.canary_percent else Traffic(written.other_color, 0)
    top = max(weights.values())
    leaders = [color for color, weight in weights.items() if weight == top]
    live_color = written.live_color if len(leaders) > 1 else leaders[0]
    if top == 100 or len(weights) == 1:
        return Traffic(Traffic(live_color).other_color, 0)
    return Traffic(live_color, 0)


def main() -> int:
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    return environment.run_command(
        "rollback",
        lambda: rollback(env, extra_var_files=environment.var_files()),
        (BreakGlassError, trafficfile.TrafficFileError, observe.ObserveError),
        [p for p in (environment.env_problem(env),) if p],
    )


if __name__ == "__main__":
    sys.exit(main())
