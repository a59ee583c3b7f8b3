"""Structured JSON logs: one object per line on stderr (CloudWatch in Lambda; the terminal locally, where
stdout is kept for the result). Every line carries the invocation's request id, action and cold_start.

Secrets never reach a log line or a result: the handler registers the password and connection string it
resolved, and :func:`redact` removes them (and anything shaped like a PostgreSQL URL) from every string.
"""

from __future__ import annotations

import contextvars
import json
import re
import sys
import time
from typing import Any

__all__ = ["bind", "log", "redact", "redact_obj", "register_secret"]

_SECRETS: set[str] = set()
_URL = re.compile(r"postgres(?:ql)?://[^\s'\"]+", re.IGNORECASE)
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
# Default None, not {}: a ContextVar default is shared by every context, so it must not be mutable.
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "migrator_log_context", default=None
)


def register_secret(value: str | None) -> None:
    """Never print ``value`` again (too-short values would redact ordinary words, so they are skipped)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL.sub("postgresql://***", text)
    return _PASSWORD_KV.sub(r"\1***", text)


def redact_obj(value: Any) -> Any:
    """A copy of a JSON-like value with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)) if isinstance(k, str) else k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_obj(v) for v in value]
    return value


def bind(**fields: Any) -> contextvars.Token:
    """Add fields to every following log line of this invocation; reset with ``_context.reset(token)``."""
    return _context.set({**(_context.get() or {}), **fields})


def unbind(token: contextvars.Token) -> None:
    _context.reset(token)


def log(message: str, *, level: str = "INFO", **fields: Any) -> None:
    record = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "level": level,
        "logger": "migrator",
        "message": message,
        **(_context.get() or {}),
        **fields,
    }
    line = json.dumps(redact_obj(record), default=str, separators=(",", ":"))
    print(line, file=sys.stderr, flush=True)
