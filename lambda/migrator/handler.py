"""The Lambda entry point ``migrator.handler.handler``: parse the event, resolve credentials, run the command,
return one JSON object. It never raises: every outcome is
``{"ok": ..., "action": ..., ..., "duration_ms": ...}``, and a failure carries ``error: {type, message}``
(no traceback, password or connection string).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from migrator import commands, credentials, logs
from migrator.deadline import Deadline
from migrator.errors import DatabaseUnavailable, MigratorError
from migrator.events import ACTIONS, parse_event
from migrator.settings import Settings

if TYPE_CHECKING:
    from migrator.runner.manifest import ManifestLike

__all__ = ["handle", "handler"]

_cold_start = True
_RESERVED = frozenset({"ok", "action", "error", "duration_ms"})
# An error message may quote what caused it (an invalid value, a statement): a few KB of it is enough, in the
# result and in the log line that repeats it.
_MAX_MESSAGE = 4096


def _capped(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return f"{message[:_MAX_MESSAGE]}... [{len(message) - _MAX_MESSAGE} more characters not shown]"


def _random_id() -> str:
    # uuid (with platform, which it imports) costs ~2 ms at start-up; a random id is all a log needs
    return os.urandom(16).hex()


def handler(event: Any, context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    return handle(event, context)


def handle(
    event: Any,
    context: Any = None,
    *,
    environ: Mapping[str, str] | None = None,
    manifest: ManifestLike = None,
) -> dict[str, Any]:
    """What ``handler`` does, with the environment and manifest injectable (the CLI and tests use this)."""
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    environ = os.environ if environ is None else environ
    started = time.perf_counter()
    request_id = str(getattr(context, "aws_request_id", None) or _random_id())
    raw_action = event.get("action") if isinstance(event, dict) else None
    action = raw_action if isinstance(raw_action, str) and raw_action in ACTIONS else None
    token = logs.bind(request_id=request_id, action=action, cold_start=cold_start)
    try:
        try:
            request = parse_event(event)
            settings = Settings.from_env(environ)
            creds = credentials.resolve(environ)
            deadline = Deadline.from_context(context, settings.deadline_reserve_seconds)
            fields = commands.run(request, creds, settings=settings, manifest=manifest, deadline=deadline)
            result: dict[str, Any] = {"ok": True, "action": action, **fields}
        except MigratorError as exc:
            if isinstance(exc, DatabaseUnavailable):
                credentials.forget_cached()  # the secret may have been rotated: fetch it again next time
            extra = {k: v for k, v in exc.details.items() if k not in _RESERVED}
            result = {
                "ok": False,
                "action": action,
                "error": {"type": exc.type, "message": _capped(str(exc))},
                **extra,
            }
        except Exception as exc:  # the handler's promise: a result, never a traceback
            logs.log("unexpected error", level="ERROR", error_type=type(exc).__name__, error=str(exc)[:500])
            result = {
                "ok": False,
                "action": action,
                "error": {
                    "type": "InternalError",
                    "message": f"unexpected {type(exc).__name__}; "
                    "the migrator log has details under request id "
                    f"{request_id}. Nothing after the failing step ran",
                },
            }
        result["duration_ms"] = max(0, round((time.perf_counter() - started) * 1000))
        result = logs.redact_obj(result)
        logs.log(
            "invocation finished",
            ok=result["ok"],
            duration_ms=result["duration_ms"],
            **(
                {"error_type": result["error"]["type"], "error": result["error"]["message"]}
                if not result["ok"]
                else {}
            ),
        )
        return result
    finally:
        logs.unbind(token)
