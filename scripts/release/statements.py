"""`make statements [COLOR=blue] [FORMAT=json]`: the statement inventory, what each colour has really run.

Per colour: its database role, how many statements and calls the inventory holds, when it first and last
saw one, its open sessions, the tables it touches, and its statements (most called first). The migrator's
``statements`` action reads it (and brings it up to date first): in-process against DATABASE_URL when that is
set, otherwise through the deployed function of ENV, like `make migrate`.
"""

from __future__ import annotations

import json
import os
import sys

STATEMENTS_SHOWN = 20


def fetch(color: str | None, env: str) -> dict:
    """The ``statements`` action's result."""
    event: dict = {"action": "statements", **({"color": color} if color else {})}
    if os.environ.get("DATABASE_URL"):
        from migrator.cli import LocalContext
        from migrator.handler import handle

        environ = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
        return handle(event, LocalContext(), environ=environ)
    from scripts.release import environment
    from scripts.release.invoke import invoke

    ws = environment.workspace(env)
    ws.init()
    function = ws.outputs().get("migrator_function_name")
    if not function:
        raise environment.ReleaseError(
            f"no migrator is deployed in ENV={env}: `make apply COLOR=blue` first, or set DATABASE_URL"
        )
    ws.export_aws_env()
    return invoke(function, event)


def render(result: dict) -> str:
    lines: list[str] = []
    inventory = result.get("inventory") or {}
    if inventory and not inventory.get("ok"):
        lines.append(f"warning: the inventory was not brought up to date: {inventory.get('reason')}")
    for color, info in (result.get("colors") or {}).items():
        lines.append(
            f"{color}: role {info['role']}, {info['statements']} statement(s), {info['calls']} call(s), "
            f"first seen {info['first_seen'] or '-'}, last seen {info['last_seen'] or '-'}, "
            f"{info['sessions']} session(s) open"
        )
        lines.append(f"  tables: {', '.join(info['tables']) or '-'}")
        listed = info.get("statements_listed") or []
        for item in listed[:STATEMENTS_SHOWN]:
            text = " ".join(item["query"].split())
            lines.append(f"  {item['calls']:>8}  {text[:140]}{'...' if len(text) > 140 else ''}")
        more = len(listed) - STATEMENTS_SHOWN
        if more > 0 or info.get("truncated"):
            lines.append(f"  ... {max(more, 0)} more (FORMAT=json lists them)")
    return "\n".join(lines)


def main() -> int:
    from scripts.release import environment
    from scripts.release.invoke import InvokeError
    from scripts.release.tf import TerraformError

    color = os.environ.get("KIT_COLOR") or None
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    try:
        if color is not None:
            environment.check_color(color, "statements")
        result = fetch(color, env)
    except (environment.ReleaseError, InvokeError, TerraformError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not result.get("ok"):
        print(f"error: {(result.get('error') or {}).get('message')}", file=sys.stderr)
        print(json.dumps(result))
        return 1
    if (os.environ.get("KIT_FORMAT") or "").lower() == "json":
        print(json.dumps(result, sort_keys=True))
    else:
        print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
