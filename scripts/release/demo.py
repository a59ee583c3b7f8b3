"""`make demo`: the whole release pattern on the local default, step by step, through the checkout's own
env file (terraform/env/local.tfvars), as a developer's pull requests would change it.

    1. build the migrator package (and, on a second run, reset the story: see below)
    2. deploy blue at version 1 (green not deployed yet), and migrate the schema through the deployed
       function (up to the tables version 1 needs); blue's tasks start once its role is set up
    3. blue's traffic: version 1's statements run as blue's own database role (`make traffic COLOR=blue`),
       and the statement inventory records them (`make statements COLOR=blue`)
    4. deploy green at version 2 next to it (green's image in the env file); blue keeps all the traffic
    5. a developer's first try at version 2's schema change renames users.full_name to display_name in one
       expand migration (a migrator built with it, named by migrator_package_path in the env file):
       `make release COLOR=green MIGRATE=1` stops at its migrate step, before any traffic moves, because the
       migration breaks blue's statements (named, with the fix)
    6. the fix (add display_name, backfill it in batches, index: the repository's 0004-0006) is deployed and
       the release resumes: the check passes, 10% to green, bake... and green's 5xx alarm fires during the
       bake, so the release rolls back by itself, through the break-glass path (one Route 53 change batch,
       no plan, no state lock)
    7. green's traffic (version 2's statements, as green's role)
    8. `make release COLOR=green` again, alarms quiet: 10% -> 50% -> 100%, completed
    9. blue is drained (desired_count 0) and the contract step 0007 (drop full_name) runs: the gate finds no
       weight, task, session, statement or connection of blue, and the check holds for green alone
   10. blue gets version 2 and its task back: the next release can go either way
   11. `make status`

What it leaves is what the checkout says: green live at version 2, blue idle at version 2, the schema at
0007. The env file shows it (`git diff terraform/env`), `make plan` has nothing to change, and the last lines
say what to try next. A second run first resets that story: traffic back to blue at version 1 and the schema
back to version 1's (0003).

Nothing produces metrics or runs containers on the local default, so the demo stands in for them, and says
so: step 6 fires the alarm the way CloudWatch would when the threshold is crossed (SetAlarmState); during
the releases it publishes synthetic traffic, RequestCount datapoints for each colour's load balancer
(PutMetricData), and asks for MIN_REQUESTS=200 as an AWS environment would (a bake that saw fewer is
inconclusive and never passes; moto accepts datapoints in the AWS/ApplicationELB namespace; AWS reserves
"AWS/" namespaces for its own services, so on AWS only the load balancer itself can publish them); and
`make traffic` stands in for each colour's application. Each step prints what it does, its progress and its
time, and the demo stops at the first failure with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from scripts import LOCAL_DIR, REPO
from scripts.localdefault import localenv
from scripts.release import (
    contract,
    envfile,
    environment,
    evidence,
    exitcodes,
    observe,
    releasestate,
    rollout,
    status,
    switch,
    traffic,
    trafficfile,
)
from scripts.release.invoke import InvokeError, invoke
from scripts.release.tf import TerraformError
from scripts.release.trafficfile import Traffic, show_weights

ENV = environment.LOCAL_ENV
DEMO_DIR = LOCAL_DIR / "demo"
V1 = "public.ecr.aws/nginx/nginx:1.27"  # what terraform/env/local.tfvars deploys
V2 = "public.ecr.aws/nginx/nginx:1.28"
MIGRATE_FOR_V1 = "0003"  # users, posts, follows
RELEASE = {"steps": "10,50,100", "bake_seconds": "3", "min_requests": "200"}


class DemoFailed(RuntimeError):
    pass


# A developer's first try at version 2's schema change: one expand migration that renames the column.
BAD_EXPAND = ("0004_rename_full_name", "ALTER TABLE users RENAME COLUMN full_name TO display_name;\n")


def say(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def env_file() -> Path:
    return trafficfile.path_for(ENV)


def change_env_file(why: str, **edits: dict[str, envfile.Value | None]) -> None:
    """Edit the checkout's env file as a pull request would, and say what changed."""
    top = edits.pop("top", None)
    if envfile.edit(env_file(), blocks=edits, top=top):
        say(f"{os.path.relpath(env_file())}: {why}")


def deploy(why: str = "") -> dict:
    """`make plan` then `make apply AUTO_APPROVE=1`: the env file as it is now."""
    if why:
        say(why)
    switch.plan(ENV)
    return switch.apply(ENV, auto_approve=True)


SYNTHETIC_REQUESTS_PER_SECOND = 1000  # to the live name, split as Route 53's weights split it


def synthetic_traffic(stop: threading.Event) -> None:
    """Until ``stop``: RequestCount datapoints for each colour's load balancer, one per second, as the ALBs
    would publish them under real traffic split by the weights Route 53 answers with (the demo's stand-in;
    see the module docstring). A colour at weight 0 gets none, as on AWS once resolvers have the new
    weights."""
    ws = environment.workspace(ENV)
    session = environment.aws_session(ws)
    outputs = ws.outputs()
    stacks = outputs.get("stacks") or {}
    balancers = {
        color: observe.alb_arn(session, stack["target_group_arn"]) for color, stack in stacks.items()
    }
    cloudwatch = session.client("cloudwatch")
    while not stop.wait(1.0):
        weights = observe.route53_weights(
            session, outputs["hostnames"]["live"], outputs.get("hosted_zone_id")
        )
        data = [
            {
                "MetricName": "RequestCount",
                "Dimensions": [{"Name": "LoadBalancer", "Value": observe.load_balancer_dimension(arn)}],
                "Value": SYNTHETIC_REQUESTS_PER_SECOND * weights.get(color, 0) / 100,
                "Unit": "Count",
            }
            for color, arn in balancers.items()
            if arn and weights.get(color)
        ]
        if data:
            cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)


_MANIFEST = """\"\"\"The repository's manifest, changed as a developer would: {why}.\"\"\"
from pathlib import Path

from migrator import sql_pair

from migrations import _repository_manifest as _repository

_SQL = Path(__file__).resolve().parent / "sql"
_ADDED = tuple(sql_pair(_SQL / stem) for stem in {stems!r})
MIGRATIONS = tuple(m for m in _repository.MIGRATIONS if {keep}) + _ADDED
SEEDS = _repository.SEEDS
MODULES = (*_repository.MODULES, "migrations._repository_manifest")
FILES = (*_repository.FILES, *(f"migrations/sql/{{stem}}.up.sql" for stem in {stems!r}))
"""


def package_with(
    output: Path, added: list[tuple[str, str]], *, keep_through: str | None = None, why: str = ""
) -> Path:
    """The migrator package built from this tree, its manifest changed as a developer would: the
    repository's migrations (up to and including ``keep_through`` when given), then ``added`` (stem, up
    SQL) as SQL-file migrations. Built by the same build as `make build`, into ``output``."""
    root = output.parent / f"{output.stem}-tree"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "lambda").symlink_to(REPO / "lambda")
    shutil.copytree(REPO / "migrations", root / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "migrations" / "manifest.py").rename(root / "migrations" / "_repository_manifest.py")
    for stem, sql in added:
        (root / "migrations" / "sql" / f"{stem}.up.sql").write_text(sql)
    keep = f"m.id <= {keep_through!r}" if keep_through else "True"
    stems = [stem for stem, _ in added]
    (root / "migrations" / "manifest.py").write_text(_MANIFEST.format(why=why, stems=stems, keep=keep))
    subprocess.run(
        [sys.executable, "-m", "scripts.tooling.build_lambda", "--source-root", str(root), "--output",
         str(output), "--wheel-cache", str(REPO / ".local" / "wheels")],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return output


def release_green(*, fire_alarm: bool) -> dict:
    """`make release COLOR=green` with short bakes and synthetic traffic; with ``fire_alarm``, green's 5xx
    alarm goes to ALARM during the first bake, as CloudWatch would set it on a breach."""
    alarm = "release-kit-local-green-target-5xx-rate"
    cloudwatch = _boto("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="demo: start quiet")
    firing = threading.Event()
    say(
        f"(demo) synthetic traffic: {SYNTHETIC_REQUESTS_PER_SECOND} requests/s split by Route 53's weights, "
        "published as RequestCount datapoints (PutMetricData), and MIN_REQUESTS=200 as on AWS"
    )
    traffic_thread = threading.Thread(target=synthetic_traffic, args=(firing,), daemon=True)
    traffic_thread.start()

    def fire_during_the_first_bake() -> None:
        store = releasestate.Store(environment.workspace(ENV))
        while not firing.is_set():
            state = store.load()
            if state and state.steps[state.index]["do"] == "bake":
                print(f"\n    (demo) {alarm} -> ALARM: 5xx rate over the threshold", file=sys.stderr)
                cloudwatch.set_alarm_state(
                    AlarmName=alarm, StateValue="ALARM", StateReason="demo: 5xx rate 40%"
                )
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=fire_during_the_first_bake, daemon=True) if fire_alarm else None
    if watcher:
        watcher.start()
    try:
        summary = rollout.release(ENV, "green", migrate=fire_alarm, auto_approve=True, **RELEASE)
    finally:
        firing.set()
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="demo: reset")
    if summary.get("alarm_to_weights_s") is not None:
        say(f"break-glass: weights restored {summary['alarm_to_weights_s']}s after the alarm fired")
    expected = "rolled_back" if fire_alarm else "completed"
    if summary["outcome"] != expected:
        raise DemoFailed(f"the release ended {summary['outcome']}, expected {expected}: {summary['reason']}")
    say(f"release {summary['outcome']}; Route 53 now answers {show_weights(route53_weights())}")
    return summary


def run_traffic(color: str) -> dict:
    """`make traffic COLOR=<color>`: the colour's own statements as its own role; then what the inventory
    holds of it (`make statements COLOR=<color>`)."""
    conn, how = traffic.connect_as(color, ENV)
    with conn:
        summary = traffic.run(conn, color, rounds=2)
    info = migrate({"action": "statements", "color": color})["colors"][color]
    say(
        f"{color} ran {summary['executed']} statements as {how}; the inventory holds {info['statements']} "
        f"distinct statements of {info['role']} ({info['calls']} calls) over {', '.join(info['tables'])}"
    )
    return summary


def _package_setting(package: Path) -> str:
    """migrator_package_path as the env file names it: relative to terraform/ when inside the checkout."""
    shown = os.path.relpath(package, REPO / "terraform")
    return str(package) if shown.startswith("../..") else shown


def bad_expand_refused() -> dict:
    """Deploy a migrator whose next migration renames full_name in one expand step, and release green with
    it: the release stops at its migrate step, before any traffic moves, naming blue's broken statement."""
    package = package_with(
        DEMO_DIR / "migrator-rename.zip",
        [BAD_EXPAND],
        keep_through=MIGRATE_FOR_V1,
        why="version 2's display_name by renaming full_name, marked expand",
    )
    change_env_file(
        f"migrator_package_path = {_package_setting(package)} (a migrator with {BAD_EXPAND[0]}, expand: "
        f"{BAD_EXPAND[1].strip()})",
        top={"migrator_package_path": _package_setting(package)},
    )
    deploy()
    summary = rollout.release(ENV, "green", migrate=True, auto_approve=True, **RELEASE)
    reason = summary.get("reason") or ""
    if summary["outcome"] != "stopped" or "breaks blue" not in reason:
        raise DemoFailed(f"the rename was not refused before traffic moved: {summary['outcome']}: {reason}")
    weights = route53_weights()
    if weights.get("green"):
        raise DemoFailed(f"traffic moved although the migration was refused: {show_weights(weights)}")
    say(
        "refused at the migrate step (named above, with the fix); Route 53 still answers "
        f"{show_weights(weights)}"
    )
    return {"outcome": summary["outcome"], "step": "migrate"}


def fix_and_resume() -> dict:
    """Deploy the migrations that do it right (the repository's own: add, backfill, index), then resume."""
    change_env_file(
        "migrator_package_path removed: the repository's migrator (0004 add, 0005 backfill, 0006 index)",
        top={"migrator_package_path": None},
    )
    deploy()
    return release_green(fire_alarm=True)


def contract_after_drain() -> dict:
    """Drain blue (desired_count 0), then `make migrate ALLOW_CONTRACT=1`: the contract gate's evidence,
    then the compatibility check of 0007 against green alone."""
    change_env_file("blue drained: desired_count = 0", blue={"desired_count": 0})
    deploy()
    ws = environment.workspace(ENV)
    wait_until_quiet(ws, "blue")
    ws.export_aws_env()
    function = ws.outputs()["migrator_function_name"]
    event = contract.gate_event(ws, function, {"action": "migrate", "allow_contract": True})
    result = invoke(function, event)
    contract.journal_run(ws, event, result)
    if not result.get("ok"):
        error = result.get("error", {})
        raise DemoFailed(f"the contract step failed: {error.get('type')}: {error.get('message')}")
    say(evidence.describe_compatibility(result))
    return result


QUIET_WAIT_LIMIT_SECONDS = 180


def wait_until_quiet(ws, color: str) -> None:
    """The contract gate wants the old colour's load balancer quiet for CONTRACT_QUIET_MINUTES (1 on the
    local default): blue served requests until its weight reached 0, so wait, as an operator would."""
    minutes = evidence.quiet_minutes(ENV)
    session = environment.aws_session(ws)
    suffix = ((ws.outputs().get("stacks") or {}).get(color) or {}).get("alb_arn_suffix")
    began = time.monotonic()
    while True:
        seen = evidence.load_balancer(session, suffix, minutes)
        waited = time.monotonic() - began
        if seen.quiet:
            if waited >= 1:
                say(f"{color}'s load balancer has been quiet for {minutes} minute(s) (waited {waited:.0f}s)")
            return
        if waited > QUIET_WAIT_LIMIT_SECONDS:
            return  # the gate itself says why it refuses
        say(
            f"[{waited:4.0f}s] waiting for {color}'s load balancer to be quiet for {minutes} minute(s) "
            f"(CONTRACT_QUIET_MINUTES): {seen.describe(color).removeprefix('its load balancer ')}"
        )
        time.sleep(10)


def ready_for_the_next_release() -> dict:
    """Blue gets version 2 and its task back, idle: a release to blue, or back, works from here."""
    change_env_file(f"blue at version 2 ({V2}), its task back", blue={"image": V2, "desired_count": None})
    return deploy()


def first_deploy() -> dict:
    """Blue at version 1 (green not deployed yet), then migrate to 0003: blue's tasks wait for the role
    migrate sets up, so the next apply starts them (README, "The first deploy")."""
    green_up = "green" in (_outputs().get("stacks") or {})
    change_env_file(
        f"blue at version 1 ({V1})" + ("" if green_up else "; green not deployed yet (enabled = false)"),
        blue={"image": V1, "desired_count": None},
        **({} if green_up else {"green": {"enabled": False}}),
    )
    deploy()
    # After `make down` the database keeps what an earlier run applied while moto forgot the rest
    applied = applied_migrations()
    if any(m > MIGRATE_FOR_V1 for m in applied):
        say(f"the database kept {', '.join(applied)} from an earlier run: rolling back to {MIGRATE_FOR_V1}")
        migrate({"action": "rollback", "target": MIGRATE_FOR_V1})
    return migrate({"action": "migrate", "target": MIGRATE_FOR_V1})


def deploy_green_v2() -> dict:
    change_env_file(f"green at version 2 ({V2})", green={"enabled": True, "image": V2})
    return deploy("blue keeps all the traffic; its tasks start too (its role is set up now)")


def story_start() -> None:
    """A second run starts where the first one did: blue live at version 1, the schema at 0003. (Green stays
    deployed: moto cannot re-create a Route 53 record it has deleted, and re-creating it would be slow.)"""
    ws = environment.workspace(ENV)
    ws.init()
    if not (ws.outputs().get("stacks") or {}):
        # A fresh moto (after `make down`) holds nothing, whatever the env file says: start from blue
        say("a fresh local default: nothing deployed yet (moto keeps nothing across `make down`)")
        if trafficfile.read(env_file()) != Traffic("blue", 0):
            trafficfile.write(env_file(), Traffic("blue", 0))
            say(f"{trafficfile.shown(env_file())}: blue live again, as the story starts")
        change_env_file("the repository's migrator", top={"migrator_package_path": None})
        return
    store = releasestate.Store(ws)
    if store.abort("abandoned", "make demo starts its story again", "make demo"):
        say("an unfinished release was ended (make demo starts its story again)")
    applied = applied_migrations()
    if any(m > MIGRATE_FOR_V1 for m in applied):
        say(f"an earlier run applied {', '.join(applied)}: rolling back to {MIGRATE_FOR_V1}")
        migrate({"action": "rollback", "target": MIGRATE_FOR_V1})
    # Traffic as deployed first (a run stopped mid-apply may have left the file ahead of the state)
    outputs = ws.outputs()
    written = trafficfile.deployed(outputs) or Traffic("blue", 0)
    trafficfile.write(env_file(), written)
    change_env_file(
        f"blue at version 1 ({V1}), the repository's migrator",
        blue={"image": V1, "desired_count": None},
        top={"migrator_package_path": None},
    )
    # blue's task first, where it is idle: a colour takes traffic only once it runs what Terraform deployed
    switch.plan(ENV)
    switch.apply(ENV, auto_approve=True, allow_destroy=True)
    if written != Traffic("blue", 0):
        say(f"traffic back to blue (an earlier run left {written.describe()})")
        switch.plan(ENV, "blue")
        switch.apply(ENV, "blue", auto_approve=True)


def _boto(service: str):
    import boto3

    environment.workspace(ENV).export_aws_env()
    return boto3.client(service)


def _outputs() -> dict:
    ws = environment.workspace(ENV)
    ws.init()
    return ws.outputs()


def show_status() -> None:
    print(status.render(status.gather(ENV)), file=sys.stderr)


def migrate(event: dict) -> dict:
    ws = environment.workspace(ENV)
    ws.export_aws_env()
    function = ws.outputs()["migrator_function_name"]
    result = invoke(function, event)
    if not result.get("ok"):
        error = result.get("error", {})
        raise DemoFailed(f"{event['action']} failed: {error.get('type')}: {error.get('message')}")
    return result


def applied_migrations() -> list[str]:
    listed = migrate({"action": "list"})
    return [m["id"] for m in listed["migrations"] if m["state"] == "applied"]


def route53_weights() -> dict[str, int]:
    """The weights Route 53 itself answers with for the live name (not what Terraform meant to set)."""
    ws = environment.workspace(ENV)
    outputs = ws.outputs()
    session = environment.aws_session(ws)
    return observe.route53_weights(session, outputs["hostnames"]["live"], outputs.get("hosted_zone_id"))


def _started() -> float:
    """When `make demo` started (the Makefile passes it: installing the tools counts too), else now."""
    raw = os.environ.get("KIT_DEMO_STARTED", "")
    return float(raw) if raw.strip().isdigit() else time.time()


STEPS: list[tuple[str, Callable[[], object]]] = [
    (
        "build the migrator package (dist/migrator.zip)",
        lambda: subprocess.run(
            [sys.executable, "-m", "scripts.tooling.build_lambda"], check=True, stdout=subprocess.DEVNULL
        ),
    ),
    ("start of the story (a second run resets what the first one left)", story_start),
    (
        f"deploy blue at version 1 and migrate up to {MIGRATE_FOR_V1} through the deployed function",
        first_deploy,
    ),
    ("blue's traffic, as blue's own database role (make traffic COLOR=blue)", lambda: run_traffic("blue")),
    ("deploy green at version 2 beside it", deploy_green_v2),
    (
        "release green with a migration that renames full_name (marked expand): refused before traffic",
        bad_expand_refused,
    ),
    (
        "deploy the right migrations and resume; green's 5xx alarm fires in the first bake, and the "
        "break-glass rollback returns the weights",
        fix_and_resume,
    ),
    (
        "green's traffic, as green's own database role (make traffic COLOR=green)",
        lambda: run_traffic("green"),
    ),
    ("release green again, alarms quiet: 10% -> 50% -> 100%", lambda: release_green(fire_alarm=False)),
    ("drain blue, then the contract step 0007 (ALLOW_CONTRACT=1)", contract_after_drain),
    ("blue at version 2 with its task back, idle: ready for the next release", ready_for_the_next_release),
    ("make status", show_status),
]


def main() -> int:
    started = _started()
    try:
        for number, (title, step) in enumerate(STEPS, start=1):
            print(f"\n==> Step {number}/{len(STEPS)}: {title}", file=sys.stderr, flush=True)
            step_started = time.monotonic()
            result = step()
            if isinstance(result, dict) and result.get("action") in ("migrate", "rollback"):
                say(_describe(result))
            say(f"done in {time.monotonic() - step_started:.0f}s")
    except KeyboardInterrupt:
        print(
            "\ndemo interrupted: `make status` shows where it stopped; `make demo` starts its story over "
            "from what is deployed",
            file=sys.stderr,
        )
        return exitcodes.INTERRUPTED
    except (
        DemoFailed,
        environment.ReleaseError,
        TerraformError,
        InvokeError,
        localenv.LocalEnvError,
        trafficfile.TrafficFileError,
        envfile.EnvFileError,
        subprocess.CalledProcessError,
        psycopg.Error,
    ) as exc:
        print(f"\ndemo stopped: {str(exc).strip()}", file=sys.stderr)
        print(
            "Fix the cause and run `make demo` again (it starts its story over); if it stops the same way, "
            "`make clean && git checkout terraform/env && make demo` starts from nothing.",
            file=sys.stderr,
        )
        return 1

    weights = route53_weights()
    written = trafficfile.read(env_file())
    summary = {
        "live_color": written.live_color,
        "weights": weights,
        "env_file": os.path.relpath(env_file()),
        "applied_migrations": applied_migrations(),
        "total_seconds": round(time.time() - started),
    }
    shown = os.path.relpath(env_file())
    print(
        f"""
The demo left
  traffic              {show_weights(weights)}: green live at version 2, blue idle at version 2
  env file             {shown} says so (git diff {os.path.dirname(shown)} shows what the demo changed)
  schema               {", ".join(summary["applied_migrations"]) or "none"}
  total time           {summary["total_seconds"]}s

Try next
  make status                                   one screen: traffic, images, tasks, alarms, migrations
  make plan                                     nothing to change: the checkout says what is deployed
  make release COLOR=blue STEPS=50,100 BAKE=5 AUTO_APPROVE=1
  make rollback                                 all traffic back to green now (break-glass)
  make migrate ACTION=list                      the migrations and their state""",
        file=sys.stderr,
    )
    print(json.dumps(summary))
    return 0


def _describe(result: dict) -> str:
    action = result["action"]
    key = "applied" if action == "migrate" else "rolled_back"
    done = result.get(key) or []
    ids = ", ".join(str(m.get("id", m)) if isinstance(m, dict) else str(m) for m in done)
    verb = "applied" if action == "migrate" else "rolled back"
    return f"{verb}: {ids or 'nothing (already there)'} ({result.get('duration_ms')} ms)"


if __name__ == "__main__":
    sys.exit(main())
