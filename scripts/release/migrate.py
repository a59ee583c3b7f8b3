"""`make migrate ACTION=... [STEPS=n TARGET=id SQL=... SQL_FILE=path|- DRY_RUN=1 ALLOW_CONTRACT=1]`.

With DATABASE_URL set, the migrator's own command code runs in this process against that database.
Without it, the same event goes to the deployed migrator function of ENV (default: the local default), found
through Terraform's ``migrator_function_name`` output.

A baseline that recorded migrations moves the manifest's ``LINT_CUTOFF`` forward to the last of them (what
already ran elsewhere is not linted again), and says so on standard error: commit the manifest.

Every make variable is checked here first, all at once and before anything is called (ACTION with a "did you
mean", ENV against the environments that exist, and the action's own values), in make's terms.

People get a readable summary (a table for ``list``, rows for ``sql``, one line per migration, one line for
an error); the migrator's own log lines only with ``VERBOSE=1``. ``FORMAT=json`` prints the result as the
Lambda returns it, as the last line of standard output. The exit code says what happened (see
``exitcodes``): 0 ok, 1 failed, 2 bad input, 3 refused by a safety rail.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from migrator import cli
from migrator.errors import MigratorError

from scripts.release import exitcodes, results


def record_cutoff(result: dict[str, Any], manifest_module: str = "migrations.manifest") -> str | None:
    """After a baseline that recorded migrations: set ``LINT_CUTOFF`` in the manifest file to the last one
    recorded when that comes later in the manifest than the current cut-off. Returns the new cut-off."""
    if result.get("action") != "baseline" or not result.get("ok") or not result.get("baselined"):
        return None
    import importlib
    from pathlib import Path

    from scripts.tooling.manifest_file import ManifestFileError, set_cutoff

    module = importlib.import_module(manifest_module)
    ids = [m.id for m in module.MIGRATIONS]
    last, current = result["baselined"][-1]["id"], getattr(module, "LINT_CUTOFF", None)
    if last not in ids or (current in ids and ids.index(current) >= ids.index(last)):
        return None
    path = Path(module.__file__)
    try:
        path.write_text(set_cutoff(path.read_text(encoding="utf-8"), last), encoding="utf-8")
    except ManifestFileError as exc:
        print(f"[migrate] set LINT_CUTOFF = {last!r} in {path} by hand ({exc})", file=sys.stderr)
        return None
    print(f"[migrate] LINT_CUTOFF moved to {last!r} in {path}: commit it", file=sys.stderr)
    return last


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(f"KIT_{name}", "").strip().lower() in ("1", "true", "yes")


def problems(environ: Mapping[str, str], *, deployed: bool) -> tuple[dict | None, list[str]]:
    """The event for the make variables, and every problem with them (empty when there is none)."""
    from migrator.events import ACTIONS, parse_event

    found: list[str] = []
    action = environ.get("KIT_ACTION", "")
    if not action:
        found.append(f"ACTION= is missing; use one of: {', '.join(ACTIONS)} (e.g. make migrate ACTION=list)")
    elif action not in ACTIONS:
        import difflib

        close = difflib.get_close_matches(action, ACTIONS, n=1, cutoff=0.5)
        hint = f" did you mean {close[0]}?" if close else ""
        found.append(f"ACTION={action[:60]} is not an action;{hint} use one of: {', '.join(ACTIONS)}")
    if deployed:
        from scripts.release import environment

        env = environ.get("KIT_ENV") or environment.LOCAL_ENV
        problem = environment.env_problem(env)
        if problem:
            found.append(problem)
    try:
        event = cli.event_from_env(environ)
    except MigratorError as exc:
        found.append(results.in_make_terms(str(exc)))
        return None, found
    if action in ACTIONS:
        try:
            parse_event(event)
        except MigratorError as exc:
            found.append(results.in_make_terms(str(exc), event))
    return event, found


def _run_here(event: dict, environ: Mapping[str, str], verbose: bool) -> dict:
    """The handler in this process against DATABASE_URL; its log lines only when ``verbose``."""
    from migrator.handler import handle

    env = dict(environ)
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # locally the credentials are DATABASE_URL, always
    logs = contextlib.nullcontext() if verbose else contextlib.redirect_stderr(io.StringIO())
    with logs:
        return handle(event, cli.LocalContext(), environ=env)


def _run_deployed(event: dict, environ: Mapping[str, str], verbose: bool) -> dict:
    """The deployed function of ENV, through the contract gate, journalled."""
    from scripts.release import contract, environment
    from scripts.release.invoke import InvokeError, invoke
    from scripts.release.tf import TerraformError

    action = str(event.get("action", ""))
    env = environ.get("KIT_ENV") or environment.LOCAL_ENV
    try:
        ws = environment.workspace(env)
        ws.init()
        function_name = environ.get("MIGRATOR_FUNCTION") or ws.outputs().get("migrator_function_name")
        if not function_name:
            return _failure(
                action,
                "NotDeployed",
                f"no migrator is deployed in ENV={env}: run `make apply COLOR=blue` first, or set "
                "DATABASE_URL to run against a database directly",
            )
        ws.export_aws_env()
        event = contract.gate_event(ws, function_name, event)
        if verbose:
            print(f"[migrate] invoking {function_name} (ENV={env}) with action {action!r}", file=sys.stderr)
        result = invoke(function_name, event, echo_logs=verbose)
        contract.journal_run(ws, event, result)
    except contract.ContractGateError as exc:
        result = {**_failure(action, "ContractGateError", str(exc)), "contract": exc.migrations}
        contract.journal_run(ws, event, result)
        return result
    except (InvokeError, TerraformError, environment.ReleaseError) as exc:
        return _failure(action, type(exc).__name__, str(exc))
    return result


def _failure(action: str, kind: str, message: str) -> dict:
    return {"ok": False, "action": action or None, "error": {"type": kind, "message": message}}


def main() -> int:
    environ = dict(os.environ)
    as_json = (environ.get("KIT_FORMAT") or "").lower() == "json"
    verbose = _flag(environ, "VERBOSE")
    here = bool(environ.get("DATABASE_URL"))

    event, found = problems(environ, deployed=not here)
    if found:
        if as_json:
            message = "; ".join(found)
            print(
                json.dumps({**_failure(environ.get("KIT_ACTION", ""), "BadInput", message), "duration_ms": 0})
            )
        else:
            for problem in found:
                print(f"error: {problem}", file=sys.stderr)
            print("nothing was run", file=sys.stderr)
        return exitcodes.BAD_INPUT
    assert event is not None
    result = _run_here(event, environ, verbose) if here else _run_deployed(event, environ, verbose)
    record_cutoff(result)

    error_type = None if result.get("ok") is True else (result.get("error") or {}).get("type", "Error")
    if as_json:
        print(json.dumps(result, default=str))
    elif error_type is None:
        print(results.render(result))
    else:
        print(results.render_error(result), file=sys.stderr)
    return exitcodes.for_migrator_error(error_type)


if __name__ == "__main__":
    status = main()
    closing = exitcodes.closing_line(status)
    if closing:  # the README's promise: a release command that did not end ok says how, last, on stderr
        print(closing, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: the result is printed, and every `make migrate` pays for the exit.
    os._exit(status)
