"""`make migrate ACTION=... [STEPS=n TARGET=id SQL=... SQL_FILE=path|- DRY_RUN=1 ALLOW_CONTRACT=1 FROM=tool
TABLE=name]`.

With DATABASE_URL set, the migrator's own command code runs in this process against that database.
Without it, the same event goes to the deployed migrator function of ENV (default: the local default), found
through Terraform's ``migrator_function_name`` output.

Either way the JSON result is the last line of standard output, and the exit code is 0 only when ``ok``.

A baseline that recorded migrations moves the manifest's ``LINT_CUTOFF`` forward to the last of them (what
already ran elsewhere is not linted again), and says so on standard error: commit the manifest.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from migrator import cli
from migrator.errors import MigratorError

if TYPE_CHECKING:
    import ast


def _fail(action: str, kind: str, message: str) -> int:
    print(json.dumps({"ok": False, "action": action, "error": {"type": kind, "message": message}}))
    return 1


def _cutoff_value(text: str) -> ast.expr | None:
    """The value of the manifest's ``LINT_CUTOFF = ...`` assignment, when it is on one line."""
    import ast  # only a baseline needs it: every `make migrate` pays for what is imported at the top

    for node in ast.parse(text).body:
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "LINT_CUTOFF" and value is not None:
            return value if value.lineno == value.end_lineno else None
    return None


def record_cutoff(result: dict[str, Any], manifest_module: str = "migrations.manifest") -> str | None:
    """After a baseline that recorded migrations: set ``LINT_CUTOFF`` in the manifest file to the last one
    recorded when that comes later in the manifest than the current cut-off. Returns the new cut-off."""
    if result.get("action") != "baseline" or not result.get("ok") or not result.get("baselined"):
        return None
    import importlib
    from pathlib import Path

    module = importlib.import_module(manifest_module)
    ids = [m.id for m in module.MIGRATIONS]
    last, current = result["baselined"][-1]["id"], getattr(module, "LINT_CUTOFF", None)
    if last not in ids or (current in ids and ids.index(current) >= ids.index(last)):
        return None
    path = Path(module.__file__)
    text = path.read_text(encoding="utf-8")
    value = _cutoff_value(text)
    if value is None:
        print(f"[migrate] set LINT_CUTOFF = {last!r} in {path}: the baselined history", file=sys.stderr)
        return None
    lines = text.splitlines(keepends=True)
    row = value.lineno - 1
    lines[row] = lines[row][: value.col_offset] + json.dumps(last) + lines[row][value.end_col_offset :]
    path.write_text("".join(lines), encoding="utf-8")
    print(f"[migrate] LINT_CUTOFF moved to {last!r} in {path}: commit it", file=sys.stderr)
    return last


def main() -> int:
    if os.environ.get("DATABASE_URL"):
        result = cli.result_from_env(os.environ)
        print(json.dumps(result, default=str), flush=True)
        record_cutoff(result)
        return 0 if result.get("ok") is True else 1

    from scripts.release import contract, environment
    from scripts.release.invoke import InvokeError, invoke
    from scripts.release.tf import TerraformError

    try:
        event = cli.event_from_env(os.environ)
    except MigratorError as exc:
        return _fail(os.environ.get("KIT_ACTION", ""), exc.type, str(exc))
    action = str(event.get("action", ""))
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    try:
        ws = environment.workspace(env)
        ws.init()
        function_name = os.environ.get("MIGRATOR_FUNCTION") or ws.outputs().get("migrator_function_name")
        if not function_name:
            return _fail(
                action,
                "NotDeployed",
                f"no migrator is deployed in ENV={env}: run `make apply "
                "COLOR=blue` first, or set DATABASE_URL to run against a database directly",
            )
        ws.export_aws_env()
        event = contract.gate_event(ws, function_name, event)
        print(f"[migrate] invoking {function_name} (ENV={env}) with action {action!r}", file=sys.stderr)
        result = invoke(function_name, event)
        contract.journal_run(ws, event, result)
    except (InvokeError, TerraformError, environment.ReleaseError, contract.ContractGateError) as exc:
        return _fail(action, type(exc).__name__, str(exc))
    print(json.dumps(result))
    record_cutoff(result)
    return 0 if result.get("ok") is True else 1


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: the result is printed, and every `make migrate` pays for the exit.
    os._exit(status)
