"""Every error the migrator can report. One base type; the handler turns any of them into
``{"ok": false, "error": {"type": <class name>, "message": <message>}}``.

Messages say what was wrong and what to do, and never carry a password or a connection string.
"""

from __future__ import annotations


class MigratorError(Exception):
    """Base of every error that reaches a user."""

    @property
    def type(self) -> str:
        return type(self).__name__


class InvalidEvent(MigratorError):
    """The event is malformed: unknown action, unknown key, wrong type or out-of-range value."""


class UnsafeSQL(MigratorError):
    """The `sql` action's statement is not in the read-only allow-list."""


class QueryFailed(MigratorError):
    """A read-only statement passed the guard but PostgreSQL rejected it (timeout, unknown column, ...)."""
