"""`make demo`: the whole release pattern on the local default, step by step.

    1. build the migrator package
    2. deploy blue at version 1 (green not deployed yet)
    3. migrate the schema through the deployed function (up to the tables version 1 needs)
    4. deploy green at version 2 next to it; blue keeps all the traffic
    5. verify green
    6. run the expand migrations (old and new code both work with the result)
    7. send a 10% canary to green
    8. switch all traffic to green
    9. roll traffic back to blue
   10. roll back the last migration

Each step prints what it does, its progress and its time, and the demo stops at the first failure with the
reason. The contract migration is deliberately left pending: it runs only once the old colour is retired.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scripts import localenv, release
from scripts.invoke import InvokeError, invoke
from scripts.tf import TerraformError

ENV = release.LOCAL_ENV
OVERLAY_DIR = localenv.LOCAL_DIR / "demo"
V1 = "public.ecr.aws/nginx/nginx:1.27"  # what terraform/env/local.tfvars deploys
V2 = "public.ecr.aws/nginx/nginx:1.28"
MIGRATE_FOR_V1 = "0003"  # users, posts, follows
EXPAND_FOR_V2 = "0006"  # display_name: add, backfill in batches, index concurrently


class DemoFailed(RuntimeError):
    pass


def overlay(name: str, *, green_enabled: bool = True, canary: int = 0) -> tuple[Path, ...]:
    """A tfvars file layered over terraform/env/local.tfvars: what a pull request would change."""
    OVERLAY_DIR.mkdir(parents=True, exist_ok=True)
    path = OVERLAY_DIR / f"{name}.tfvars"
    path.write_text(
        f'blue  = {{ enabled = true, image = "{V1}", container_port = 80 }}\n'
        f'green = {{ enabled = {str(green_enabled).lower()}, image = "{V2}", container_port = 80 }}\n'
        f"canary_percent = {canary}\n"
    )
    return (path,)


def deploy(color: str, var_files: tuple[Path, ...]) -> dict:
    release.plan(ENV, color, var_files)
    return release.apply(ENV, color, auto_approve=True, extra_var_files=var_files)


def green_deployed() -> bool:
    """On a second run green is already up. It stays: tearing it down only to re-create it would be slow,
    and moto cannot re-create a Route 53 record it has deleted."""
    ws = release.workspace(ENV)
    ws.init()
    deployed = "green" in (ws.outputs().get("stacks") or {})
    if deployed:
        print("    green is already deployed (an earlier run): it stays as it is", file=sys.stderr)
    return deployed


def migrate(event: dict) -> dict:
    ws = release.workspace(ENV)
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
    import boto3

    ws = release.workspace(ENV)
    ws.export_aws_env()
    live = ws.outputs()["hostnames"]["live"].rstrip(".") + "."
    route53 = boto3.client("route53")
    weights = {}
    for zone in route53.list_hosted_zones()["HostedZones"]:
        if not live.endswith("." + zone["Name"]):
            continue
        pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"])
        for page in pages:
            for record in page["ResourceRecordSets"]:
                if record["Name"] == live and "SetIdentifier" in record:
                    weights[record["SetIdentifier"]] = int(record["Weight"])
    return dict(sorted(weights.items()))


def main() -> int:
    started = time.monotonic()
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "build the migrator package (dist/migrator.zip)",
            lambda: subprocess.run(
                [sys.executable, "-m", "scripts.build_lambda"], check=True, stdout=subprocess.DEVNULL
            ),
        ),
        (
            "deploy blue at version 1 (green not deployed yet)",
            lambda: deploy("blue", overlay("1-blue-v1", green_enabled=green_deployed())),
        ),
        (
            f"migrate through the deployed function, up to {MIGRATE_FOR_V1}",
            lambda: migrate({"action": "migrate", "target": MIGRATE_FOR_V1}),
        ),
        (
            "deploy green at version 2 beside it (blue keeps all traffic)",
            lambda: deploy("blue", overlay("2-green-v2")),
        ),
        ("verify green before it takes traffic", verify_green),
        (
            f"run the expand migrations, up to {EXPAND_FOR_V2}",
            lambda: migrate({"action": "migrate", "target": EXPAND_FOR_V2}),
        ),
        ("send a 10% canary to green", lambda: deploy("blue", overlay("3-canary", canary=10))),
        ("switch all traffic to green", lambda: deploy("green", overlay("4-green-live"))),
        ("roll traffic back to blue", lambda: deploy("blue", overlay("5-rollback"))),
        ("roll back the last migration", lambda: migrate({"action": "rollback", "steps": 1})),
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
        release.ReleaseError,
        TerraformError,
        InvokeError,
        localenv.LocalEnvError,
        subprocess.CalledProcessError,
    ) as exc:
        print(f"\ndemo stopped: {exc}", file=sys.stderr)
        print(
            "Fix the cause and run `make demo` again; `make clean` resets the local default.", file=sys.stderr
        )
        return 1

    weights = route53_weights()
    summary = {
        "live_color": release.workspace(ENV).outputs()["live_color"],
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


def verify_green() -> None:
    verdict = release.verify_color(ENV, "green")
    print(verdict.render(), file=sys.stderr)
    if not verdict.ok:
        raise DemoFailed("green failed verification")


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
