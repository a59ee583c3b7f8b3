"""Run one guarded statement read-only, on the server's terms, and return bounded JSON-safe rows.

Defence in depth, outermost first (each layer holds on its own; the tests switch the others off):

1. ``guard.plan_sql`` allows a single read-only SELECT/EXPLAIN/SHOW, parsed by PostgreSQL's own parser, with
   allow-listed functions only and a bound on how big a value the query can build (``policy``).
2. ``resolver.check`` analyses the query on the server, in a savepoint that is rolled back, and checks every
   function, operator, type and relation it really resolves to, by OID, before anything runs.
3. The caller runs it as the dedicated reader role (``reader_role``): it owns nothing, is a member of
   nothing and may only SELECT what it was granted.
4. The statement runs in a transaction switched to READ ONLY before it starts (PostgreSQL refuses every
   write, even in functions, and refuses switching back), and is always rolled back. It is sent with the
   extended query protocol (a server-side cursor, or ``Cursor.stream``), which refuses more than one
   command: psycopg's plain ``execute()`` without parameters would use the simple protocol and run
   ``COMMIT; DELETE ...`` in full. ``standard_conforming_strings`` is forced on so the server reads
   backslashes as pglast did.
5. Limits: ``statement_timeout``, ``lock_timeout`` and ``idle_in_transaction_session_timeout``; at most
   ``row_limit`` rows and ``max_bytes`` bytes of JSON leave the server (``truncated`` says when more were
   there). The server turns each row into JSON itself and sends NULL instead of a row over the byte limit,
   so the handler's memory stays bounded whatever the query returns.

``pg_catalog`` is first on the ``search_path``, so an unqualified built-in name means the built-in function
(an overload elsewhere can still win on argument types: layer 2 is what stops that).

Values: each row is ``row_to_json`` of the query's row, so PostgreSQL does the conversion: numbers stay
numbers (numeric as an exact string), timestamps are ISO 8601, intervals and ranges PostgreSQL's text
('1 year 02:00:00', '[1,5)'), bytea ``\\x`` hex, json/jsonb the decoded value, arrays lists and composite
values objects. NaN and infinities are PostgreSQL's spelling ('NaN', 'Infinity', 'infinity').
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import pq

from migrator.errors import InvalidEvent, QueryFailed, UnsafeSQL
from migrator.sqlaction import resolver
from migrator.sqlaction.guard import DEFAULT_MAX_LENGTH, CheckedSQL, params_to_null, plan_sql

__all__ = ["DEFAULT_MAX_BYTES", "MAX_BYTES_LIMIT", "run_readonly"]

# Lambda's synchronous response limit is 6 MB; the result carries JSON overhead on top of the rows.
DEFAULT_MAX_BYTES = 1024 * 1024
MAX_BYTES_LIMIT = 4 * 1024 * 1024
_DESCRIBE_CURSOR = "migrator_readonly_describe"
_ROWS_CURSOR = "migrator_readonly"
_FETCH_BATCH = 20
_MAX_LOCK_TIMEOUT_MS = 2000
_IDLE_MARGIN_MS = 5000
_NUMERIC, _FLOAT4, _FLOAT8, _JSON, _JSONB = 1700, 700, 701, 114, 3802
_ROW_ALIAS = "_migrator_row"


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
) -> dict[str, Any]:
    """Run ``sql`` read-only on ``conn``; return ``{"columns", "rows", "row_count", "truncated", "bytes"}``.

    Raises UnsafeSQL when the guard or the server-side check refuses the statement, QueryFailed when
    PostgreSQL rejects it (with PostgreSQL's message), InvalidEvent for an out-of-range limit. ``conn`` may
    be in autocommit mode or not; it must have no transaction open, and is left idle and usable (whatever
    happened) unless it broke. ``guard`` and ``resolve`` switch layers 1 and 2 off: for tests only, to show
    that each other layer holds on its own.
    """
    for name, value, low in (("row_limit", row_limit, 0), ("statement_timeout_ms", statement_timeout_ms, 1),
                             ("max_bytes", max_bytes, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            # statement_timeout 0 would mean "no timeout" to PostgreSQL.
            raise InvalidEvent(f"{name} must be an integer >= {low}, not {value!r}")
    if max_bytes > MAX_BYTES_LIMIT:
        raise InvalidEvent(f"max_bytes must be at most {MAX_BYTES_LIMIT} (Lambda's response limit is 6 MB)")

    checked = plan_sql(sql, max_length=max_length, check=guard)

    status = conn.info.transaction_status
    if status != pq.TransactionStatus.IDLE:
        raise QueryFailed(
            f"the connection is not idle ({status.name}): commit or roll back its transaction before "
            "running a read-only query"
        )
    try:
        _begin(conn, statement_timeout_ms, read_write_first=resolve)
        query = _with_typed_params(conn, checked) if resolve and checked.params else checked.query
        hides_definitions = resolve and resolver.check(conn, query)
        if hides_definitions and checked.kind == "explain":
            raise UnsafeSQL(
                "EXPLAIN of a user view or a table with row-level security prints their definitions (a "
                "view's WHERE clause, a policy's expression), which may hold secrets; run the SELECT itself"
            )
        # From here on nothing can write, and PostgreSQL refuses to switch back.
        conn.execute("SET TRANSACTION READ ONLY")
        if checked.kind == "explain":
            return _explain(conn, checked, row_limit, max_bytes)
        return _rows(conn, checked, row_limit, max_bytes)
    except psycopg.Error as exc:
        raise QueryFailed(_describe(exc)) from None
    finally:
        _rollback(conn)


def _with_typed_params(conn: psycopg.Connection, checked: CheckedSQL) -> str:
    """The generic plan's query with each $n replaced by a NULL of the type PostgreSQL infers for it (a bare
    NULL could resolve an overload differently from the $n that runs)."""
    conn.execute(f"PREPARE migrator_generic_plan AS {checked.param_query}")
    try:
        types = conn.execute(
            "SELECT array(SELECT pg_catalog.format_type(t, NULL) FROM unnest(parameter_types::oid[]) t)"
            " FROM pg_catalog.pg_prepared_statements WHERE name = 'migrator_generic_plan'"
        ).fetchone()[0]
    finally:
        conn.execute("DEALLOCATE migrator_generic_plan")
    return params_to_null(checked.param_query, types)


def _begin(conn: psycopg.Connection, statement_timeout_ms: int, *, read_write_first: bool) -> None:
    mode = "READ WRITE" if read_write_first else "READ ONLY"  # the check's temporary view needs to write
    if conn.autocommit:
        conn.execute(f"BEGIN {mode}")
    else:
        # psycopg sends BEGIN with this; it is the transaction's first statement, as PostgreSQL requires.
        conn.execute(f"SET TRANSACTION {mode}")
    # set_config(name, value, is_local => true) is SET LOCAL with bound parameters (SET takes none):
    # everything below ends with the transaction.
    conn.execute(
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


def _rows(conn: psycopg.Connection, checked: CheckedSQL, row_limit: int, max_bytes: int) -> dict[str, Any]:
    # DECLARE only plans: it names the columns (even for no rows) and their types, without running anything.
    with conn.cursor(name=_DESCRIBE_CURSOR, scrollable=False) as describe:
        describe.execute(checked.statement)
        columns = [(column.name, column.type_code) for column in describe.description or ()]
    # No query parameters here: psycopg would read every % in the user's SQL as a placeholder.
    wrapped = (
        f"SELECT CASE WHEN octet_length(_j) <= {int(max_bytes)} THEN _j END, octet_length(_j)"
        f" FROM (SELECT pg_catalog.row_to_json({_ROW_ALIAS}.*)::text AS _j"
        f" FROM (\n{checked.statement}\n) AS {_ROW_ALIAS}) AS _w"
    )
    rows: list[list[Any]] = []
    used = 0
    reason = None
    with conn.cursor(name=_ROWS_CURSOR, scrollable=False) as cursor:
        cursor.execute(wrapped)
        while reason is None:
            batch = cursor.fetchmany(_FETCH_BATCH)
            if not batch:
                break
            for text, size in batch:
                if len(rows) >= row_limit:
                    reason = f"more than {row_limit} rows"
                    break
                if text is None and size is not None:
                    reason = f"row {len(rows) + 1} is {size} bytes of JSON, over the {max_bytes}-byte limit"
                    break
                if used + (size or 0) > max_bytes:
                    reason = f"the rows reach the {max_bytes}-byte limit"
                    break
                used += size or 0
                rows.append(_decode_row(text, columns))
    result: dict[str, Any] = {
        "columns": [name for name, _ in columns],
        "rows": rows,
        "row_count": len(rows),
        "truncated": reason is not None,
        "bytes": used,
    }
    if reason:
        result["truncated_reason"] = reason
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


def _explain(conn: psycopg.Connection, checked: CheckedSQL, row_limit: int, max_bytes: int) -> dict[str, Any]:
    # EXPLAIN cannot be declared as a cursor. libpq's PQexecParams is the extended protocol (one statement
    # only), and binds NULL to each $n of a generic plan; psycopg's own execute() would read every % in the
    # user's SQL as a placeholder. A plan's size is bounded by the query's.
    result = conn.pgconn.exec_params(checked.statement.encode(), [None] * checked.params)
    if result.status != pq.ExecStatus.TUPLES_OK:
        message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode("utf-8", "replace")
        code = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        raise QueryFailed(f"PostgreSQL refused the query: {message} (SQLSTATE {code})")
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
