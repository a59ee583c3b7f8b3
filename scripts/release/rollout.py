"""`make release COLOR=<to> [STEPS=10,50,100] [BAKE=s] [MIGRATE=1] [AUTO_APPROVE=1]` and `make rollback`.

A release is a short list of steps, as data (the way Argo Rollouts declares one):

    verify            the target colour is deployed, ready, none of its alarms fires, and its tasks hold its
                      database role's current password (a rotation needs new tasks and `make migrate`)
    migrate           (MIGRATE=1) the pending expand migrations, through the deployed function, which
                      refuses any that would break a statement blue or green has run (ALLOW_INCOMPATIBLE=1
                      overrides, journalled)
    weight <p>        write the traffic settings for p% to the target into the env tfvars, plan, check that
                      the plan changes only the two weighted records, apply
    bake <s>          watch both colours' alarms for s seconds; one of the target's in ALARM rolls back

After each step the index of the next one is saved (``.local/releases/<env>.json``), so Ctrl-C or a kill
leaves a release that `make release` resumes and `make rollback` undoes. A rollback is the same plan/apply
of the traffic settings the release started from. Every step, rollback and outcome goes to the journal.

The last line of standard output is a JSON summary:
``{ok, action, from, to, steps, outcome: completed|rolled_back|stopped, reason, duration_s, ...}``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from scripts import LOCAL_DIR
from scripts.localdefault import localenv
from scripts.release import environment, evidence, journal, observe, switch, trafficfile
from scripts.release.environment import COLORS, ReleaseError, say
from scripts.release.plan_review import review
from scripts.release.tf import ApplyProgress, TerraformError, Workspace
from scripts.release.trafficfile import Traffic

if TYPE_CHECKING:
    from boto3.session import Session

STATE_DIR = LOCAL_DIR / "releases"
DEFAULT_STEPS = (10, 50, 100)
# Realistic on AWS: alarms evaluate over minutes (3 periods of 60 s by default), and a bake shorter than
# that watches nothing. The local default has no traffic and no metrics, so it only needs to prove the loop.
DEFAULT_BAKE_SECONDS = {"local": 5}
DEFAULT_BAKE_SECONDS_AWS = 600
WEIGHTED_RECORDS = tuple(f'module.traffic.aws_route53_record.this["{color}"]' for color in COLORS)


class Stopped(ReleaseError):
    """The release stopped without rolling back (the state stays for a resume or a rollback)."""


class AlarmFired(ReleaseError):
    """An alarm of the target colour fired during a bake."""

    def __init__(self, alarm: str, states: dict[str, str]) -> None:
        super().__init__(f"alarm {alarm} is in ALARM")
        self.alarm = alarm
        self.states = states


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop where we are, keep the state."""


# ------------------------------------------------------------------------------------------ the state


@dataclass
class Rollout:
    env: str
    source: str
    target: str
    percents: list[int]
    bake_seconds: float
    steps: list[dict]
    start: dict  # the Traffic the release started from: where a rollback returns
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    index: int = 0
    applied: dict | None = None  # the Traffic last applied by this release
    started_at: float = field(default_factory=time.time)
    migrations: list[str] = field(default_factory=list)
    allow_incompatible: bool = False

    @staticmethod
    def path(env: str) -> Path:
        return STATE_DIR / f"{env}.json"

    @classmethod
    def load(cls, env: str) -> Rollout | None:
        path = cls.path(env)
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        temporary = self.path(self.env).with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2))
        os.replace(temporary, self.path(self.env))  # a kill never leaves half a state file

    def finish(self) -> None:
        self.path(self.env).unlink(missing_ok=True)

    @property
    def start_traffic(self) -> Traffic:
        return Traffic(**self.start)


def parse_steps(raw: str | None) -> list[int]:
    """ "10,50,100" -> [10, 50, 100]: increasing whole percents, ending at 100."""
    if not raw or not raw.strip():
        return list(DEFAULT_STEPS)
    try:
        percents = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ReleaseError(
            f"STEPS must be whole percents separated by commas, e.g. STEPS=10,50,100 (got {raw!r})"
        ) from None
    if (
        not percents
        or percents[-1] != 100
        or any(not 1 <= p <= 100 for p in percents)
        or any(b <= a for a, b in itertools.pairwise(percents))
    ):
        raise ReleaseError(
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
        raise ReleaseError(f"BAKE must be seconds from 0 to 86400, e.g. BAKE=600 (got {raw!r})")
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


def _traffic_neutral(values: dict) -> dict:
    """A weighted record's values without what a traffic step may change: its weight, and whether its alias
    evaluates target health (the traffic module evaluates health only while no colour has weight 0)."""
    values = dict(values)
    values["alias"] = [
        {k: v for k, v in alias.items() if k != "evaluate_target_health"}
        for alias in values.get("alias") or []
    ]
    return values


def foreign_changes(plan: dict) -> list[str]:
    """Every change in a plan besides a weight update of the two weighted records."""
    foreign: list[str] = []
    for resource in plan.get("resource_changes", []):
        actions = resource["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        address = resource["address"]
        if address in WEIGHTED_RECORDS and actions == ["update"]:
            before = _traffic_neutral(resource["change"].get("before") or {})
            after = _traffic_neutral(resource["change"].get("after") or {})
            unknown = resource["change"].get("after_unknown") or {}
            changed = sorted(
                key
                for key in set(before) | set(after)
                if key != "weighted_routing_policy"
                and (before.get(key) != after.get(key) or unknown.get(key))
            )
            if not changed:
                continue
            foreign.append(f"{address} (changes {', '.join(changed)})")
        else:
            foreign.append(f"{address} ({'/'.join(actions)})")
    return foreign


def shift(ws: Workspace, traffic: Traffic, *, label: str) -> Shift:
    """Write ``traffic`` into the env tfvars, plan, refuse anything but the weighted records, apply.

    On a refusal the file is put back as it was, so it never claims weights that were not applied."""
    path = trafficfile.path_for(ws.env)
    original = path.read_bytes()
    if trafficfile.write(path, traffic):
        say(f"==> {label}: wrote {traffic.describe()} to {path}")
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
            f"{_weights(result.weights_before)} -> {_weights(result.weights_after)}, "
            "only the weighted records"
        )
        sha = journal.file_sha256(plan_file)
        if exit_code == 0 or not result.changes:
            say("    nothing to apply: Route 53 already has these weights")
            return Shift(result.weights_before, result.weights_after, sha, applied=False)
        applying = True
        ws.apply(plan_file, ApplyProgress(total=len(result.changes)))
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


def _weights(weights: dict[str, int]) -> str:
    return "/".join(f"{color} {weight}" for color, weight in sorted(weights.items())) or "-"


# ------------------------------------------------------------------------------------------ the steps


def _poll_seconds(bake_seconds: float) -> float:
    return max(1.0, min(15.0, bake_seconds / 10))


def watch_alarms(session: Session, rollout: Rollout, alarms: dict[str, list[str]], seconds: float) -> None:
    """Watch both colours' alarms for ``seconds``; raise AlarmFired on one of the target's."""
    names = alarms.get(rollout.target, []) + alarms.get(rollout.source, [])
    started = time.monotonic()
    warned: set[str] = set()
    failures = 0
    while True:
        try:
            states = observe.alarm_states(session, names)
            failures = 0
        except (BotoCoreError, ClientError) as exc:
            # One failed poll is a network hiccup; three in a row mean the bake is blind, so it stops
            # (the state stays: `make release` resumes the bake, `make rollback` undoes the release).
            failures += 1
            say(f"    warning: could not read the alarms ({exc})")
            if failures >= 3:
                raise Stopped(f"could not read the alarms three times in a row: {exc}") from exc
            time.sleep(_poll_seconds(seconds))
            continue
        missing = [n for n in names if states[n] == "MISSING"]
        if missing:
            raise Stopped(
                f"alarm(s) {', '.join(missing)} do not exist, so the bake watches nothing: apply first"
            )
        firing = [n for n in alarms.get(rollout.target, []) if states[n] == "ALARM"]
        if firing:
            raise AlarmFired(firing[0], states)
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
            return
        time.sleep(min(_poll_seconds(seconds), max(seconds - elapsed, 0.0)))


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
    outcome = "applied" if result.get("ok") else "failed"
    journal.record_quietly(
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
    if not sys.stdin.isatty():
        raise ReleaseError("no terminal to confirm the release on: set AUTO_APPROVE=1 for automation")
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
    allow_incompatible: bool = False,
) -> dict:
    """Run (or resume) a progressive release to ``target``; returns the JSON summary."""
    started = time.monotonic()
    rollout = Rollout.load(env)
    ws = environment.workspace(env, extra_var_files)
    ws.init()
    if rollout is not None:
        if target is not None and target != rollout.target:
            raise ReleaseError(
                f"a release of ENV={env} from {rollout.source} to {rollout.target} is under way (step "
                f"{rollout.index + 1}/{len(rollout.steps)}): `make release COLOR={rollout.target}` "
                "resumes it, `make rollback` undoes it"
            )
        say(
            f"==> resuming release {rollout.id}: {rollout.source} -> {rollout.target}, "
            f"step {rollout.index + 1}/{len(rollout.steps)}"
        )
        if steps and steps.strip() and parse_steps(steps) != rollout.percents:
            say(f"    note: STEPS={steps} is ignored; a resumed release keeps its steps {rollout.percents}")
        if bake_seconds and bake_seconds.strip():
            # BAKE on a resume replaces the remaining bakes (e.g. after a long bake was interrupted).
            seconds = parse_bake(bake_seconds, env)
            for step in rollout.steps[rollout.index :]:
                if step["do"] == "bake":
                    step["seconds"] = seconds
            rollout.save()
    else:
        if target is None:
            raise ReleaseError("COLOR is required: the colour to release to, e.g. make release COLOR=green")
        environment.check_color(target)
        trafficfile.refuse_overrides(extra_var_files, env)
        current = trafficfile.read(trafficfile.path_for(env))
        if current.live_color == target:
            raise ReleaseError(
                f"{target} is already live_color in {trafficfile.path_for(env)} ({current.describe()}): "
                "there is nothing to release to it"
            )
        percents = parse_steps(steps)
        bake = parse_bake(bake_seconds, env)
        rollout = Rollout(
            env=env,
            source=current.live_color,
            target=target,
            percents=percents,
            bake_seconds=bake,
            steps=build_steps(percents, bake, migrate),
            start=asdict(current),
            allow_incompatible=allow_incompatible,
        )
        plan_text = ", ".join(
            f"{s['do']} {s.get('percent', '')}{'%' if 'percent' in s else ''}{s.get('seconds', '')}"
            f"{'s' if 'seconds' in s else ''}".strip()
            for s in rollout.steps
        )
        say(f"==> release {rollout.id} of ENV={env}: {rollout.source} -> {target}: {plan_text}")
        if not auto_approve:
            _confirm(f"Release {target} in ENV={env}?")
        rollout.save()

    outputs = ws.outputs()
    if rollout.target not in (outputs.get("stacks") or {}):
        rollout.finish()
        raise ReleaseError(
            f"{rollout.target} is not deployed in ENV={env}: set {rollout.target}.enabled = true with its "
            f"image in {trafficfile.path_for(env)}, `make plan`, `make apply`, then release"
        )
    alarms = outputs.get("alarms") or {}
    session = environment.aws_session(ws)
    previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        while rollout.index < len(rollout.steps):
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
                journal.record_quietly(
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
                watch_alarms(session, rollout, alarms, float(step["seconds"]))
            rollout.index += 1
            rollout.save()
    except AlarmFired as fired:
        say(f"\n==> {fired.alarm} fired: rolling back to {rollout.start_traffic.describe()}")
        back = shift(ws, rollout.start_traffic, label="rollback")
        evidence.mark_zero(outputs, back.weights_before, back.weights_after, back.applied)
        rollout.finish()
        reason = (
            f"alarm {fired.alarm} fired during the bake; traffic returned to {_weights(back.weights_after)}"
        )
        journal.record_quietly(
            ws,
            "rollback",
            outputs=outputs,
            release=rollout.id,
            **{"from": rollout.source, "to": rollout.target},
            alarm=fired.alarm,
            weights_before=back.weights_before,
            weights_after=back.weights_after,
            plan_sha256=back.plan_sha256,
            outcome="rolled_back",
            reason=reason,
        )
        say(f"error: release rolled back: {reason}")
        return _summary("release", rollout, "rolled_back", reason, started, alarm=fired.alarm)
    except Stopped as exc:
        _record_outcome(ws, outputs, rollout, "stopped", str(exc))
        say(f"error: release stopped: {exc}")
        return _summary("release", rollout, "stopped", str(exc), started)
    except KeyboardInterrupt:
        reason = (
            f"interrupted at step {rollout.index + 1}/{len(rollout.steps)}: `make release` resumes, "
            "`make rollback` undoes"
        )
        _record_outcome(ws, outputs, rollout, "stopped", reason)
        say(f"\nrelease interrupted: {reason}")
        return _summary("release", rollout, "stopped", reason, started)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    rollout.finish()
    _record_outcome(ws, ws.outputs(), rollout, "completed", None)
    say(f"\n==> {rollout.target} is live with all traffic")
    return _summary("release", rollout, "completed", None, started)


def _mark_zero(outputs: dict, moved: Shift) -> None:
    """When a colour's weight has just reached 0, capture the inventory before the journal records when: the
    contract gate later asks whether that colour ran anything after it (best effort, never stops a step)."""
    if not moved.applied:
        return
    from scripts.release.invoke import invoke

    evidence.mark_zero(
        outputs.get("migrator_function_name"), moved.weights_before, moved.weights_after, invoke
    )


def _record_outcome(ws: Workspace, outputs: dict, rollout: Rollout, outcome: str, reason: str | None) -> None:
    journal.record_quietly(
        ws,
        "release",
        outputs=outputs,
        release=rollout.id,
        **{"from": rollout.source, "to": rollout.target},
        steps=rollout.percents,
        weights_before=Traffic(**rollout.start).weights,
        weights_after=Traffic(**rollout.applied).weights
        if rollout.applied
        else Traffic(**rollout.start).weights,
        migrations=rollout.migrations,
        outcome=outcome,
        reason=reason,
    )


def _describe(step: dict, rollout: Rollout) -> str:
    if step["do"] == "verify":
        return f"verify {rollout.target}"
    if step["do"] == "migrate":
        return "run the pending expand migrations"
    if step["do"] == "weight":
        return f"send {step['percent']}% of traffic to {rollout.target}"
    return f"bake {step['seconds']:.0f}s, watching the alarms"


def rollback(env: str, *, extra_var_files: tuple[Path, ...] = ()) -> dict:
    """Return all traffic to the previous colour at once: the colour an unfinished release started from,
    or else the live colour without its canary, or else the other colour."""
    started = time.monotonic()
    ws = environment.workspace(env, extra_var_files)
    ws.init()
    rollout = Rollout.load(env)
    current = trafficfile.read(trafficfile.path_for(env))
    if rollout is not None:
        wanted = Traffic(rollout.source, 0)
    elif current.canary_percent:
        wanted = Traffic(current.live_color, 0)
    else:
        wanted = Traffic(current.other_color, 0)
    outputs = ws.outputs()
    if wanted.live_color not in (outputs.get("stacks") or {}):
        raise ReleaseError(
            f"{wanted.live_color} is not deployed in ENV={env}, so traffic cannot go back to it"
        )
    say(f"==> rollback of ENV={env}: all traffic to {wanted.live_color} (from {current.describe()})")
    moved = shift(ws, wanted, label="rollback")
    evidence.mark_zero(outputs, moved.weights_before, moved.weights_after, moved.applied)
    if rollout is not None:
        rollout.finish()
    reason = f"make rollback: traffic returned to {_weights(moved.weights_after)}"
    journal.record_quietly(
        ws,
        "rollback",
        outputs=outputs,
        release=rollout.id if rollout else None,
        weights_before=moved.weights_before,
        weights_after=moved.weights_after,
        plan_sha256=moved.plan_sha256,
        outcome="rolled_back",
        reason=reason,
    )
    return {
        "ok": True,
        "action": "rollback",
        "from": current.live_color if current.canary_percent == 0 else None,
        "to": wanted.live_color,
        "steps": [],
        "outcome": "rolled_back",
        "reason": reason,
        "duration_s": round(time.monotonic() - started, 1),
    }


# ------------------------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    if argv not in (["release"], ["rollback"]):
        say(
            "usage: python -m scripts.release.rollout release|rollback   (COLOR, STEPS, ... from the "
            "environment)"
        )
        return 2
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    started = time.monotonic()
    try:
        if argv == ["release"]:
            summary = release(
                env,
                os.environ.get("KIT_COLOR") or None,
                steps=os.environ.get("KIT_STEPS"),
                bake_seconds=os.environ.get("KIT_BAKE"),
                migrate=environment.flag("MIGRATE"),
                auto_approve=environment.flag("AUTO_APPROVE"),
                extra_var_files=environment.var_files(),
                allow_incompatible=environment.flag("ALLOW_INCOMPATIBLE"),
            )
        else:
            summary = rollback(env, extra_var_files=environment.var_files())
    except (ReleaseError, TerraformError, localenv.LocalEnvError, trafficfile.TrafficFileError) as exc:
        say(f"error: {exc}")
        summary = {
            "ok": False,
            "action": argv[0],
            "from": None,
            "to": os.environ.get("KIT_COLOR") or None,
            "steps": [],
            "outcome": "stopped",
            "reason": str(exc),
            "duration_s": round(time.monotonic() - started, 1),
        }
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
