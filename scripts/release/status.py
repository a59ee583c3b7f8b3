"""`make status [ENV=local] [FORMAT=json]`: one screen on what is live, and whether everything agrees.

Traffic three ways (as the repository's env tfvars says, as the Terraform state says, as Route 53 holds it),
judged on the weights: at a tie or mid-canary no colour "answers" more than another, so agreement means the
three sources list the same weights (and the repository and the state name the same live colour). Then each
colour's image and running/desired tasks, the alarm states, when each colour's database role last ran a
statement and how many sessions it has open (the statement inventory), the migration level (latest applied,
pending, whether a contract step is pending), an unfinished release and who holds the release lock (both
from the state bucket), and the last releases from the journal.

It exits 1 only when the sources really disagree or an alarm fires (``problems``); what it could not read
is a ``warning`` and does not change the exit code.
"""

from __future__ import annotations

import json
import os
import sys

from scripts.release import environment, evidence, exitcodes, journal, observe, releasestate, trafficfile
from scripts.release.tf import TerraformError
from scripts.release.trafficfile import show_weights


def gather(env: str) -> dict:
    ws = environment.workspace(env)
    ws.init()
    outputs = ws.outputs()
    session = environment.aws_session(ws)
    problems: list[str] = []
    warnings: list[str] = []

    written = trafficfile.read(trafficfile.path_for(env))
    hostnames = outputs.get("hostnames") or {}
    zone = outputs.get("hosted_zone_id")
    route53 = observe.route53_weights(session, hostnames["live"], zone) if hostnames.get("live") else {}
    state_weights = outputs.get("traffic_weights") or {}
    live = {"repository": written.live_color, "state": outputs.get("live_color")}
    problems += traffic_problems(written, live["state"], state_weights, route53, env)

    stacks = outputs.get("stacks") or {}
    tasks = observe.task_counts(session, stacks)
    alarm_names = outputs.get("alarms") or {}
    states = observe.alarm_states(session, [n for names in alarm_names.values() for n in names])
    colours = {
        color: {
            "image": (stacks.get(color) or {}).get("image"),
            "tasks": tasks.get(color),
            "alarms": {name: states.get(name) for name in alarm_names.get(color, [])},
        }
        for color in environment.COLORS
        if color in stacks
    }
    for color, info in colours.items():
        firing = [name for name, state in info["alarms"].items() if state == "ALARM"]
        if firing:
            problems.append(f"{color}: {', '.join(firing)} in ALARM")

    migrations = _migrations(outputs)
    database = _database(outputs)
    for color, info in colours.items():
        info["database"] = database.get(color)
    rollout, lock = None, None
    try:
        store = releasestate.Store(ws)
        rollout, lock = store.load(), store.holder()
    except releasestate.StateError as exc:
        warnings.append(str(exc))
    releases: list[dict] = []
    try:
        releases = [
            e
            for e in journal.read(ws)
            if e.get("kind") in ("release", "rollback") and e.get("outcome") != "started"
        ][-5:]
    except journal.JournalError as exc:
        warnings.append(str(exc))
    if "error" in migrations:
        warnings.append(f"migrations unknown: {migrations['error']}")
    return {
        "env": env,
        "live_color": live,
        "traffic": describe_traffic(_served(route53, written) or written),
        "canary_percent": written.canary_percent,
        "weights": {"repository": written.weights, "state": state_weights, "route53": route53},
        "colours": colours,
        "migrations": migrations,
        "release_in_progress": (
            {
                "id": rollout.id,
                "from": rollout.source,
                "to": rollout.target,
                "step": rollout.index + 1,
                "of": len(rollout.steps),
                "started_by": rollout.started_by,
                "updated_at": rollout.updated_at,
            }
            if rollout
            else None
        ),
        "release_lock": lock,
        "last_releases": releases,
        "problems": problems,
        "warnings": warnings,
    }


def traffic_problems(
    written: trafficfile.Traffic,
    state_live: str | None,
    state_weights: dict,
    route53: dict,
    env: str = "local",
) -> list[str]:
    """Whether the repository, the Terraform state and Route 53 list the same weights (only the colours that
    have a record: a disabled colour has none), and the repository and the state the same live colour; and
    what to run when they do not. Nothing deployed (no weights in the state or in Route 53) is not agreement.
    Nothing here asks which colour Route 53 "answers": at a tie that is arbitrary."""
    if not state_weights and not route53:
        return [
            f"nothing is deployed in ENV={env}: the state and Route 53 hold no traffic records while "
            f"{trafficfile.shown(trafficfile.path_for(env))} says {written.live_color} is live (`make plan` "
            "and `make apply` deploy it; locally, moto keeps nothing across `make down`: `make demo` deploys "
            "again)"
        ]
    sources = {"repository": written.weights, "state": state_weights, "Route 53": route53}
    present = set(route53) or set(state_weights) or set(written.weights)
    compared = {name: {c: w for c, w in weights.items() if c in present} for name, weights in sources.items()}
    disagree = [name for name, weights in compared.items() if weights and weights != compared["repository"]]
    if not disagree and (not state_live or state_live == written.live_color):
        return []
    shown = "; ".join(f"{name} {show_weights(weights)}" for name, weights in sources.items())
    if state_live:
        shown += f"; live colour: repository {written.live_color}, state {state_live}"
    hint = ""
    if compared["state"] == compared["Route 53"] and compared["state"]:
        hint = (
            f": {trafficfile.shown(trafficfile.path_for(env))} holds a change that was never applied "
            "(`make apply` applies it; `git checkout` of the file drops it)"
        )
    elif compared["repository"] == compared["state"]:
        hint = (
            ": Route 53 was changed outside Terraform (a break-glass rollback?): `make plan` shows the "
            "reconcile"
        )
    return [f"traffic disagrees: {shown}{hint}"]


def _served(route53: dict, written: trafficfile.Traffic) -> trafficfile.Traffic | None:
    """What Route 53 serves, as traffic settings (None without records; at a 50/50 tie the file names the
    live colour, as Terraform does)."""
    if not route53:
        return None
    weights = {color: int(route53.get(color) or 0) for color in environment.COLORS}
    live = max(sorted(weights), key=lambda color: weights[color])
    if len(set(weights.values())) == 1:
        live = written.live_color
    other = "green" if live == "blue" else "blue"
    return trafficfile.Traffic(live, weights[other])


def describe_traffic(traffic: trafficfile.Traffic) -> str:
    """``blue live``, ``blue live, green canary at 10%``, ``blue live, green at 50% (a tie)``."""
    if traffic.canary_percent == 0:
        return f"{traffic.live_color} live"
    if traffic.canary_percent == 50:
        return f"{traffic.live_color} live, {traffic.other_color} at 50% (a tie)"
    return f"{traffic.live_color} live, {traffic.other_color} canary at {traffic.canary_percent}%"


def _database(outputs: dict) -> dict:
    """Each colour's database role: sessions, and when it last ran a statement (the migrator's capture)."""
    from scripts.release.invoke import InvokeError, invoke

    function = outputs.get("migrator_function_name")
    if not function:
        return {}
    try:
        return evidence.summary_for_status(invoke(function, {"action": "capture"}))
    except InvokeError:
        return {}


def _migrations(outputs: dict) -> dict:
    from scripts.release.invoke import InvokeError, invoke

    function = outputs.get("migrator_function_name")
    if not function:
        return {"error": "no migrator deployed"}
    try:
        listed = invoke(function, {"action": "list"})
    except InvokeError as exc:
        return {"error": str(exc)}
    if not listed.get("ok"):
        return {"error": (listed.get("error") or {}).get("message")}
    items = listed.get("migrations", [])
    applied = [m["id"] for m in items if m["state"] == "applied"]
    pending = [m["id"] for m in items if m["state"] == "pending"]
    return {
        "latest_applied": applied[-1] if applied else None,
        "pending": pending,
        "contract_pending": [m["id"] for m in items if m["state"] == "pending" and m.get("contract")],
        "other": {m["id"]: m["state"] for m in items if m["state"] not in ("applied", "pending")},
    }


def render(status: dict) -> str:
    disagree = any(p.startswith("traffic disagrees") for p in status["problems"])
    lines = [
        f"ENV={status['env']}",
        f"  traffic       {status['traffic']}"
        + ("   <-- DISAGREE (below)" if disagree else "   (repository, state and Route 53 agree)"),
    ]
    weights = status["weights"]
    for source, label in (("repository", "repository"), ("state", "state"), ("route53", "Route 53")):
        lines.append(f"  weights       {label:10} {show_weights(weights[source])}")
    for color, info in status["colours"].items():
        tasks = info["tasks"] or {}
        alarms = ", ".join(f"{n.rsplit(color + '-', 1)[-1]} {s}" for n, s in info["alarms"].items()) or "none"
        lines.append(
            f"  {color:5}         image {info['image']}  tasks {tasks.get('running', '?')}/"
            f"{tasks.get('desired', '?')}  alarms: {alarms}"
        )
        database = info.get("database") or {}
        if database:
            lines.append(
                f"                database role {database['role']}: last statement "
                f"{database['last_statement'] or 'never'}, {database['sessions']} session(s) open"
            )
    m = status["migrations"]
    if "error" in m:
        lines.append(f"  migrations    unknown: {m['error']}")
    else:
        contract = f"  contract pending: {', '.join(m['contract_pending'])}" if m["contract_pending"] else ""
        lines.append(
            f"  migrations    latest applied {m['latest_applied'] or 'none'}  pending "
            f"{', '.join(m['pending']) or 'none'}{contract}"
        )
    if status["release_in_progress"]:
        r = status["release_in_progress"]
        lines.append(
            f"  in progress   release {r['id']} {r['from']} -> {r['to']} at step {r['step']}/{r['of']}: "
            "`make release` resumes, `make rollback` undoes"
        )
        lines.append(f"                started by {r['started_by']}, last saved {r['updated_at']}")
    if status.get("release_lock"):
        lines.append(f"  release lock  held by {releasestate.describe_holder(status['release_lock'])}")
    lines.append("  last releases" + ("" if status["last_releases"] else "  none"))
    lines += [f"    {journal.render_line(e)}" for e in status["last_releases"]]
    lines += [f"  warning: {w}" for w in status.get("warnings", [])]
    lines += [f"  PROBLEM: {p}" for p in status["problems"]]
    return "\n".join(lines)


def main() -> int:
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    problem = environment.env_problem(env)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return exitcodes.BAD_INPUT
    try:
        status = gather(env)
    except (environment.ReleaseError, TerraformError, trafficfile.TrafficFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if (os.environ.get("KIT_FORMAT") or "").lower() == "json":
        print(json.dumps(status, sort_keys=True))
    else:
        print(render(status))
    return 1 if status["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
