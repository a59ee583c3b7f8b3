"""The local CLI: the same handler code path, in-process, against ``DATABASE_URL``.

``make migrate ACTION=.. STEPS=..`` hands its variables over as ``KIT_*`` environment variables, byte for
byte (no shell ever re-parses them). :func:`event_from_env` turns them into the event the Lambda would get;
:func:`main` runs it and prints the JSON result as the last line of stdout (logs go to stderr), for every
input, including one refused before the handler runs.

A statement too long for a command line (the kernel caps one argument or environment string at 128 KiB:
make itself dies with "Argument list too long") comes from a file instead: ``SQL_FILE=path``, or
``SQL_FILE=-`` for standard input.

    DATABASE_URL=postgresql://... KIT_ACTION=list python -m migrator.cli
    make migrate ACTION=sql SQL_FILE=- < report.sql
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

from migrator.errors import InvalidEvent, MigratorError

__all__ = ["LocalContext", "event_from_env", "main", "result_from_env"]

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
_INT = re.compile(r"^\s*[+-]?\d+\s*$")


def _flag(raw: str) -> bool | str:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return raw  # the handler's validation names the key and says what it wants


def _sql_from_file(path: str, stdin: IO[str] | None) -> str:
    from migrator.events import MAX_SQL_LENGTH

    # One character past the limit is enough for the handler to refuse an over-long statement by its limit.
    try:
        if path == "-":
            return (stdin or sys.stdin).read(MAX_SQL_LENGTH + 1)
        with open(path, encoding="utf-8") as handle:
            return handle.read(MAX_SQL_LENGTH + 1)
    except FileNotFoundError:
        raise InvalidEvent(
            f"SQL_FILE={path[:200]!r}: no such file; give a path, or - for standard input"
        ) from None
    except IsADirectoryError:
        raise InvalidEvent(f"SQL_FILE={path[:200]!r} is a directory; give the path of a .sql file") from None
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"SQL_FILE={path[:200]!r} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InvalidEvent(f"SQL_FILE={path[:200]!r} cannot be read: {exc.strerror}") from None


def event_from_env(environ: Mapping[str, str], stdin: IO[str] | None = None) -> dict[str, Any]:
    """The event for ``KIT_ACTION``, ``KIT_STEPS``, ``KIT_TARGET``, ``KIT_FROM`` and ``KIT_TABLE`` (baseline
    from another tool's state table), ``KIT_NAME`` (a report's), ``KIT_SQL`` (or ``KIT_SQL_FILE``: a
    path, or ``-`` for ``stdin``), ``KIT_DRY_RUN``, ``KIT_ALLOW_CONTRACT``, ``KIT_ALLOW_INCOMPATIBLE``,
    ``KIT_ALLOW_PRODUCTION_SEED``, ``KIT_SERVING`` (``blue,green``) and, for the statements action only,
    ``KIT_COLOR`` (make's COLOR means other things to other targets). Raises InvalidEvent when the SQL
    file cannot be read or both SQL and SQL_FILE are given. Empty means not given; flags take
    1/true/yes (0/false/no are left out: false is every flag's default); STEPS becomes an int when it is
    one, and is otherwise passed through so the handler refuses it by name. Strings are passed byte for
    byte (no stripping: the handler's validation says what is wrong with a stray space)."""
    event: dict[str, Any] = {}
    action = environ.get("KIT_ACTION", "")
    if action != "":
        event["action"] = action
    steps = environ.get("KIT_STEPS", "")
    if steps != "":
        event["steps"] = int(steps) if _INT.match(steps) else steps
    for var, key in (("KIT_TARGET", "target"), ("KIT_FROM", "from"), ("KIT_TABLE", "table")):
        value = environ.get(var, "")
        if value != "":
            event[key] = value
    name = environ.get("KIT_NAME", "")
    if name != "" and action == "report":  # NAME is a common shell variable (WSL sets it): reports only
        event["name"] = name
    sql = environ.get("KIT_SQL", "")
    sql_file = environ.get("KIT_SQL_FILE", "")
    if sql != "" and sql_file != "":
        raise InvalidEvent("give the statement as SQL=... or SQL_FILE=path (- for standard input), not both")
    if sql_file != "":
        event["sql"] = _sql_from_file(sql_file, stdin)
    elif sql != "":
        event["sql"] = sql
    serving = environ.get("KIT_SERVING", "")
    if serving != "":
        event["serving"] = serving
    color = environ.get("KIT_COLOR", "")
    if color != "" and action == "statements":
        event["color"] = color
    for var, key in (
        ("KIT_DRY_RUN", "dry_run"),
        ("KIT_ALLOW_CONTRACT", "allow_contract"),
        ("KIT_ALLOW_INCOMPATIBLE", "allow_incompatible"),
        ("KIT_ALLOW_PRODUCTION_SEED", "allow_production_seed"),
    ):
        raw = environ.get(var, "")
        if raw != "":
            value = _flag(raw)
            if value is not False:
                event[key] = value
    return event


class LocalContext:
    """The attributes of a Lambda context the handler reads. It has no ``get_remaining_time_in_millis``: a
    local run has no deadline, so it never stops early and never shortens a statement's timeout."""

    function_name = "release-kit-migrator-local"
    function_version = "$LOCAL"
    memory_limit_in_mb = 0

    def __init__(self) -> None:
        self.aws_request_id = f"local-{os.urandom(16).hex()}"  # not uuid: its import costs ~2 ms


def result_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The result of running the event from ``environ`` through the handler (never raises)."""
    from migrator.handler import handle

    environ = dict(environ)
    environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # locally the credentials are DATABASE_URL, always
    try:
        event = event_from_env(environ)
    except MigratorError as exc:
        return {
            "ok": False,
            "action": environ.get("KIT_ACTION") or None,
            "error": {"type": exc.type, "message": str(exc)},
            "duration_ms": 0,
        }
    result = handle(event, LocalContext(), environ=environ)
    sys.stderr.flush()
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the event from the environment through the handler; print the result; 0 only if ok."""
    result = result_from_env(os.environ)
    print(json.dumps(result, default=str), flush=True)
    return 0 if result.get("ok") is True else 1


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown (freeing every imported module): the result is printed and the
    # connection closed, and `make migrate` pays this exit on every call.
    os._exit(status)
