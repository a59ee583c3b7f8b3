"""`make status [ENV=local] [FORMAT=json]`: one screen on what is live, and whether everything agrees.

The live colour three ways (as the repository's env tfvars says, as the Terraform state says, as Route 53
answers; a disagreement is flagged), the weights, each colour's image and running/desired tasks, the alarm
states, when each colour's database role last ran a statement and how many sessions it has open (the
statement inventory), the migration level (latest applied, pending, whether a contract step is pending), an
unfinished release, and the last releases from the journal.
"""

from __future__ import annotations

import json
import os
import sys

from scripts.release import environment, evidence, journal, observe, trafficfile
from scripts.release.rollout import Rollout
from scripts.release.tf import TerraformError


def gather(env: str) -> dict:
    ws = environment.workspace(env)
    ws.init()
    outputs = ws.outputs()
    session = environment.aws_session(ws)
    problems: list[str] = []

    written = trafficfile.read(trafficfile.path_for(env))
    hostnames = outputs.get("hostnames") or {}
    route53 = observe.route53_weights(session, hostnames["live"]) if hostnames.get("live") else {}
    state_weights = outputs.get("traffic_weights") or {}
    answered = max(route53, key=route53.get) if route53 else None
    live = {"repository": written.live_color, "state": outputs.get("live_color"), "route53": answered}
    # A disabled colour has no record, so compare only the colours Route 53 has.
    expected = {c: w for c, w in written.weights.items() if c in route53}
    if len({v for v in live.values() if v}) > 1 or (route53 and route53 != expected):
        problems.append(
            f"live colour or weights disagree: repository {written.weights}, state {state_weights}, "
            f"Route 53 {route53}"
        )

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
    rollout = Rollout.load(env)
    releases: list[dict] = []
    try:
        releases = [e for e in journal.read(ws) if e.get("kind") in ("release", "rollback")][-5:]
    except journal.JournalError as exc:
        problems.append(str(exc))
    return {
        "env": env,
        "live_color": live,
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
            }
            if rollout
            else None
        ),
        "last_releases": releases,
        "problems": problems,
    }


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
    live = status["live_color"]
    agree = len({v for v in live.values() if v}) == 1
    lines = [
        f"ENV={status['env']}",
        f"  live colour   repository {live['repository']}  state {live['state']}  Route 53 {live['route53']}"
        + ("" if agree else "   <-- DISAGREE"),
    ]
    weights = status["weights"]
    for source in ("repository", "state", "route53"):
        shown = ", ".join(f"{c} {w}" for c, w in sorted(weights[source].items())) or "-"
        lines.append(f"  weights       {source:10} {shown}")
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
    lines.append("  last releases" + ("" if status["last_releases"] else "  none"))
    lines += [f"    {journal.render_line(e)}" for e in status["last_releases"]]
    lines += [f"  PROBLEM: {p}" for p in status["problems"]]
    return "\n".join(lines)


def main() -> int:
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    try:
        status = gather(env)
    except (environment.ReleaseError, TerraformError, trafficfile.TrafficFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if (os.environ.get("KIT_FORMAT") or "").lower() == "json":
        print(json.dumps(status, sort_keys=True))
    else:
        print(render(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
