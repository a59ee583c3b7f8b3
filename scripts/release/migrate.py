"""`make migrate ACTION=... [STEPS=n TARGET=id SQL=... SQL_FILE=path|- DRY_RUN=1 ALLOW_CONTRACT=1]`.

With DATABASE_URL set, the migrator's own command code runs in this process against that database.
Without it, the same event goes to the deployed migrator function of ENV (default: the local default), found
through Terraform's ``migrator_function_name`` output.

Either way the JSON result is the last line of standard output, and the exit code is 0 only when ``ok``.
"""

from __future__ import annotations

import json
import os
import sys

from migrator import cli
from migrator.errors import MigratorError


def _fail(action: str, kind: str, message: str) -> int:
    print(json.dumps({"ok": False, "action": action, "error": {"type": kind, "message": message}}))
    return 1


def main() -> int:
    if os.environ.get("DATABASE_URL"):
        return cli.main()

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
    return 0 if result.get("ok") is True else 1


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: the result is printed, and every `make migrate` pays for the exit.
    os._exit(status)
