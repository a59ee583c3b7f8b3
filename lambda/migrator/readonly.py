"""Run one guarded statement in a read-only transaction and return JSON-safe rows.

Defence in depth, outermost first:

1. ``guard.check_sql`` allows a single read-only SELECT/EXPLAIN/SHOW (parsed by PostgreSQL's own parser).
2. The statement runs inside ``BEGIN READ ONLY``, which PostgreSQL enforces for every write, including writes
   hidden in functions and views. The transaction is always rolled back, never committed.
3. The statement is sent with the extended query protocol (a DECLARE through psycopg's server-side cursor,
   or ``Cursor.stream``), which refuses more than one command, so a lexer disagreement between pglast and
   the server cannot smuggle in a second statement. (psycopg's plain ``execute()`` without parameters uses
   the simple protocol, which would run ``COMMIT; DELETE ...`` in full: never use it here.) And
   ``standard_conforming_strings`` is forced on for the transaction so the server reads backslashes in string
   literals exactly as pglast did.
4. ``statement_timeout``, ``lock_timeout`` and ``idle_in_transaction_session_timeout`` bound how long it
   can run, wait for a lock, or hold the transaction open; at most ``row_limit + 1`` rows leave the server.
5. ``pg_catalog`` is put first on the ``search_path``, so an allow-listed unqualified function name always
   means the built-in one (``SHOW search_path`` therefore shows it first).

Values are made JSON-safe:

* numeric -> string (exact); float NaN/Infinity -> 'NaN'/'Infinity' (PostgreSQL's spelling);
* date, time, timestamp(tz) -> ISO 8601; infinite dates and timestamps -> PostgreSQL's text ('infinity');
* interval and range types -> PostgreSQL's text ('1 year 02:00:00', '[1,5)');
* bytea -> hex string with PostgreSQL's ``\\x`` prefix; uuid, inet, cidr -> string;
* arrays and records -> lists; json/jsonb -> the decoded value; anything else -> ``str()``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import uuid
from decimal import Decimal
from typing import Any

import psycopg
from pglast import ast, parse_sql
from psycopg import pq
from psycopg.adapt import AdaptersMap
from psycopg.types import datetime as pg_datetime
from psycopg.types.string import TextLoader

from migrator.errors import InvalidEvent, QueryFailed
from migrator.guard import DEFAULT_MAX_LENGTH, check_sql

__all__ = ["run_readonly"]

_CURSOR_NAME = "migrator_readonly"
_MAX_LOCK_TIMEOUT_MS = 2000
_IDLE_MARGIN_MS = 5000

# PostgreSQL's own text is the most faithful JSON form of these: '1 year 2 mons', '[1,5)'.
_TEXT_TYPES = (
    "interval", "int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange",
    "int4multirange", "int8multirange", "nummultirange", "datemultirange", "tsmultirange",
    "tstzmultirange",
)  # fmt: skip


def _falls_back_to_text(base: type) -> type:
    """A loader like ``base`` that returns PostgreSQL's text when Python cannot hold the value (infinity)."""

    class Loader(base):  # type: ignore[misc, valid-type]
        def load(self, data: Any) -> Any:
            try:
                return super().load(data)
            except psycopg.DataError:
                return bytes(data).decode("utf-8", "replace")

    Loader.__name__ = f"TextFallback{base.__name__}"
    return Loader


_DATETIME_LOADERS = {
    "date": _falls_back_to_text(pg_datetime.DateLoader),
    "timestamp": _falls_back_to_text(pg_datetime.TimestampLoader),
    "timestamptz": _falls_back_to_text(pg_datetime.TimestamptzLoader),
}


def run_readonly(
    conn: psycopg.Connection,
    sql: str,
    *,
    row_limit: int = 1000,
    statement_timeout_ms: int = 5000,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> dict[str, Any]:
    """Run ``sql`` read-only on ``conn`` and return ``{"columns", "rows", "row_count", "truncated"}``.

    Raises UnsafeSQL when the guard refuses the statement, QueryFailed when PostgreSQL rejects it (with
    PostgreSQL's message), InvalidEvent for an out-of-range limit. ``conn`` may be in autocommit mode or not;
    it must have no transaction open, and is left idle and usable (whatever happened) unless it broke.
    """
    if isinstance(row_limit, bool) or not isinstance(row_limit, int) or row_limit < 0:
        raise InvalidEvent(f"row_limit must be an integer >= 0, not {row_limit!r}")
    if isinstance(statement_timeout_ms, bool) or not isinstance(statement_timeout_ms, int):
        raise InvalidEvent(f"statement_timeout_ms must be an integer, not {statement_timeout_ms!r}")
    if statement_timeout_ms < 1:
        # 0 would mean "no timeout" to PostgreSQL.
        raise InvalidEvent(f"statement_timeout_ms must be >= 1, not {statement_timeout_ms}")

    statement = check_sql(sql, max_length=max_length)

    status = conn.info.transaction_status
    if status != pq.TransactionStatus.IDLE:
        raise QueryFailed(
            f"the connection is not idle ({status.name}): commit or roll back its transaction before "
            "running a read-only query"
        )

    try:
        columns, raw_rows = _execute(conn, statement, row_limit, statement_timeout_ms)
    except psycopg.Error as exc:
        raise QueryFailed(_describe(exc)) from None
    finally:
        _rollback(conn)

    truncated = len(raw_rows) > row_limit
    rows = [[to_json_safe(value) for value in row] for row in raw_rows[:row_limit]]
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}


def _execute(
    conn: psycopg.Connection, statement: str, row_limit: int, statement_timeout_ms: int
) -> tuple[list[str], list[tuple[Any, ...]]]:
    with conn.cursor() as cur:
        if conn.autocommit:
            cur.execute("BEGIN READ ONLY")
        else:
            # psycopg has just sent BEGIN; this is the transaction's first statement, as PostgreSQL requires.
            cur.execute("SET TRANSACTION READ ONLY")
        # set_config(name, value, is_local => true) is SET LOCAL with bound parameters (SET takes none):
        # everything below ends with the transaction.
        cur.execute(
            "SELECT set_config('statement_timeout', %(statement)s, true),"
            " set_config('lock_timeout', %(lock)s, true),"
            " set_config('idle_in_transaction_session_timeout', %(idle)s, true),"
            " set_config('standard_conforming_strings', 'on', true),"
            " set_config('search_path',"
            "   concat_ws(', ', 'pg_catalog', nullif(current_setting('search_path'), '')), true)",
            {
                "statement": f"{statement_timeout_ms}ms",
                "lock": f"{min(statement_timeout_ms, _MAX_LOCK_TIMEOUT_MS)}ms",
                "idle": f"{statement_timeout_ms + _IDLE_MARGIN_MS}ms",
            },
        )
    if _is_select(statement):
        # A server-side cursor: DECLARE only plans, the FETCH runs the query under the statement timeout and
        # stops after row_limit + 1 rows. psycopg sends the DECLARE with the extended protocol.
        with conn.cursor(name=_CURSOR_NAME, scrollable=False) as server_cursor:
            _use_json_friendly_loaders(server_cursor.adapters)
            server_cursor.execute(statement)
            rows = server_cursor.fetchmany(row_limit + 1)
            columns = [column.name for column in server_cursor.description or ()]
        return columns, rows
    # EXPLAIN and SHOW cannot be declared as cursors. stream() always uses the extended protocol (a plain
    # execute() without parameters would use the simple one, which runs every statement in the string).
    with conn.cursor() as cur:
        _use_json_friendly_loaders(cur.adapters)
        stream = cur.stream(statement)
        try:
            rows = list(itertools.islice(stream, row_limit + 1))
        finally:
            stream.close()  # cancels whatever is left, e.g. the rest of a long plan
        columns = [column.name for column in cur.description or ()]
    return columns, rows


def _is_select(statement: str) -> bool:
    return isinstance(parse_sql(statement)[0].stmt, ast.SelectStmt)


def _use_json_friendly_loaders(adapters: AdaptersMap) -> None:
    for name in _TEXT_TYPES:
        adapters.register_loader(name, TextLoader)
    for name, loader in _DATETIME_LOADERS.items():
        adapters.register_loader(name, loader)


def _rollback(conn: psycopg.Connection) -> None:
    """End the transaction, whatever state it is in, without hiding the error that got us here."""
    if conn.closed or conn.broken:
        return
    try:
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            if conn.autocommit:
                conn.execute("ROLLBACK")
            else:
                conn.rollback()
    except psycopg.Error:
        # The server dropped the connection (e.g. idle_in_transaction_session_timeout); nothing to undo.
        pass


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    message = diag.message_primary or str(exc).strip().splitlines()[0]
    text = f"PostgreSQL refused the query: {message}"
    if diag.sqlstate:
        text += f" (SQLSTATE {diag.sqlstate})"
    if diag.message_detail:
        text += f"; detail: {diag.message_detail}"
    if diag.message_hint:
        text += f"; hint: {diag.message_hint}"
    return text


def to_json_safe(value: Any) -> Any:
    """A value ``json.dumps`` can write without a custom encoder (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): to_json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(item) for item in value]
    return str(value)
