"""`make release COLOR=<to> [STEPS=10,50,100] [BAKE=s] [MIGRATE=1] [AUTO_APPROVE=1]`, `make rollback` and
`make release-unlock`.

A release is a short list of steps, as data (the way Argo Rollouts declares one):

    verify            the target colour is deployed, runs what Terraform deployed, none of its alarms
                      fires, and its tasks hold its database role's current password (a rotation needs new
                      tasks and `make migrate`)
    migrate           (MIGRATE=1) the pending expand migrations, through the deployed function, which
                      refuses any that would break a statement blue or green has run (ALLOW_INCOMPATIBLE=1
                      overrides, journalled)
    weight <p>        write the traffic settings for p% to the target into the env tfvars, plan, check that
                      the plan changes only the two weighted records, apply
    bake <s>          watch both colours' alarms for s seconds (see ``bake``): an alarm of the target's rolls
                      back, a revert or too little traffic stops without advancing

Forward steps stop on any surprise; the way back never does. A rollback, by hand or on an alarm, is the
break-glass path (``breakglass``): one Route 53 change batch, no plan and no state lock, with every foreign
change in the plan reported as a warning afterwards.

The release's state and a release lock live in the state bucket (``releasestate``): a second `make release`
anywhere is refused, naming who holds the lock and since when; `make release` and `make rollback` resume or
undo a release started on any machine; `make release-unlock` (or BREAK_LOCK=1) breaks a stale lock, and the
journal records it. A journal write that fails stops a forward step; it only warns on the way back.

The last line of standard output is a JSON summary:
``{ok, action, from, to, steps, outcome, reason, duration_s, ...}``, where outcome is completed, rolled_back,
stopped or inconclusive.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.release import (
    bake,
    breakglass,
    contract,
    environment,
    evidence,
    exitcodes,
    journal,
    observe,
    releasestate,
    switch,
    trafficfile,
)
from scripts.release.bake import Aborted, AlarmFired, Inconclusive, Stopped
from scripts.release.environment import COLORS, BadInput, Refused, ReleaseError, say
from scripts.release.plan_review import foreign_changes, review
from scripts.release.releasestate import Rollout, StateConflict, StateError, Store
from scripts.release.tf import ApplyProgress, Workspace
from scripts.release.trafficfile import Traffic, show_weights

if TYPE_CHECKING:
    from boto3.session import Session

DEFAULT_STEPS = (10, 50, 100)
# Realistic on AWS: alarms evaluate over minutes (3 periods of 60 s by default), and a bake shorter than
# that watches nothing. The local default has no traffic and no metrics, so it only needs to prove the loop.
DEFAULT_BAKE_SECONDS = {"local": 5}
DEFAULT_BAKE_SECONDS_AWS = 600
# Refusals and failures that end a release command with a JSON summary instead of a traceback.
ERRORS = (
    trafficfile.TrafficFileError,
    breakglass.BreakGlassError,
    journal.JournalError,
    observe.ObserveError,
)
__all__ = ["AlarmFired", "Inconclusive", "Rollout", "Stopped", "foreign_changes", "release"]


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop where we are, keep the state."""


# ------------------------------------------------------------------------------------------ the steps


def parse_steps(raw: str | None) -> list[int]:
    """ "10,50,100" -> [10, 50, 100]: increasing whole percents, ending at 100."""
    if not raw or not raw.strip():
        return list(DEFAULT_STEPS)
    try:
        percents = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise BadInput(
            f"STEPS must be whole percents separated by commas, e.g. STEPS=10,50,100 (got {raw!r})"
        ) from None
    if (
        not percents
        or percents[-1] != 100
        or any(not 1 <= p <= 100 for p in percents)
        or any(b <= a for a, b in itertools.pairwise(percents))
    ):
        raise BadInput(
            "STEPS must increase from 1 to 100 and end at 100, e.g. STEPS=10,50,100 or STEPS=100 "
            f"(got {raw!r})"
        )
    return percents


def parse_bake(raw: str | None, env: str) -> float:
    if not raw or not raw.strip():
        return float(DEFAULT_BAKE_SECONDS.get(env, DEFAULT_BAKE_SECONDS_AWS))
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise BadInput(f"BAKE must be seconds from 0 to 86400, e.g. BAKE=600 (got {raw!r})")
    return seconds


def build_steps(percents: list[int], bake_seconds: float, migrate: bool) -> list[dict]:
    steps: list[dict] = [{"do": "verify"}]
    if migrate:
        steps.append({"do": "migrate"})
    for percent in percents:
        steps += [{"do": "weight", "percent": percent}, {"do": "bake", "seconds": bake_seconds}]
    return steps


# ------------------------------------------------------------------------------------------ traffic


@dataclass
class Shift:
    weights_before: dict[str, int]
    weights_after: dict[str, int]
    plan_sha256: str | None
    applied: bool


def shift(ws: Workspace, traffic: Traffic, *, label: str) -> Shift:
    """Write ``traffic`` into the env tfvars, plan, refuse anything but the weighted records, apply.

    On a refusal the file is put back as it was, so it never claims weights that were not applied."""
    path = trafficfile.path_for(ws.env)
    original = path.read_bytes()
    if trafficfile.write(path, traffic):
        say(f"==> {label}: wrote {traffic.describe()} to {trafficfile.shown(path)}")
    plan_file = environment.PLANS_DIR / f"{ws.env}-release.tfplan"
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    applying = False
    try:
        ws.init()
        started = time.monotonic()
        exit_code = ws.plan(plan_file, {})
        document = ws.show_json(plan_file)
        foreign = foreign_changes(document)
        if foreign:
            raise Stopped(
                "the plan changes more than the two weighted records, so nothing was applied: "
                + "; ".join(foreign)
                + ". Review and apply that change on its own (`make plan`, `make apply`), then run "
                "`make release` again to resume"
            )
        result = review(document, env=ws.env, color=traffic.live_color)
        say(
            f"    plan ({time.monotonic() - started:.0f}s): weights "
            f"{show_weights(result.weights_before)} -> {show_weights(result.weights_after)}, "
            "only the weighted records"
        )
        sha = journal.file_sha256(plan_file)
        if exit_code == 0 or not result.changes:
            say("    nothing to apply: Route 53 already has these weights")
            return Shift(result.weights_before, result.weights_after, sha, applied=False)
        applying = True
        ws.apply(plan_file, ApplyProgress(total=result.operations or None))
        say(f"    applied in {time.monotonic() - started:.0f}s")
        return Shift(result.weights_before, result.weights_after, sha, applied=True)
    except BaseException:
        # Refused or stopped before the apply: put the file back, so it never claims weights that were not
        # applied. Once an apply has started, either version may be the true one; the new one stays, and a
        # resume or a rollback plans from it again.
        if not applying:
            path.write_bytes(original)
            say(f"    {path} put back as it was ({trafficfile.read(path).describe()})")
        raise
    finally:
        plan_file.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------ the steps


def verify_target(ws: Workspace, session: Session, rollout: Rollout, alarms: dict[str, list[str]]) -> None:
    verdict = switch.verify_color(ws.env, rollout.target, ws=ws)
    say(verdict.render())
    if not verdict.ok:
        raise Stopped(
            f"{rollout.target} failed verification, so no traffic was moved to it: fix the FAIL lines"
        )
    states = observe.alarm_states(session, alarms.get(rollout.target, []))
    firing = [name for name, state in states.items() if state in ("ALARM", "MISSING")]
    if firing:
        raise Stopped(
            f"{rollout.target}'s alarm(s) {', '.join(firing)} are in ALARM (or missing) before the release"
        )
    rotated = evidence.rotation_check(session, ws.outputs(), rollout.target)
    if rotated:
        raise Stopped(f"{rollout.target} may not take traffic yet: {'; '.join(rotated)}")


def migrate_expand(ws: Workspace, outputs: dict, rollout: Rollout) -> list[str]:
    """Run the pending migrations before the first contract step (old and new code both work after them)."""
    from scripts.release.invoke import InvokeError, invoke

    function = outputs.get("migrator_function_name")
    if not function:
        raise Stopped("MIGRATE=1 but no migrator is deployed in this environment")
    try:
        return _migrate_expand(ws, outputs, rollout, function, invoke)
    except InvokeError as exc:
        raise Stopped(f"the migrator could not be invoked, no traffic was moved: {exc}") from exc


def _migrate_expand(ws: Workspace, outputs: dict, rollout: Rollout, function: str, invoke) -> list[str]:
    listed = invoke(function, {"action": "list"})
    if not listed.get("ok"):
        raise Stopped(f"the migrator's list failed: {listed.get('error')}")
    # Expand migrations: both colours serve while traffic moves, so both colours' statements must work.
    expand: list[str] = []
    for migration in listed["migrations"]:
        if migration["state"] != "pending":
            continue
        if migration.get("contract"):
            say(f"    {migration['id']} is a contract step: it waits until {rollout.source} is retired")
            break
        expand.append(migration["id"])
    if not expand:
        say("    no expand migrations pending")
        return []
    say(f"    running expand migrations {', '.join(expand)} through {function} (checked for blue and green)")
    event = {"action": "migrate", "target": expand[-1], "serving": list(COLORS)}
    if rollout.allow_incompatible:
        event["allow_incompatible"] = True
    result = invoke(function, event)
    outcome = contract.migration_outcome("migrate", result)
    _journal(
        ws,
        "migration",
        outputs=outputs,
        release=rollout.id,
        migrations=expand,
        outcome=outcome,
        reason=None if result.get("ok") else json.dumps(result.get("error")),
        **evidence.overridden(result),
    )
    if not result.get("ok"):
        error = result.get("error") or {}
        verb = "were refused" if error.get("type") == "Incompatible" else "failed"
        raise Stopped(f"the expand migrations {verb}, no traffic was moved: {error.get('message') or error}")
    say(f"    {evidence.describe_compatibility(result)}")
    return expand


# ------------------------------------------------------------------------------------------ commands


def _journal(ws: Workspace, kind: str, **fields) -> None:
    """A forward step's journal entry: when it cannot be written, the release stops (without advancing, so
    a resume redoes the step, which is then a no-op, and writes the entry)."""
    try:
        journal.record(ws, kind, **fields)
    except journal.JournalError as exc:
        raise Stopped(f"the journal could not be written, so the release stops: {exc}") from exc


def _summary(
    action: str, rollout: Rollout | None, outcome: str, reason: str | None, started: float, **extra
) -> dict:
    return {
        "ok": outcome == "completed",
        "action": action,
        "from": rollout.source if rollout else None,
        "to": rollout.target if rollout else None,
        "steps": rollout.percents if rollout else [],
        "outcome": outcome,
        "reason": reason,
        "duration_s": round(time.monotonic() - started, 1),
        **extra,
    }


def _confirm(text: str) -> None:
    if not sys.stdin.isatty():  # nothing started: the command needs AUTO_APPROVE=1 here (exit 2)
        raise BadInput("no terminal to confirm the release on: set AUTO_APPROVE=1 for automation")
    if input(f"{text} Type 'yes' to start: ").strip() != "yes":
        raise ReleaseError("not started: the answer was not 'yes'")


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Interrupted()


def release(
    env: str,
    target: str | None,
    *,
    steps: str | None = None,
    bake_seconds: str | None = None,
    migrate: bool = False,
    auto_approve: bool = False,
    extra_var_files: tuple[Path, ...] = (),
    min_requests: str | None = None,
    allow_short_bake: bool = False,
    break_lock: bool = False,
    allow_incompatible: bool = False,
) -> dict:
    """Run (or resume) a progressive release to ``target``, holding ENV's release lock; returns the JSON
    summary."""
    started = time.monotonic()
    minimum = bake.min_requests(min_requests, env)
    ws = environment.workspace(env, extra_var_files)
    store = Store(ws)  # the lock first: a second release anywhere is refused before it plans or inits
    if break_lock and store.holder() is not None:
        releasestate.break_journalled(ws, store, "BREAK_LOCK=1 on make release")
    store.lock(store.session, release=None)
    try:
        ws.init()
        outputs = ws.outputs()
        session = environment.aws_session(ws)
        return _release(
            ws,
            store,
            session,
            outputs,
            target,
            started,
            steps,
            bake_seconds,
            migrate,
            auto_approve,
            extra_var_files,
            minimum,
            allow_short_bake,
            allow_incompatible,
        )
    finally:
        warning = store.unlock()
        if warning:
            say(f"warning: {warning}")


def _release(
    ws: Workspace,
    store: Store,
    session: Session,
    outputs: dict,
    target: str | None,
    started: float,
    steps: str | None,
    bake_seconds: str | None,
    migrate: bool,
    auto_approve: bool,
    extra_var_files: tuple[Path, ...],
    minimum: int,
    allow_short_bake: bool,
    allow_incompatible: bool,
) -> dict:
    env = ws.env
    rollout = store.load()
    if rollout is not None:
        if target is not None and target != rollout.target:
            raise Refused(
                f"a release of ENV={env} from {rollout.source} to {rollout.target} is under way (step "
                f"{rollout.index + 1}/{len(rollout.steps)}, started by {rollout.started_by}): "
                f"`make release COLOR={rollout.target}` resumes it, `make rollback` undoes it"
            )
        say(
            f"==> resuming release {rollout.id}: {rollout.source} -> {rollout.target}, "
            f"step {rollout.index + 1}/{len(rollout.steps)} (started by {rollout.started_by})"
        )
        if steps and steps.strip() and parse_steps(steps) != rollout.percents:
            say(f"    note: STEPS={steps} is ignored; a resumed release keeps its steps {rollout.percents}")
        if bake_seconds and bake_seconds.strip():
            # BAKE on a resume replaces the remaining bakes (e.g. after a long bake was interrupted).
            seconds = parse_bake(bake_seconds, env)
            for step in rollout.steps[rollout.index :]:
                if step["do"] == "bake":
                    step["seconds"] = seconds
        _check_bake_length(session, outputs, rollout, allow_short_bake)
        store.save(rollout)
    else:
        if target is None:
            raise BadInput("COLOR is required: the colour to release to, e.g. make release COLOR=green")
        environment.check_color(target, "release")
        trafficfile.refuse_overrides(extra_var_files, env)
        path = trafficfile.path_for(env)
        current = trafficfile.read(path)
        if current.live_color == target:
            deployed = trafficfile.deployed(outputs)
            if deployed is not None and deployed.live_color != target:
                # `make plan COLOR=<target>` wrote the switch, and it was never applied
                raise Refused(
                    f"{trafficfile.shown(path)} says {current.describe()}, but ENV={env} still has "
                    f"{deployed.live_color} live ({show_weights(deployed.weights)} in the state): the file "
                    f"holds a switch that was never applied. To release {target} step by step, put the file "
                    f"back (`git checkout {trafficfile.shown(path)}`, or "
                    f"`make plan COLOR={deployed.live_color}`) and run this again; "
                    f"`make apply COLOR={target}` switches at once"
                )
            raise Refused(
                f"{target} is already live in ENV={env} ({current.describe()} in {trafficfile.shown(path)}): "
                "there is nothing to release to it"
            )
        percents = parse_steps(steps)
        seconds = parse_bake(bake_seconds, env)
        rollout = Rollout(
            env=env,
            source=current.live_color,
            target=target,
            percents=percents,
            bake_seconds=seconds,
            steps=build_steps(percents, seconds, migrate),
            start=asdict(current),
            started_by=releasestate.actor(session),
            allow_incompatible=allow_incompatible,
        )
        _check_bake_length(session, outputs, rollout, allow_short_bake)
        plan_text = ", ".join(_describe(s, rollout) for s in rollout.steps)
        say(f"==> release {rollout.id} of ENV={env}: {rollout.source} -> {target}: {plan_text}")
        if rollout.target not in (outputs.get("stacks") or {}):
            raise Refused(
                f"{rollout.target} is not deployed in ENV={env}: set {rollout.target}.enabled = true with "
                f"its image in {trafficfile.shown(trafficfile.path_for(env))}, `make plan`, `make apply`, "
                "then release"
            )
        if not auto_approve:
            _confirm(f"Release {target} in ENV={env}?")
        _journal(
            ws,
            "release",
            outputs=outputs,
            release=rollout.id,
            outcome="started",
            **{"from": rollout.source, "to": rollout.target},
            steps=rollout.percents,
        )
        store.save(rollout)
    return _run(ws, store, session, outputs, rollout, started, minimum)


def _check_bake_length(session: Session, outputs: dict, rollout: Rollout, allow_short: bool) -> None:
    bakes = [float(s["seconds"]) for s in rollout.steps[rollout.index :] if s["do"] == "bake"]
    if bakes:
        names = (outputs.get("alarms") or {}).get(rollout.target, [])
        bake.check_length(session, names, min(bakes), allow_short=allow_short)


def _run(
    ws: Workspace,
    store: Store,
    session: Session,
    outputs: dict,
    rollout: Rollout,
    started: float,
    minimum: int,
) -> dict:
    alarms = outputs.get("alarms") or {}
    previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        while rollout.index < len(rollout.steps):
            if store.changed():
                raise Aborted("the release state changed")
            step = rollout.steps[rollout.index]
            say(f"\n==> step {rollout.index + 1}/{len(rollout.steps)}: {_describe(step, rollout)}")
            if step["do"] == "verify":
                verify_target(ws, session, rollout, alarms)
            elif step["do"] == "migrate":
                rollout.migrations = migrate_expand(ws, outputs, rollout)
            elif step["do"] == "weight":
                traffic = Traffic.for_share(rollout.source, rollout.target, step["percent"])
                moved = shift(ws, traffic, label=f"{step['percent']}% to {rollout.target}")
                evidence.mark_zero(outputs, moved.weights_before, moved.weights_after, moved.applied)
                rollout.applied = asdict(traffic)
                _journal(
                    ws,
                    "step",
                    outputs=outputs,
                    release=rollout.id,
                    **{"from": rollout.source, "to": rollout.target},
                    step=step["percent"],
                    weights_before=moved.weights_before,
                    weights_after=moved.weights_after,
                    plan_sha256=moved.plan_sha256,
                    outcome="applied" if moved.applied else "unchanged",
                    migrations=rollout.migrations,
                )
            elif step["do"] == "bake":
                bake.watch(session, store, rollout, alarms, outputs, float(step["seconds"]), minimum)
            rollout.index += 1
            store.save(rollout)
        _journal(ws, "release", **_outcome_fields(ws.outputs(), rollout, "completed", None))
        store.end(rollout, "completed", None, releasestate.actor(session))
    except AlarmFired as fired:
        return _roll_back_on_alarm(ws, store, session, outputs, rollout, fired, started)
    except (Aborted, StateConflict):
        return _aborted(ws, store, session, outputs, rollout, started)
    except Stopped as exc:
        _record_outcome(ws, outputs, rollout, exc.outcome, str(exc))
        say(f"error: release {'paused' if exc.outcome == 'inconclusive' else 'stopped'}: {exc}")
        return _summary("release", rollout, exc.outcome, str(exc), started)
    except KeyboardInterrupt:
        reason = (
            f"interrupted at step {rollout.index + 1}/{len(rollout.steps)}: `make release` resumes, "
            "`make rollback` undoes"
        )
        _record_outcome(ws, outputs, rollout, "interrupted", reason)
        say(f"\nrelease interrupted: {reason}")
        return _summary("release", rollout, "interrupted", reason, started)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    say(f"\n==> {rollout.target} is live with all traffic")
    return _summary("release", rollout, "completed", None, started)


def _roll_back_on_alarm(
    ws: Workspace,
    store: Store,
    session: Session,
    outputs: dict,
    rollout: Rollout,
    fired: AlarmFired,
    started: float,
) -> dict:
    say(f"\n==> {fired.alarm} fired: rolling back to {rollout.start_traffic.describe()}")
    try:
        restored = breakglass.rollback_to(ws, session, outputs, rollout.start_traffic)
    except breakglass.BreakGlassError as exc:
        reason = f"alarm {fired.alarm} fired, and the rollback FAILED: {exc}. Run `make rollback` now"
        _record_outcome(ws, outputs, rollout, "stopped", reason)
        say(f"error: {reason}")
        return _summary("release", rollout, "stopped", reason, started, alarm=fired.alarm)
    to_weights = round(restored.at - fired.changed_at, 1)
    seen = restored.at - fired.detected_at
    reason = (
        f"alarm {fired.alarm} fired during the bake; traffic returned to "
        f"{show_weights(restored.weights_after)} "
        f"{to_weights}s after the alarm changed state ({seen:.1f}s after the bake saw it)"
    )
    try:
        store.end(rollout, "rolled_back", reason, releasestate.actor(session))
    except StateError as exc:
        restored.warnings.append(f"the release state could not be marked ended: {exc}")
    journal.record_quietly(
        ws,
        "rollback",
        outputs=outputs,
        release=rollout.id,
        **{"from": rollout.source, "to": rollout.target},
        alarm=fired.alarm,
        weights_before=restored.weights_before,
        weights_after=restored.weights_after,
        route53_change=restored.change_id,
        restore_s=round(restored.seconds, 2),
        warnings=restored.warnings,
        outcome="rolled_back",
        reason=reason,
    )
    say(f"error: release rolled back: {reason}")
    return _summary(
        "release",
        rollout,
        "rolled_back",
        reason,
        started,
        alarm=fired.alarm,
        alarm_to_weights_s=to_weights,
        warnings=restored.warnings,
    )


def _aborted(
    ws: Workspace, store: Store, session: Session, outputs: dict, rollout: Rollout, started: float
) -> dict:
    """The state changed under this run. A rollback elsewhere wins: the weights it set are made sure of (an
    apply of this run may have finished after it); anything else (the lock broken and the release taken
    over) stops this run without touching traffic."""
    try:
        now = store.read()
    except StateError as exc:
        now = None
        say(f"warning: {exc}")
    ended = (now.ended if now is not None and now.id == rollout.id else None) or {}
    if ended.get("outcome") == "rolled_back":
        restored = breakglass.restore(session, outputs, rollout.start_traffic)
        if restored.change_id is not None:
            say(
                f"    an apply of this run landed after the rollback: weights put back ({restored.change_id})"
            )
            restored.warnings = breakglass.reconcile(ws, rollout.start_traffic)
        reason = f"rolled back by {ended.get('by')} at {ended.get('at')}: {ended.get('reason')}"
        say(f"error: release {reason}")
        return _summary("release", rollout, "rolled_back", reason, started)
    reason = (
        "the release state was changed elsewhere while this run held it (its lock broken and the release "
        "taken over, or ended): this run stops and touches nothing; `make status` shows who runs it"
    )
    say(f"error: {reason}")
    return _summary("release", rollout, "stopped", reason, started)


def _outcome_fields(outputs: dict, rollout: Rollout, outcome: str, reason: str | None) -> dict:
    start = Traffic(**rollout.start).weights
    return {
        "outputs": outputs,
        "release": rollout.id,
        "from": rollout.source,
        "to": rollout.target,
        "steps": rollout.percents,
        "weights_before": start,
        "weights_after": Traffic(**rollout.applied).weights if rollout.applied else start,
        "migrations": rollout.migrations,
        "outcome": outcome,
        "reason": reason,
    }


def _record_outcome(ws: Workspace, outputs: dict, rollout: Rollout, outcome: str, reason: str | None) -> None:
    journal.record_quietly(ws, "release", **_outcome_fields(outputs, rollout, outcome, reason))


def _describe(step: dict, rollout: Rollout) -> str:
    if step["do"] == "verify":
        return f"verify {rollout.target}"
    if step["do"] == "migrate":
        return "run the pending expand migrations"
    if step["do"] == "weight":
        return f"send {step['percent']}% of traffic to {rollout.target}"
    return f"bake {step['seconds']:.0f}s, watching the alarms"


# ------------------------------------------------------------------------------------------------ CLI


def problems(
    env: str, color: str | None, steps: str | None, bake_seconds: str | None, min_requests: str | None
) -> list[str]:
    """Every bad make variable of `make release`, before the state, the lock or Terraform is touched."""
    found = [p for p in (environment.env_problem(env),) if p]
    checks = [
        lambda: environment.check_color(color, "release") if color is not None else None,
        lambda: parse_steps(steps) if steps and steps.strip() else None,
        lambda: parse_bake(bake_seconds, env) if bake_seconds and bake_seconds.strip() else None,
        lambda: bake.min_requests(min_requests, env),
    ]
    for check in checks:
        try:
            check()
        except ReleaseError as exc:
            found.append(str(exc))
    return found


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    if argv != ["release"]:
        say("usage: python -m scripts.release.rollout release   (COLOR, STEPS, ... from the environment)")
        return exitcodes.BAD_INPUT
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    color = os.environ.get("KIT_COLOR") or None
    steps, bake_seconds = os.environ.get("KIT_STEPS"), os.environ.get("KIT_BAKE")
    min_requests = os.environ.get("KIT_MIN_REQUESTS")
    return environment.run_command(
        "release",
        lambda: release(
            env,
            color,
            steps=steps,
            bake_seconds=bake_seconds,
            migrate=environment.flag("MIGRATE"),
            auto_approve=environment.flag("AUTO_APPROVE"),
            extra_var_files=environment.var_files(),
            min_requests=min_requests,
            allow_short_bake=environment.flag("ALLOW_SHORT_BAKE"),
            break_lock=environment.flag("BREAK_LOCK"),
            allow_incompatible=environment.flag("ALLOW_INCOMPATIBLE"),
        ),
        ERRORS,
        problems(env, color, steps, bake_seconds, min_requests),
    )


if __name__ == "__main__":
    sys.exit(main())
