"""The invocation's deadline: how much of the Lambda's time is left, and what the runner does with it.

- Before each migration the runner checks that at least ``MIGRATOR_DEADLINE_RESERVE`` seconds are left;
  otherwise it stops cleanly (:class:`~migrator.errors.OutOfTime`) and the next invocation continues.
- No statement may outlast the invocation: while the configured ``statement_timeout`` would end after the
  deadline, each statement runs with ``statement_timeout`` lowered to the time left (less a margin to roll
  back and answer).
- A Python migration gets a :class:`DeadlineConnection`: entering ``conn.transaction()`` (the start of a
  batch) raises :class:`~migrator.errors.OutOfTime` when too little time is left, so a batched backfill stops
  between batches; batches already committed stay, and the next run resumes with the rows still to do.

Local runs (the CLI) have no deadline: :meth:`Deadline.none`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migrator.errors import OutOfTime

__all__ = ["FINISH_MARGIN_MS", "Deadline", "DeadlineConnection", "clamp_sql"]

# Kept back from every statement's budget: enough to roll back, log and return the result.
FINISH_MARGIN_MS = 1000


class Deadline:
    """The remaining time of one invocation (``remaining_ms`` is the context's method; None: unlimited)."""

    def __init__(self, remaining_ms: Callable[[], int] | None, reserve_seconds: float = 10.0) -> None:
        self._remaining_ms = remaining_ms
        self.reserve_ms = round(reserve_seconds * 1000)

    @classmethod
    def none(cls) -> Deadline:
        return cls(None)

    @classmethod
    def from_context(cls, context: Any, reserve_seconds: float) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return cls(remaining if callable(remaining) else None, reserve_seconds)

    @property
    def limited(self) -> bool:
        return self._remaining_ms is not None

    def remaining_ms(self) -> int | None:
        return None if self._remaining_ms is None else int(self._remaining_ms())

    def can_start(self) -> bool:
        """Whether enough time is left to start another migration (or batch)."""
        remaining = self.remaining_ms()
        return remaining is None or remaining >= self.reserve_ms

    def statement_budget_ms(self, configured_ms: int) -> int | None:
        """The statement_timeout a statement started now must have, or None when the configured one
        (``configured_ms``; 0 = unlimited) already ends before the deadline. May be <= 0: no time left."""
        remaining = self.remaining_ms()
        if remaining is None:
            return None
        budget = remaining - FINISH_MARGIN_MS
        if configured_ms and configured_ms <= budget:
            return None
        return budget


def clamp_sql(statements: list[str], budget_ms: int) -> str:
    """One simple-query message running ``statements`` in order, each preceded by a ``set_config`` that
    lowers ``statement_timeout`` (for the rest of the transaction) to ``budget_ms`` minus the time since the
    server received the message. The server measures the elapsed time itself, so no clock needs to agree,
    and every statement, not only the first, stops at the deadline."""
    guard = (
        "SELECT set_config('statement_timeout', greatest(1, "
        f"{int(budget_ms)} - (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint"
        ")::text, true)"
    )
    return "".join(f"{guard};\n{statement};\n" for statement in statements)


class DeadlineConnection:
    """The psycopg connection a Python migration is given while a deadline applies. Everything is the
    connection's own, except: ``transaction()`` first checks that enough time is left to start a batch
    (else :class:`~migrator.errors.OutOfTime`), and ``transaction()`` and ``execute()`` first lower the
    session's ``statement_timeout`` to the time left when the configured one would outlast it."""

    def __init__(self, conn: Any, deadline: Deadline, configured_ms: int, migration: str) -> None:
        self._conn = conn
        self._deadline = deadline
        self._configured_ms = configured_ms
        self._migration = migration
        self.batches_started = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _clamp(self) -> None:
        budget = self._deadline.statement_budget_ms(self._configured_ms)
        if budget is None:
            return
        if budget <= 0:
            raise OutOfTime(f"time ran out during migration {self._migration}")
        self._conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{budget}ms",))

    def transaction(self, *args: Any, **kwargs: Any) -> Any:
        if not self._deadline.can_start():
            raise OutOfTime(
                f"stopped migration {self._migration} between batches ({self.batches_started} done in this "
                "run): too little of the invocation's time is left for another"
            )
        self._clamp()
        self.batches_started += 1
        return self._conn.transaction(*args, **kwargs)

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        self._clamp()
        return self._conn.execute(query, params, **kwargs)
