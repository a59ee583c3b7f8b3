"""The ``sql`` and ``report`` commands: one read-only statement (checked by the guard and the server-side
check) or a named report (fixed SQL), run as the reader role in a READ ONLY transaction with limits and one
deadline (see :mod:`migrator.sqlaction.readonly` for the layers)."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migrator.connection import Database, connection, credentials_of, pg_reason
from migrator.credentials import Credentials
from migrator.deadline import FINISH_MARGIN_MS, Deadline
from migrator.errors import DatabaseUnavailable, OutOfTime
from migrator.settings import Settings
from migrator.sqlaction import guard, reader_role, readonly, reports, resolver

__all__ = ["report", "sql"]


def sql(
    database: Database, statement: str, *, settings: Settings | None = None, deadline: Deadline | None = None
) -> dict[str, Any]:
    """Run one read-only statement as the sql action's own role (see :mod:`.reader_role`): the guard allows
    it (or raises UnsafeSQL) before anything connects, the server-side check allows what it resolves to, then
    it runs in a READ ONLY transaction with row and byte caps. One deadline covers it all: ``sql_timeout_ms``
    from now, or the invocation's own ``deadline`` (less a margin to answer), whichever comes first. Returns
    columns, rows, row_count, truncated, bytes and the role it ran as."""
    settings = settings or Settings()
    ends = _action_deadline(settings, deadline)
    guard.plan_sql(statement)
    return _as_reader(database, settings, statement, ends, checked=True)


def report(
    database: Database, name: str, *, settings: Settings | None = None, deadline: Deadline | None = None
) -> dict[str, Any]:
    """Run the named report (:mod:`.reports`) as the reader role, read-only, with the sql action's deadline
    and caps. Its SQL is fixed and reviewed, so the two checks of free SQL do not apply; it runs with
    search_path ``pg_catalog, pg_temp``. Returns the report's name, description and note, and its rows."""
    settings = settings or Settings()
    ends = _action_deadline(settings, deadline)
    chosen = reports.report_sql(name, settings.sql_schemas)
    rows = _as_reader(database, settings, chosen.sql, ends, checked=False, search_path=resolver.CHECK_PATH)
    note = {"note": chosen.note} if chosen.note else {}
    return {"report": name, "description": chosen.description, **note, **rows}


def _action_deadline(settings: Settings, deadline: Deadline | None) -> float:
    """When the action must be done (a ``time.monotonic()`` value): its own timeout, or the invocation's."""
    ends = time.monotonic() + settings.sql_timeout_ms / 1000
    remaining = deadline.remaining_ms() if deadline is not None else None
    if remaining is not None:
        if remaining <= FINISH_MARGIN_MS:
            raise OutOfTime("too little of the invocation's time is left to run a query; invoke it again")
        ends = min(ends, time.monotonic() + (remaining - FINISH_MARGIN_MS) / 1000)
    return ends


def _as_reader(
    database: Database,
    settings: Settings,
    statement: str,
    ends: float,
    *,
    checked: bool,
    search_path: str = "",
) -> dict[str, Any]:
    """Run ``statement`` as the reader role; ``checked`` is False only for a named report's own SQL."""
    with _reader_connection(credentials_of(database), settings) as (conn, setup):
        result = readonly.run_readonly(
            conn,
            statement,
            row_limit=settings.sql_row_limit,
            statement_timeout_ms=settings.sql_timeout_ms,
            max_bytes=settings.sql_max_bytes,
            deadline=ends,
            guard=checked,
            resolve=checked,
            search_path=search_path or None,
        )
    result["role"] = settings.sql_role
    if setup and (setup["created"] or setup["not_set"]):
        result["role_setup"] = setup
    return result


# The reader role is set up once per container (and again whenever it cannot log in).
_readers_ready: set[str] = set()


@contextmanager
def _reader_connection(
    creds: Credentials, settings: Settings
) -> Iterator[tuple[psycopg.Connection, dict[str, Any] | None]]:

    parts = conninfo_to_dict(creds.conninfo)
    # Derived from the migrator's password, or fresh for a migrator that logs in without one (peer, trust).
    password = reader_role.reader_password(creds.password, settings.sql_role) if creds.password else None
    key = hashlib.sha256(f"{creds.conninfo}|{settings.sql_role}|{settings.sql_schemas}".encode()).hexdigest()
    setup = None
    for attempt in (1, 2):
        if key not in _readers_ready or attempt == 2 or password is None:
            password = password or reader_role.random_password()
            with connection(creds, settings) as admin:
                setup = reader_role.ensure_reader(
                    admin, role=settings.sql_role, password=password, schemas=settings.sql_schemas
                )
            if creds.password:
                _readers_ready.add(key)
        reader = {**parts, "user": settings.sql_role, "password": password}
        try:
            conn = psycopg.connect(
                make_conninfo(**reader),
                autocommit=True,
                connect_timeout=settings.connect_timeout,
                application_name="release-kit-sql",
            )
        except psycopg.OperationalError as exc:
            _readers_ready.discard(key)
            if attempt == 2:
                raise DatabaseUnavailable(
                    f"could not log in as the sql action's role {settings.sql_role!r} on the "
                    f"{creds.description}: {pg_reason(exc)}. Check that the database accepts password "
                    "logins for it (pg_hba.conf, or the RDS security group)"
                ) from None
            continue
        try:
            yield conn, setup
        finally:
            _release(conn)
            conn.close()
        return


def _release(conn: psycopg.Connection) -> None:
    """Session-level advisory locks end with the backend, which exits after the client has gone: release them
    before returning, so that the action's end is the locks' end."""
    if conn.broken or conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return
    with contextlib.suppress(psycopg.Error):
        conn.execute("SELECT pg_catalog.pg_advisory_unlock_all()")
