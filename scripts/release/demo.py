"""`make demo`: the whole release pattern on the local default, step by step.

    1. build the migrator package
    2. deploy blue at version 1 (green not deployed yet)
    3. migrate the schema through the deployed function (up to the tables version 1 needs)
    4. blue's traffic: version 1's statements run as blue's own database role (`make traffic COLOR=blue`),
       and the statement inventory records them (`make statements COLOR=blue`)
    5. deploy green at version 2 next to it; blue keeps all the traffic
    6. a developer's first try at version 2's schema change renames users.full_name to display_name in one
       expand migration: `make release COLOR=green MIGRATE=1` stops at its migrate step, before any traffic
       moves, because the migration breaks blue's statements (named, with the fix)
    7. the fix (add display_name, backfill it in batches, index: the repository's 0004-0006) is deployed and
       the release resumes: the check passes, 10% to green, bake... and green's 5xx alarm fires during the
       bake, so the release rolls back by itself, through the break-glass path (one Route 53 change batch,
       no plan, no state lock)
    8. green's traffic (version 2's statements, as green's role), then `make release COLOR=green` again,
       alarms quiet: 10% -> 50% -> 100%, completed
    9. blue is drained (desired_count 0) and the contract step 0007 (drop full_name) runs: the gate finds no
       weight, task, session, statement or connection of blue, and the check holds for green alone
   10. `make status`

Nothing produces metrics or runs containers on the local default, so the demo stands in for them, and says
so: step 7 fires the alarm the way CloudWatch would when the threshold is crossed (SetAlarmState); during
the releases it publishes synthetic traffic, RequestCount datapoints for each colour's load balancer
(PutMetricData), because a bake that saw fewer than MIN_REQUESTS requests is inconclusive and never passes
(moto accepts datapoints in the AWS/ApplicationELB namespace; AWS reserves "AWS/" namespaces for its own
services, so on AWS only the load balancer itself can publish them); and `make traffic` stands in for each
colour's application. Each step prints what it does, its progress and its time, and the demo stops at the
first failure with the reason. The demo works on a copy of terraform/env under .local/demo/env (a release
writes live_color there), so your checkout's tfvars never change; a second run first rolls the schema back
to version 1's.
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

from scripts import LOCAL_DIR, REPO
from scripts.localdefault import localenv
from scripts.release import (
    contract,
    environment,
    evidence,
    observe,
    releasestate,
    rollout,
    status,
    switch,
    traffic,
    trafficfile,
)
from scripts.release.invoke import InvokeError, invoke
from scripts.release.tf import ENV_DIR, TerraformError

ENV = environment.LOCAL_ENV
OVERLAY_DIR = LOCAL_DIR / "demo"
V1 = "public.ecr.aws/nginx/nginx:1.27"  # what terraform/env/local.tfvars deploys
V2 = "public.ecr.aws/nginx/nginx:1.28"
MIGRATE_FOR_V1 = "0003"  # users, posts, follows
EXPAND_FOR_V2 = "0006"  # display_name: add, backfill in batches, index concurrently
# moto stores no health check grace period (0 reads back as sent), and nginx writes to its root filesystem.
MOTO_SERVICE = "health_check_grace_period_seconds = 0, readonly_root_filesystem = false"


class DemoFailed(RuntimeError):
    pass


# A developer's first try at version 2's schema change: one expand migration that renames the column.
BAD_EXPAND = ("0004_rename_full_name", "ALTER TABLE users RENAME COLUMN full_name TO display_name;\n")


def overlay(
    name: str, *, green_enabled: bool = True, blue_count: int = 1, package: Path | None = None
) -> tuple[Path, ...]:
    """A tfvars file layered over terraform/env/local.tfvars: what a pull request would change (never the
    traffic: that lives in the env tfvars only)."""
    OVERLAY_DIR.mkdir(parents=True, exist_ok=True)
    path = OVERLAY_DIR / f"{name}.tfvars"
    path.write_text(
        f'blue  = {{ enabled = true, image = "{V1}", container_port = 80, desired_count = {blue_count}, '
        f"{MOTO_SERVICE} }}\n"
        f'green = {{ enabled = {str(green_enabled).lower()}, image = "{V2}", container_port = 80, '
        f"{MOTO_SERVICE} }}\n" + (f'migrator_package_path = "{package}"\n' if package else "")
    )
    return (path,)


SYNTHETIC_REQUESTS_PER_SECOND = 200


def synthetic_traffic(stop: threading.Event) -> None:
    """Until ``stop``: RequestCount datapoints for both colours' load balancers, one per second, as the ALBs
    would publish them under real traffic (the demo's stand-in; see the module docstring)."""
    ws = environment.workspace(ENV)
    session = environment.aws_session(ws)
    stacks = ws.outputs().get("stacks") or {}
    balancers = [observe.alb_arn(session, stack["target_group_arn"]) for stack in stacks.values()]
    cloudwatch = session.client("cloudwatch")
    while not stop.wait(1.0):
        cloudwatch.put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "RequestCount",
                    "Dimensions": [{"Name": "LoadBalancer", "Value": observe.load_balancer_dimension(arn)}],
                    "Value": SYNTHETIC_REQUESTS_PER_SECOND,
                    "Unit": "Count",
                }
                for arn in balancers
                if arn
            ],
        )


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


def release_green(var_files: tuple[Path, ...], *, fire_alarm: bool) -> dict:
    """`make release COLOR=green` with short bakes and synthetic traffic; with ``fire_alarm``, green's 5xx
    alarm goes to ALARM during the first bake, as CloudWatch would set it on a breach."""
    alarm = "release-kit-local-green-target-5xx-rate"
    cloudwatch = _boto("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="demo: start quiet")
    firing = threading.Event()
    print(
        f"    (demo) synthetic traffic: {SYNTHETIC_REQUESTS_PER_SECOND} requests/s to each colour, published "
        "as RequestCount datapoints (PutMetricData) so the bakes have traffic to judge",
        file=sys.stderr,
    )
    traffic = threading.Thread(target=synthetic_traffic, args=(firing,), daemon=True)
    traffic.start()

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
        summary = rollout.release(
            ENV,
            "green",
            steps="10,50,100",
            bake_seconds="3",
            migrate=fire_alarm,
            auto_approve=True,
            extra_var_files=var_files,
        )
    finally:
        firing.set()
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="demo: reset")
    print(json.dumps(summary))
    if summary.get("alarm_to_weights_s") is not None:
        print(
            f"    break-glass: weights restored {summary['alarm_to_weights_s']}s after the alarm fired",
            file=sys.stderr,
        )
    expected = "rolled_back" if fire_alarm else "completed"
    if summary["outcome"] != expected:
        raise DemoFailed(f"the release ended {summary['outcome']}, expected {expected}: {summary['reason']}")
    print(f"    Route 53 now answers {route53_weights()}", file=sys.stderr)
    return summary


def run_traffic(color: str) -> dict:
    """`make traffic COLOR=<color>`: the colour's own statements as its own role; then what the inventory
    holds of it (`make statements COLOR=<color>`)."""
    conn, how = traffic.connect_as(color, ENV)
    with conn:
        summary = traffic.run(conn, color, rounds=2)
    info = migrate({"action": "statements", "color": color})["colors"][color]
    print(
        f"    {color} ran {summary['executed']} statements as {how}; the inventory holds "
        f"{info['statements']} distinct statements of {info['role']} ({info['calls']} calls) over "
        f"{', '.join(info['tables'])}",
        file=sys.stderr,
    )
    return summary


def bad_expand_refused() -> dict:
    """Deploy a migrator whose next migration renames full_name in one expand step, and release green with
    it: the release stops at its migrate step, before any traffic moves, naming blue's broken statement."""
    package = package_with(
        OVERLAY_DIR / "migrator-rename.zip",
        [BAD_EXPAND],
        keep_through=MIGRATE_FOR_V1,
        why="version 2's display_name by renaming full_name, marked expand",
    )
    files = overlay("2b-rename-migration", package=package)
    print(f"    deploying a migrator with {BAD_EXPAND[0]} (expand): {BAD_EXPAND[1].strip()}", file=sys.stderr)
    deploy("blue", files)
    summary = rollout.release(
        ENV,
        "green",
        steps="10,50,100",
        bake_seconds="3",
        migrate=True,
        auto_approve=True,
        extra_var_files=files,
    )
    reason = summary.get("reason") or ""
    if summary["outcome"] != "stopped" or "breaks blue" not in reason:
        print(json.dumps(summary))
        raise DemoFailed(f"the rename was not refused before traffic moved: {summary['outcome']}: {reason}")
    weights = route53_weights()
    if weights.get("green"):
        raise DemoFailed(f"traffic moved although the migration was refused: {weights}")
    print(f"    refused at the migrate step (named above, with the fix); Route 53 still answers {weights}",
          file=sys.stderr)  # fmt: skip
    return {"outcome": summary["outcome"], "step": "migrate"}


def fix_and_resume() -> dict:
    """Deploy the migrations that do it right (the repository's own: add, backfill, index), then resume."""
    print("    deploying the repository's migrator (0004 add, 0005 backfill, 0006 index)", file=sys.stderr)
    deploy("blue", overlay("2-green-v2"))
    return release_green(overlay("2-green-v2"), fire_alarm=True)


def contract_after_drain() -> dict:
    """Drain blue (desired_count 0), then `make migrate ALLOW_CONTRACT=1`: the contract gate's evidence,
    then the compatibility check of 0007 against green alone."""
    deploy("green", overlay("3-blue-drained", blue_count=0))
    ws = environment.workspace(ENV)
    ws.export_aws_env()
    function = ws.outputs()["migrator_function_name"]
    event = contract.gate_event(ws, function, {"action": "migrate", "allow_contract": True})
    result = invoke(function, event)
    contract.journal_run(ws, event, result)
    if not result.get("ok"):
        error = result.get("error", {})
        raise DemoFailed(f"the contract step failed: {error.get('type')}: {error.get('message')}")
    print(f"    {evidence.describe_compatibility(result)}", file=sys.stderr)
    return result


def deploy_blue_v1() -> dict:
    """Deploy blue at version 1. A second run finds blue drained (the first one ended with the contract step,
    green live): blue gets its task back first, with green still live, so it can be verified."""
    green_up = green_deployed()
    ws = environment.workspace(ENV)
    stacks = ws.outputs().get("stacks") or {}
    if "blue" in stacks:
        from scripts.release import observe

        counts = observe.task_counts(environment.aws_session(ws), {"blue": stacks["blue"]})
        if counts.get("blue", {}).get("desired") == 0:
            print(
                "    an earlier run left blue drained: it gets its task back first, green still live",
                file=sys.stderr,
            )
            deploy("green", overlay("0-blue-back"))
    return deploy("blue", overlay("1-blue-v1", green_enabled=green_up))


def first_run_state() -> None:
    """A second run starts where the first one did: the schema back at version 1's (0003)."""
    applied = applied_migrations()
    if any(m > MIGRATE_FOR_V1 for m in applied):
        print(
            f"    an earlier run applied {', '.join(applied)}: rolling back to {MIGRATE_FOR_V1}",
            file=sys.stderr,
        )
        migrate({"action": "rollback", "target": MIGRATE_FOR_V1})


def _boto(service: str):
    import boto3

    environment.workspace(ENV).export_aws_env()
    return boto3.client(service)


def show_status() -> None:
    print(status.render(status.gather(ENV)), file=sys.stderr)


def deploy(color: str, var_files: tuple[Path, ...]) -> dict:
    switch.plan(ENV, color, var_files)
    return switch.apply(ENV, color, auto_approve=True, extra_var_files=var_files)


def green_deployed() -> bool:
    """On a second run green is already up. It stays: tearing it down only to re-create it would be slow,
    and moto cannot re-create a Route 53 record it has deleted."""
    ws = environment.workspace(ENV)
    ws.init()
    deployed = "green" in (ws.outputs().get("stacks") or {})
    if deployed:
        print("    green is already deployed (an earlier run): it stays as it is", file=sys.stderr)
    return deployed


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


def main() -> int:
    started = time.monotonic()
    # A release writes live_color into the env tfvars: the demo writes a copy, never your checkout's.
    demo_env = OVERLAY_DIR / "env"
    shutil.rmtree(demo_env, ignore_errors=True)
    shutil.copytree(ENV_DIR, demo_env)
    os.environ["RELEASE_KIT_ENV_DIR"] = str(demo_env)
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "build the migrator package (dist/migrator.zip)",
            lambda: subprocess.run(
                [sys.executable, "-m", "scripts.tooling.build_lambda"], check=True, stdout=subprocess.DEVNULL
            ),
        ),
        (
            "deploy blue at version 1 (green not deployed yet)",
            deploy_blue_v1,
        ),
        (
            f"migrate through the deployed function, up to {MIGRATE_FOR_V1}",
            lambda: (first_run_state(), migrate({"action": "migrate", "target": MIGRATE_FOR_V1}))[1],
        ),
        (
            "blue's traffic, as blue's own database role (make traffic COLOR=blue)",
            lambda: run_traffic("blue"),
        ),
        (
            "deploy green at version 2 beside it (blue keeps all traffic)",
            lambda: deploy("blue", overlay("2-green-v2")),
        ),
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
        (
            "release green again, alarms quiet: 10% -> 50% -> 100%",
            lambda: release_green(overlay("2-green-v2"), fire_alarm=False),
        ),
        ("drain blue, then the contract step 0007 (ALLOW_CONTRACT=1)", contract_after_drain),
        ("make status", show_status),
    ]
    try:
        for number, (title, step) in enumerate(steps, start=1):
            print(f"\n==> Step {number}/{len(steps)}: {title}", file=sys.stderr, flush=True)
            step_started = time.monotonic()
            result = step()
            if isinstance(result, dict) and "action" in result:
                print(f"    {_describe(result)}", file=sys.stderr)
            print(f"    done in {time.monotonic() - step_started:.0f}s", file=sys.stderr, flush=True)
    except (
        DemoFailed,
        environment.ReleaseError,
        TerraformError,
        InvokeError,
        localenv.LocalEnvError,
        trafficfile.TrafficFileError,
        subprocess.CalledProcessError,
    ) as exc:
        print(f"\ndemo stopped: {exc}", file=sys.stderr)
        print(
            "Fix the cause and run `make demo` again; `make clean` resets the local default.", file=sys.stderr
        )
        return 1

    weights = route53_weights()
    summary = {
        "live_color": environment.workspace(ENV).outputs()["live_color"],
        "env_dir": str(demo_env),
        "weights": weights,
        "applied_migrations": applied_migrations(),
        "total_seconds": round(time.monotonic() - started),
    }
    print("\nSummary", file=sys.stderr)
    print(f"  live colour          {summary['live_color']}", file=sys.stderr)
    print(f"  weights              {', '.join(f'{c} {w}' for c, w in weights.items())}", file=sys.stderr)
    print(f"  applied migrations   {', '.join(summary['applied_migrations']) or 'none'}", file=sys.stderr)
    print(f"  total time           {summary['total_seconds']}s", file=sys.stderr)
    print(json.dumps(summary))
    return 0


def _describe(result: dict) -> str:
    action = result["action"]
    if action == "migrate":
        applied = result.get("applied") or []
        ids = ", ".join(str(m.get("id", m)) if isinstance(m, dict) else str(m) for m in applied)
        return f"applied: {ids or 'nothing (already up to date)'} ({result.get('duration_ms')} ms)"
    if action == "rollback":
        undone = result.get("rolled_back") or []
        ids = ", ".join(str(m.get("id", m)) if isinstance(m, dict) else str(m) for m in undone)
        return f"rolled back: {ids or 'nothing'} ({result.get('duration_ms')} ms)"
    return json.dumps(result)[:200]


if __name__ == "__main__":
    sys.exit(main())
