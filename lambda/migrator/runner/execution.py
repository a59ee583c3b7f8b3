"""How the runner executes one direction of one migration: statements, transactions, retries, notices and
the deadline. Every command (migrate, rollback) goes through :func:`run_one` inside :func:`with_retries`.

One connection per run: it holds the session advisory lock for the whole run, and every migration runs in its
own transaction on it (``transactional=False`` migrations run statement by statement in autocommit).

A migration that fails on ``lock_timeout`` (it queued behind live traffic) is tried again after a pause that
doubles each time (``MIGRATOR_LOCK_RETRIES``, ``MIGRATOR_LOCK_RETRY_DELAY``): a short lock timeout plus
retries, as squawk and strong_migrations advise, instead of a long wait that blocks every query behind it.

It also holds what several commands check before they run: :func:`check_consistent` (drift and unknown
history) and :func:`settled_history` (the history after upgrading its schema, under the lock).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from migrator import logs
from migrator.connection import pg_reason
from migrator.deadline import Deadline, DeadlineConnection, clamp_sql
from migrator.errors import (
    ChecksumMismatch,
    OutOfTime,
    UnknownAppliedMigrations,
)
from migrator.runner import store
from migrator.runner.manifest import Manifest, Migration, Step, is_noop
from migrator.settings import Settings

MAX_NOTICES = 50
MAX_RETRY_PAUSE_SECONDS = 30.0


def ms_since(since: float) -> int:
    return max(0, round((time.perf_counter() - since) * 1000))


def split_statements(sql: str) -> list[str]:
    import pglast

    return [s for s in pglast.split(sql) if s.strip()]


def set_statement_timeout(conn: psycopg.Connection, budget_ms: int) -> None:
    conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{max(1, budget_ms)}ms",))


def execute_step(
    conn: psycopg.Connection,
    step: Step,
    *,
    in_transaction: bool,
    budget: Callable[[], int | None] = lambda: None,
    caller: Any = None,
) -> int | None:
    """Run SQL text or call the function (with ``caller``, the connection it is given, when set). Outside a
    transaction SQL runs one statement at a time, because PostgreSQL wraps a multi-statement query string
    in one implicit transaction, which CONCURRENTLY refuses; ``budget`` gives the statement_timeout each
    statement must start with (None: the configured one is short enough)."""
    if callable(step):
        result = step(caller if caller is not None else conn)
        return result if isinstance(result, int) and not isinstance(result, bool) else None
    if is_noop(step):
        return None
    if in_transaction:
        conn.execute(step)  # type: ignore[arg-type]  # trusted migration SQL, simple-query protocol
        return None
    # Statement by statement, as written: a BEGIN ... COMMIT of the step's own opens and ends a transaction on
    # the server, and its statements run inside it. Whatever happens, the session is back outside any
    # transaction before the runner writes the history row (the step's own open transaction is rolled back).
    try:
        for statement in split_statements(step):
            limit = budget()
            if limit is not None:
                if limit <= 0:
                    raise OutOfTime("no time left for the next statement")
                set_statement_timeout(conn, limit)
            conn.execute(statement)  # type: ignore[arg-type]
    finally:
        left_open = _end_open_transaction(conn)
    if left_open:
        raise psycopg.errors.ActiveSqlTransaction(
            "the migration ended inside a transaction it opened (a BEGIN without COMMIT); it was rolled back"
        )
    return None


def _end_open_transaction(conn: psycopg.Connection) -> bool:
    """Roll back a transaction the step left open (or failed inside). True when there was one."""
    if conn.closed or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return False
    with contextlib.suppress(psycopg.Error):
        conn.execute("ROLLBACK")
    return True


def one_transaction(conn: psycopg.Connection, body: str, record: str) -> None:
    """``BEGIN; <migration SQL>; <history change>; COMMIT`` as one simple-query message: one round trip per
    migration instead of four. On an error the server skips the rest of the message (so no COMMIT runs) and
    the transaction is rolled back here before the error propagates."""
    try:
        conn.execute(f"BEGIN;\n{body}\n;\n{record};\nCOMMIT;")  # type: ignore[arg-type]  # trusted SQL
    except psycopg.Error:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        raise


@contextmanager
def collect_notices(
    conn: psycopg.Connection, migration: Migration, sink: list[dict[str, str]]
) -> Iterator[None]:
    """Collect PostgreSQL's NOTICEs and WARNINGs (e.g. an identifier truncated to 63 characters) raised
    while the block runs into ``sink``, and log each one with the migration's id."""
    dropped = 0

    def handler(diag: psycopg.errors.Diagnostic) -> None:
        nonlocal dropped
        if len(sink) >= MAX_NOTICES:
            dropped += 1
            return
        severity = diag.severity_nonlocalized or diag.severity or "NOTICE"
        sink.append({"severity": severity, "message": diag.message_primary or ""})

    conn.add_notice_handler(handler)
    try:
        yield
    finally:
        conn.remove_notice_handler(handler)
        for notice in sink:
            logs.log(
                "postgres notice",
                level="WARNING" if notice["severity"] == "WARNING" else "INFO",
                migration=migration.id,
                severity=notice["severity"],
                notice=notice["message"],
            )
        if dropped:
            logs.log("postgres notices dropped", level="WARNING", migration=migration.id, dropped=dropped)


def summary(migration: Migration) -> dict[str, Any]:
    return {"id": migration.id, "name": migration.name}


def check_consistent(manifest: Manifest, history: dict[str, store.AppliedRecord], ids: Iterable[str]) -> None:
    """Refuse when applied content changed (checksum drift) or the database has migrations the code lacks."""
    by_id = {m.id: m for m in manifest.migrations}
    unknown = [i for i in history if i not in by_id]
    if unknown:
        raise UnknownAppliedMigrations(
            f"the database records migration(s) this code does not have: {', '.join(unknown)}. "
            "The database is "
            "ahead of this code: deploy the migrator built from the release that added them "
            "(or roll them back with that release) before running this one",
            details={"missing_from_code": unknown},
        )
    drifted = [
        i
        for i in ids
        if i in history
        and i in by_id
        and not by_id[i].matches(history[i].checksum, history[i].checksum_version)
    ]
    if drifted:
        labels = ", ".join(by_id[i].label for i in drifted)
        raise ChecksumMismatch(
            f"applied migration(s) changed since they were applied: {labels}. "
            "Applied migrations are history: "
            "restore their original content and put the change in a new migration",
            details={"changed": drifted},
        )


def settled_history(conn: psycopg.Connection, manifest: Manifest) -> dict[str, store.AppliedRecord]:
    """The history after upgrading the table's schema and the checksums the code confirms (under the lock)."""
    store.ensure_history(conn)
    history = store.read_history(conn)
    by_id = {m.id: m for m in manifest.migrations}
    confirmed = {
        i: by_id[i].checksum
        for i, record in history.items()
        if record.checksum_version < 2 and i in by_id and by_id[i].matches(record.checksum, 1)
    }
    if confirmed:
        store.upgrade_checksums(conn, confirmed)
        logs.log("history checksums upgraded", rows=len(confirmed), to_version=2)
        history = store.read_history(conn)
    return history


# ------------------------------------------------------------------------------------------- running one


def run_one(
    conn: psycopg.Connection,
    migration: Migration,
    step: Step,
    *,
    record_sql: Callable[[], str],
    record: Callable[[int], None],
    settings: Settings,
    deadline: Deadline,
) -> tuple[int, bool]:
    """Run one direction of one migration and change its history row with it. Returns (duration_ms,
    whether statement_timeout was lowered to the deadline)."""
    configured = settings.statement_timeout_ms
    first = deadline.statement_budget_ms(configured)
    if first is not None and first <= 0:
        raise OutOfTime("no time left for the next statement")
    clamped = first is not None
    started = time.perf_counter()
    caller = DeadlineConnection(conn, deadline, configured, migration.id) if deadline.limited else None
    if migration.transactional and isinstance(step, str):
        if is_noop(step):
            body = ""  # nothing to run (an empty or comment-only step): only the history row changes
        elif clamped:
            body = clamp_sql(split_statements(step), first)
        else:
            body = step
        one_transaction(conn, body, record_sql())
        return ms_since(started), clamped
    if migration.transactional:
        with conn.transaction():
            execute_step(conn, step, in_transaction=True, caller=caller)
            duration = ms_since(started)
            record(duration)
        return duration, clamped
    execute_step(
        conn,
        step,
        in_transaction=False,
        budget=lambda: deadline.statement_budget_ms(configured),
        caller=caller,
    )
    duration = ms_since(started)
    record(duration)
    return duration, clamped


class Failed(Exception):
    """One migration failed for good: the original error, after how many attempts, and its notices."""

    def __init__(self, error: BaseException, attempts: int, notices: list, *, no_time: bool = False) -> None:
        super().__init__(str(error))
        self.error, self.attempts, self.notices, self.no_time = error, attempts, notices, no_time


def with_retries(
    conn: psycopg.Connection,
    migration: Migration,
    attempt_once: Callable[[], tuple[int, bool]],
    *,
    verb: str,
    settings: Settings,
    deadline: Deadline,
) -> tuple[int, int, list[dict[str, str]]]:
    """Run ``attempt_once`` (one try of one migration), trying again after ``lock_timeout``. Returns
    (duration_ms, attempts, notices). Raises OutOfTime when the deadline stopped it, else :class:`Failed`."""
    attempts = 0
    while True:
        attempts += 1
        notices: list[dict[str, str]] = []
        clamped = deadline.statement_budget_ms(settings.statement_timeout_ms) is not None
        try:
            with collect_notices(conn, migration, notices):
                duration, clamped = attempt_once()
            return duration, attempts, notices
        except OutOfTime:
            raise
        except psycopg.errors.LockNotAvailable as exc:
            pause = min(settings.lock_retry_delay_seconds * 2 ** (attempts - 1), MAX_RETRY_PAUSE_SECONDS)
            remaining = deadline.remaining_ms()
            no_time = remaining is not None and remaining - pause * 1000 < deadline.reserve_ms
            if attempts > settings.lock_retries or no_time:
                raise Failed(exc, attempts, notices, no_time=no_time) from None
            logs.log(
                "lock timeout: trying again",
                level="WARNING",
                migration=migration.id,
                direction=verb,
                attempt=attempts,
                of=settings.lock_retries + 1,
                retry_in_seconds=round(pause, 3),
                reason=pg_reason(exc),
            )
            time.sleep(pause)
        except psycopg.errors.QueryCanceled as exc:
            if clamped and not conn.closed:
                raise OutOfTime(
                    f"a statement of {migration.label} was cancelled at the invocation's deadline"
                ) from None
            raise Failed(exc, attempts, notices) from None
        except Exception as exc:
            raise Failed(exc, attempts, notices) from None


def failure_reason(conn: psycopg.Connection, failed: Failed) -> str:
    exc = failed.error
    if isinstance(exc, psycopg.OperationalError) and conn.closed:
        return f"lost the database connection ({pg_reason(exc)})"
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        tail = "; too little of the invocation's time was left to try again" if failed.no_time else ""
        return f"{pg_reason(exc)}, on each of {failed.attempts} attempt(s){tail}"
    return pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"


def out_of_time(
    deadline: Deadline, what: str, stopped: Migration, done_key: str, done: list, remaining: list[str]
) -> OutOfTime:
    left = deadline.remaining_ms()
    partial = (
        " (it runs outside a transaction, so statements before the stop may have taken effect: it is written "
        "to be run again)"
        if not stopped.transactional
        else ""
    )
    return OutOfTime(
        f"time ran out: {what} ({left if left is not None else '?'} ms of the invocation left; "
        f"{deadline.reserve_ms} ms are needed to start a migration). {len(done)} finished in this run and "
        f"stay done; {stopped.label} is not recorded{partial}. Run the same command again to continue "
        "(or raise the function's timeout)",
        details={done_key: done, "pending": remaining},
    )
