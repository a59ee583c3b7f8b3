"""Run one guarded statement read-only, on the server's terms, within one deadline, and return bounded
JSON-safe rows.

Defence in depth, outermost first (each layer holds on its own; the tests switch the others off):

1. ``guard.plan_sql`` allows a single read-only SELECT/EXPLAIN/SHOW, parsed by PostgreSQL's own parser, with
   allow-listed functions only and a bound on how big a value the query can build (``policy``, ``bounds``).
2. ``resolver.check`` reads PostgreSQL's own analysis of the statement (prepared, never run) and checks every
   function, operator, type and relation it really resolves to, by OID, and the plan's shape, before
   anything is planned.
3. The caller runs it as the dedicated reader role (``reader_role``): it owns nothing, is a member of
   nothing and may only SELECT what it was granted.
4. The transaction is READ ONLY from its first statement (PostgreSQL refuses every write, even in functions,
   and refuses switching back), and is always rolled back. The statement that runs is the one the check
   read: the prepared ``DECLARE`` is executed as prepared (extended protocol: one command only), and a
   re-analysis (a concurrent change to what it reads) refuses it. ``standard_conforming_strings`` is forced
   on so the server reads backslashes as pglast did.
5. Limits: one deadline for the whole action (``statement_timeout_ms``): the analysis, the check, the
   execution and every FETCH share it. Each statement gets ``statement_timeout`` = the time left; at the
   deadline a watchdog cancels whatever runs, and if the server does not answer it closes the connection,
   so the action returns within the timeout plus 1 s and the transaction (with its locks) ends.
   ``work_mem``, no hashed set operations (PostgreSQL 15 never spills them), no parallel workers, no JIT;
   at most ``row_limit`` rows and ``max_bytes`` bytes of JSON leave the server (``truncated`` says when more
   were there). The server turns each row into JSON itself and sends NULL instead of a row over the byte
   limit, so the handler's memory stays bounded whatever the query returns.

Values: each row is ``row_to_json`` of the query's row, so PostgreSQL does the conversion: numbers stay
numbers (numeric as an exact string), timestamps are ISO 8601, intervals and ranges PostgreSQL's text
('1 year 02:00:00', '[1,5)'), bytea ``\\x`` hex, json/jsonb the decoded value, arrays lists and composite
values objects. NaN and infinities are PostgreSQL's spelling ('NaN', 'Infinity', 'infinity').
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import pq

from migrator.errors import InvalidEvent, QueryFailed, UnsafeSQL
from migrator.sqlaction import resolver, workmem
from migrator.sqlaction.guard import DEFAULT_MAX_LENGTH, CheckedSQL, plan_sql
from migrator.sqlaction.nodetree import Node

__all__ = ["DEFAULT_MAX_BYTES", "MAX_BYTES_LIMIT", "TRANSACTION_SETTINGS", "run_readonly"]

# Lambda's synchronous response limit is 6 MB; the result carries JSON overhead on top of the rows.
DEFAULT_MAX_BYTES = 1024 * 1024
MAX_BYTES_LIMIT = 4 * 1024 * 1024
_ROWS, _DESCRIBE, _EXPLAIN_CHECK = "migrator_rows", "migrator_describe", "migrator_explain_check"
_FETCH_BATCH = 20
_MAX_LOCK_TIMEOUT_MS = 2000
# The watchdog cancels a little after the server's own statement_timeout would have fired, and gives up on
# the server (closes the connection) after this much more: the action returns within timeout + 1 s.
_CANCEL_GRACE_S, _ABANDON_AFTER_S = 0.1, 0.6
_NUMERIC, _FLOAT4, _FLOAT8, _JSON, _JSONB = 1700, 700, 701, 114, 3802
_ROW_ALIAS = "_migrator_row"

# Set for the transaction whatever the role's own settings (the reader role has them too).
TRANSACTION_SETTINGS: dict[str, str] = {
    "standard_conforming_strings": "on",
    "work_mem": "4MB",
    "hash_mem_multiplier": "1",
    # Hashed set operations (INTERSECT, EXCEPT) keep every row in memory and PostgreSQL 15 never spills them:
    # plan them with sorts, which spill. (Hash aggregation would spill, but is planned the same way.)
    "enable_hashagg": "off",
    # A hash join spills by splitting its input into batches by hash value; rows that all share one key cannot
    # be split, and a one-row estimate over a million equal keys held the whole inner side in memory.
    "enable_hashjoin": "off",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    # a vanished client is noticed while a long statement runs
    "client_connection_check_interval": "250ms",
    # The planner settings the bounds were measured with, at PostgreSQL's defaults, whatever the database or
    # the role says: ALTER DATABASE ... SET geqo = off made a 16-way join's exhaustive search take a backend
    # past 1 GB; partitionwise joins and aggregates hold one sort or hash table per partition.
    "geqo": "on",
    "geqo_threshold": "12",
    "geqo_effort": "5",
    "geqo_pool_size": "0",
    "geqo_generations": "0",
    "join_collapse_limit": "8",
    "from_collapse_limit": "8",
    "enable_sort": "on",
    "enable_incremental_sort": "on",
    "enable_mergejoin": "on",
    "enable_nestloop": "on",
    "enable_material": "on",
    "enable_partitionwise_join": "off",
    "enable_partitionwise_aggregate": "off",
    "cursor_tuple_fraction": "0.1",
    "constraint_exclusion": "partition",
}


class _Deadline:
    """One deadline for the whole action, and a watchdog that enforces it whatever the server does."""

    def __init__(self, conn: psycopg.Connection, ends: float) -> None:
        self.conn = conn
        self.ends = ends
        self.cancelled = self.abandoned = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sql-deadline", daemon=True)
        self._thread.start()

    def remaining_ms(self) -> int:
        return max(1, int((self.ends - time.monotonic()) * 1000))

    def _watch(self) -> None:
        if self._done.wait(max(0.0, self.ends - time.monotonic()) + _CANCEL_GRACE_S):
            return
        self.cancelled = True
        with contextlib.suppress(Exception):  # the fallback below does not depend on it
            self.conn.cancel_safe(timeout=_ABANDON_AFTER_S / 2)
        if self._done.wait(_ABANDON_AFTER_S):
            return
        # The server did not stop (an uncancellable call): close the socket under the waiting libpq call.
        # The backend notices at its next check (client_connection_check_interval) and rolls back.
        self.abandoned = True
        with (
            contextlib.suppress(OSError, psycopg.Error),
            socket.socket(fileno=os.dup(self.conn.pgconn.socket)) as sock,
        ):
            sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def failure(self, timeout_ms: int) -> QueryFailed | None:
        if self.abandoned:
            return QueryFailed(
                f"the statement timeout ({timeout_ms} ms, the action's deadline) passed and the server did "
                "not stop the statement: the connection was closed, which ends its transaction"
            )
        if self.cancelled:
            return QueryFailed(
                "PostgreSQL refused the query: canceling statement due to statement timeout "
                f"({timeout_ms} ms, the action's deadline for the check, the execution and every fetch)"
            )
        return None


def run_readonly(
    conn: psycopg.Connection,
    sql: str,
    *,
    row_limit: int = 1000,
    statement_timeout_ms: int = 5000,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_bytes: int = DEFAULT_MAX_BYTES,
    guard: bool = True,
    resolve: bool = True,
    deadline: float | None = None,
    search_path: str | None = None,
) -> dict[str, Any]:
    """Run ``sql`` read-only on ``conn``; return ``{"columns", "rows", "row_count", "truncated", "bytes"}``.

    Raises UnsafeSQL when the guard or the server-side check refuses the statement, QueryFailed when
    PostgreSQL rejects it (with PostgreSQL's message, cut to a few KB) or the deadline passes, InvalidEvent
    for an out-of-range limit. The deadline is ``deadline`` (a ``time.monotonic()`` value), or
    ``statement_timeout_ms`` from now, whichever is sooner. ``conn`` may be in autocommit mode or not; it
    must have no transaction open, and is left idle and usable (whatever happened) unless it broke or the
    deadline closed it. ``guard`` and ``resolve`` switch layers 1 and 2 off: for tests, to show that each
    other layer holds on its own, and for the named reports (fixed, reviewed SQL, run with ``search_path``
    ``pg_catalog, pg_temp``). ``search_path`` replaces the session's for the statement.
    """
    for name, value, low in (("row_limit", row_limit, 0), ("statement_timeout_ms", statement_timeout_ms, 1),
                             ("max_bytes", max_bytes, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            # statement_timeout 0 would mean "no timeout" to PostgreSQL.
            raise InvalidEvent(f"{name} must be an integer >= {low}, not {value!r}")
    if max_bytes > MAX_BYTES_LIMIT:
        raise InvalidEvent(f"max_bytes must be at most {MAX_BYTES_LIMIT} (Lambda's response limit is 6 MB)")
    ends = time.monotonic() + statement_timeout_ms / 1000
    ends = min(ends, deadline) if deadline is not None else ends

    checked = plan_sql(sql, max_length=max_length, check=guard)

    status = conn.info.transaction_status
    if status != pq.TransactionStatus.IDLE:
        raise QueryFailed(
            f"the connection is not idle ({status.name}): commit or roll back its transaction before "
            "running a read-only query"
        )
    clock = _Deadline(conn, ends)
    prepared: list[str] = []
    try:
        user_path, schemas = _begin(conn, clock, search_path)
        if checked.kind == "explain":
            return _explain(conn, checked, clock, user_path, schemas, prepared, row_limit, max_bytes, resolve)
        return _rows(conn, checked, clock, user_path, schemas, prepared, row_limit, max_bytes, resolve)
    except psycopg.Error as exc:
        raise (clock.failure(statement_timeout_ms) or QueryFailed(resolver.describe_error(exc))) from None
    except QueryFailed as exc:
        raise (clock.failure(statement_timeout_ms) or exc) from None
    finally:
        clock.stop()
        _rollback(conn, prepared)


def _begin(conn: psycopg.Connection, clock: _Deadline, search_path: str | None) -> tuple[str, list[str]]:
    """Open the READ ONLY transaction with its limits; return the query's search_path and its schemas."""
    # The transaction's first statement: nothing, not even the check, runs before it is read-only (with
    # autocommit off, psycopg sends BEGIN first, and this is the first statement after it).
    conn.execute("BEGIN READ ONLY" if conn.autocommit else "SET TRANSACTION READ ONLY")
    (session_path,) = conn.execute("SELECT pg_catalog.current_setting('search_path')").fetchone()
    # pg_catalog first, and pg_temp explicitly last: unlisted, pg_temp would be searched first.
    user_path = search_path or ", ".join(
        part for part in ("pg_catalog", session_path.strip(), "pg_temp") if part
    )
    remaining = clock.remaining_ms()
    resolver.set_local(
        conn,
        {
            **TRANSACTION_SETTINGS,
            "statement_timeout": f"{remaining}ms",
            "lock_timeout": f"{min(remaining, _MAX_LOCK_TIMEOUT_MS)}ms",
            "idle_in_transaction_session_timeout": f"{remaining + 1000}ms",
            "search_path": user_path,
        },
    )
    (schemas,) = conn.execute("SELECT pg_catalog.current_schemas(true)::pg_catalog.text[]").fetchone()
    resolver.set_local(conn, {"search_path": resolver.CHECK_PATH})
    return user_path, list(schemas)


def _analysed(
    conn: psycopg.Connection, name: str, query: str, user_path: str, schemas: list[str], resolve: bool,
    prepared: list[str], *, named_checked: bool = False,
) -> tuple[Node, bool]:  # fmt: skip
    """Prepare ``DECLARE name CURSOR FOR query`` and, unless ``resolve`` is off, check its analysis. Then
    share the memory budget among the operations its plan may hold (whatever ``resolve`` says: it is a limit,
    not a check)."""
    if resolve and not named_checked:
        resolver.check_named_relations(conn, query, schemas)
    # A newline on each side: a trailing line comment in the query cannot swallow what follows.
    statement = f"DECLARE {name} NO SCROLL CURSOR FOR\n{query}\n"
    tree = resolver.analysed_query(conn, name, statement, user_path=user_path)
    prepared.append(name)
    hides_definitions = resolve and resolver.check(conn, tree)
    areas = workmem.work_areas(tree)
    if areas > workmem.MAX_AREAS:
        raise UnsafeSQL(
            f"the plan of this query could hold about {areas} sorts, hash tables and tuplestores, each with "
            f"its own memory; the limit is {workmem.MAX_AREAS}: use fewer aggregates with DISTINCT or ORDER "
            "BY, window orderings, joins or subqueries"
        )
    resolver.set_local(conn, {"work_mem": f"{workmem.work_mem_kb(areas)}kB"})
    return tree, hides_definitions


def _rows(
    conn: psycopg.Connection, checked: CheckedSQL, clock: _Deadline, user_path: str, schemas: list[str],
    prepared: list[str], row_limit: int, max_bytes: int, resolve: bool,
) -> dict[str, Any]:  # fmt: skip
    if resolve:
        resolver.check_named_relations(conn, checked.statement, schemas)
    columns = _describe(conn, checked.statement, user_path, prepared)
    wrapped = _wrapper(checked.statement, columns, row_limit, max_bytes)
    _analysed(conn, _ROWS, wrapped, user_path, schemas, resolve, prepared, named_checked=True)
    _open_as_checked(conn, _ROWS, user_path)
    rows: list[list[Any]] = []
    used = 0
    reason = None
    while reason is None:
        result = _fetch(conn, clock)
        if result.ntuples == 0:
            break
        for index in range(result.ntuples):
            raw, size_raw = result.get_value(index, 0), result.get_value(index, 1)
            text = raw.decode() if raw is not None else None
            size = int(size_raw) if size_raw is not None else None
            if len(rows) >= row_limit:
                reason = f"more than {row_limit} rows"
                break
            values_raw = result.get_value(index, 2)
            if text is None and values_raw is not None and int(values_raw) > READ_LIMIT:
                reason = (
                    f"row {len(rows) + 1} holds values of up to {int(values_raw)} bytes, over the "
                    f"{READ_LIMIT}-byte limit of what a row may bring into memory to be returned: select "
                    "part of them (left(), substring(), octet_length())"
                )
                break
            if text is None and size is not None:
                reason = f"row {len(rows) + 1} is {size} bytes of JSON, over the {max_bytes}-byte limit"
                break
            if used + (size or 0) > max_bytes:
                reason = f"the rows reach the {max_bytes}-byte limit"
                break
            used += size or 0
            rows.append(_decode_row(text, columns))
    result_json: dict[str, Any] = {
        "columns": [name for name, _ in columns],
        "rows": rows,
        "row_count": len(rows),
        "truncated": reason is not None,
        "bytes": used,
    }
    if reason:
        result_json["truncated_reason"] = reason
    return result_json


# Of a row, at most this many bytes of values are read into memory to be made JSON (a 64 MB bytea was
# detoasted, hex-encoded and escaped into 660 MB before the byte cap could look at the result).
READ_LIMIT = 8 * 1024 * 1024
# Raw size is read from the value's header without detoasting it: exactly for these types (octet_length
# reads a TOAST pointer's raw size), and as the stored size times this for a compressed value of another type
# (neither pglz nor LZ4 can expand a value more than 256 times).
_OCTET_TYPES = frozenset({25, 1043, 1042, 17, 1560, 1562})  # text, varchar, bpchar, bytea, bit, varbit
_MAX_EXPANSION = 256


def _wrapper(statement: str, columns: list[tuple[str, int]], row_limit: int, max_bytes: int) -> str:
    """The query the action runs: the server makes each row JSON, and sends NULL for one over the byte cap;
    LIMIT lets a sort keep only the rows that can be returned. Before any value is detoasted, each row's size
    is read from its values' headers, and a row over :data:`READ_LIMIT` is not made JSON at all. The
    statement sits behind ``OFFSET 0`` so that PostgreSQL computes each of its columns once, however often the
    wrapper names it. Operators and functions are schema-qualified: this is our own SQL."""
    names = [f"_c{n}" for n in range(1, len(columns) + 1)]
    sizes = []
    for name, (_, type_oid) in zip(names, columns, strict=True):
        if type_oid in _OCTET_TYPES:
            sizes.append(f"pg_catalog.octet_length({_ROW_ALIAS}.{name})::pg_catalog.int8")
        else:
            sizes.append(
                f"pg_catalog.pg_column_size({_ROW_ALIAS}.{name})::pg_catalog.int8"
                f" OPERATOR(pg_catalog.*) CASE WHEN pg_catalog.pg_column_compression({_ROW_ALIAS}.{name})"
                f" IS NULL THEN 1 ELSE {_MAX_EXPANSION} END"
            )
    size = " OPERATOR(pg_catalog.+) ".join(f"COALESCE({term}, 0)" for term in sizes) or "0"
    aliases = f"({', '.join(names)})" if names else ""
    # the JSON keys are the query's own column names (which may repeat)
    named = ", ".join(
        f"{_ROW_ALIAS}.{alias} AS {_quote_identifier(name)}"
        for alias, (name, _) in zip(names, columns, strict=True)
    )
    return (
        f"SELECT CASE WHEN pg_catalog.octet_length(_j) OPERATOR(pg_catalog.<=) {int(max_bytes)} THEN _j END,"
        " pg_catalog.octet_length(_j), _size"
        f" FROM (SELECT CASE WHEN _s._size OPERATOR(pg_catalog.<=) {READ_LIMIT}"
        " THEN pg_catalog.row_to_json(_n.*)::pg_catalog.text END AS _j, _s._size AS _size"
        f" FROM (SELECT * FROM (\n{statement}\n) AS _u OFFSET 0) AS {_ROW_ALIAS}{aliases}"
        f" CROSS JOIN LATERAL (SELECT {size} AS _size) AS _s CROSS JOIN LATERAL (SELECT {named}) AS _n"
        f" LIMIT {int(row_limit) + 1}) AS _w"
    )


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _describe(
    conn: psycopg.Connection, statement: str, user_path: str, prepared: list[str]
) -> list[tuple[str, int]]:
    """The query's column names and types, from its prepared form (parse analysis only, as the check's)."""
    resolver.set_local(conn, {"search_path": user_path})
    result = conn.pgconn.prepare(_DESCRIBE.encode(), statement.encode(conn.info.encoding))
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise QueryFailed(resolver.describe_result(result))
    prepared.append(_DESCRIBE)
    description = conn.pgconn.describe_prepared(_DESCRIBE.encode())
    return [(description.fname(i).decode(), description.ftype(i)) for i in range(description.nfields)]


def _open_as_checked(conn: psycopg.Connection, name: str, user_path: str) -> None:
    """Execute the prepared DECLARE (it plans the query the check read). PostgreSQL analyses it again only if
    what it reads changed since (a concurrent DDL): then what would run is not what was checked."""
    resolver.set_local(
        conn, {"search_path": user_path, "debug_print_parse": "on", "client_min_messages": "log"}
    )
    reanalysed: list[str] = []

    def receive(diag: psycopg.errors.Diagnostic) -> None:
        if diag.message_primary == "parse tree:":
            reanalysed.append("yes")

    conn.add_notice_handler(receive)
    try:
        result = conn.pgconn.exec_prepared(name.encode(), [])
    finally:
        conn.remove_notice_handler(receive)
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise QueryFailed(resolver.describe_result(result))
    if reanalysed:
        raise UnsafeSQL("what the query reads changed while it was being checked; run it again")
    resolver.set_local(conn, {"debug_print_parse": "off", "client_min_messages": "notice"})


def _fetch(conn: psycopg.Connection, clock: _Deadline) -> pq.abc.PGresult:
    """The next batch, with the statement timeout lowered to the time left (one message, our own text)."""
    command = (
        f"SELECT pg_catalog.set_config('statement_timeout', '{clock.remaining_ms()}ms', true);"
        f" FETCH {_FETCH_BATCH} FROM {_ROWS}"
    )
    result = conn.pgconn.exec_(command.encode())
    if result.status != pq.ExecStatus.TUPLES_OK:
        if conn.pgconn.status != pq.ConnStatus.OK:
            raise QueryFailed("lost the connection while fetching rows")
        raise QueryFailed(resolver.describe_result(result))
    return result


def _decode_row(text: str | None, columns: list[tuple[str, int]]) -> list[Any]:
    if text is None:  # row_to_json of a row of one NULL composite is NULL
        return [None] * len(columns)
    pairs = json.loads(text, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=_pairs)
    values = [value for _, value in pairs.items]
    return [_exact(value, type_code) for value, (_, type_code) in zip(values, columns, strict=False)]


class _Pairs:
    """A JSON object as ordered (key, value) pairs: a row's column names need not be unique."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items


def _pairs(items: list[tuple[str, Any]]) -> _Pairs:
    return _Pairs(items)


def _exact(value: Any, type_code: int) -> Any:
    """numeric stays exact (a string); other numbers become int or float; objects become dicts."""
    if isinstance(value, list):
        return [_exact(item, type_code) for item in value]
    if isinstance(value, _Pairs):
        return {key: _exact(item, 0) for key, item in value.items}
    if isinstance(value, Decimal):
        if type_code == _NUMERIC:
            return str(value)
        is_integer = type_code not in (_FLOAT4, _FLOAT8) and value.as_tuple().exponent >= 0
        return int(value) if is_integer else float(value)
    return value


def _explain(
    conn: psycopg.Connection, checked: CheckedSQL, clock: _Deadline, user_path: str, schemas: list[str],
    prepared: list[str], row_limit: int, max_bytes: int, resolve: bool,
) -> dict[str, Any]:  # fmt: skip
    # EXPLAIN's own analysis is not printed (PostgreSQL 15 prints its utility statement as "?"): the check
    # reads the analysis of the explained query as a cursor that is never opened.
    _, hides_definitions = _analysed(conn, _EXPLAIN_CHECK, checked.param_query or checked.query, user_path,
                                     schemas, resolve, prepared)  # fmt: skip
    if hides_definitions:
        raise UnsafeSQL(
            "EXPLAIN of a user view or a table with row-level security prints their definitions (a "
            "view's WHERE clause, a policy's expression), which may hold secrets; run the SELECT itself"
        )
    resolver.set_local(conn, {"search_path": user_path, "statement_timeout": f"{clock.remaining_ms()}ms"})
    # libpq's PQexecParams is the extended protocol (one statement only), and binds NULL to each $n of a
    # generic plan; psycopg's own execute() would read every % in the user's SQL as a placeholder. A plan's
    # size is bounded by the query's.
    result = conn.pgconn.exec_params(checked.statement.encode(), [None] * checked.params)
    if result.status != pq.ExecStatus.TUPLES_OK:
        raise QueryFailed(resolver.describe_result(result))
    columns = [result.fname(i).decode() for i in range(result.nfields)]
    rows: list[list[Any]] = []
    used = 0
    truncated = False
    for index in range(result.ntuples):
        line = [_explain_value(result, index, field) for field in range(result.nfields)]
        size = len(json.dumps(line))
        if len(rows) >= row_limit or used + size > max_bytes:
            truncated = True
            break
        used += size
        rows.append(line)
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated, "bytes": used}


def _explain_value(result: pq.abc.PGresult, row: int, field: int) -> Any:
    raw = result.get_value(row, field)
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace")
    return json.loads(text) if result.ftype(field) in (_JSON, _JSONB) else text


def _rollback(conn: psycopg.Connection, prepared: list[str]) -> None:
    """End the transaction, whatever state it is in, and drop what it prepared, without hiding the error that
    got us here."""
    if conn.closed or conn.broken or conn.pgconn.status != pq.ConnStatus.OK:
        return
    try:
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            if conn.autocommit:
                conn.execute("ROLLBACK")
            else:
                conn.rollback()
        for name in prepared:  # prepared statements outlive the transaction
            conn.pgconn.exec_(f"DEALLOCATE {name}".encode())
    except psycopg.Error:
        # The server dropped the connection (e.g. idle_in_transaction_session_timeout); nothing to undo.
        pass
