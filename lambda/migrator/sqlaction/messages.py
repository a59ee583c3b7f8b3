"""PostgreSQL's error text, cut to a few KB before it reaches a result or a log line.

An error can carry the whole value that caused it (``invalid input syntax for type integer: "<10 MB>"``):
responses reached 10 MB, over Lambda's 6 MB limit, and the whole value went to the log. Every message the sql
action builds from PostgreSQL's words goes through :func:`describe`.

This module imports nothing from the package.
"""

from __future__ import annotations

__all__ = ["MAX_FIELD", "MAX_MESSAGE", "cap", "describe"]

MAX_FIELD = 1000  # characters of PostgreSQL's message, detail or hint
MAX_MESSAGE = 4096  # characters of any error message the sql action returns


def cap(text: str, limit: int = MAX_FIELD) -> str:
    """``text``, or its first ``limit`` characters and how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters not shown]"


def describe(
    primary: str | None, sqlstate: str | None = None, detail: str | None = None, hint: str | None = None
) -> str:
    """``PostgreSQL refused the query: <message> (SQLSTATE x); detail: ...; hint: ...``, each part capped."""
    text = f"PostgreSQL refused the query: {cap(primary or 'no message')}"
    if sqlstate:
        text += f" (SQLSTATE {sqlstate})"
    if detail:
        text += f"; detail: {cap(detail)}"
    if hint:
        text += f"; hint: {cap(hint)}"
    return cap(text, MAX_MESSAGE)
