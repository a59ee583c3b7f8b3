"""The statement inventory: what each colour's role has really run against this database.

The source is ``pg_stat_statements`` (RDS for PostgreSQL loads it by default from PostgreSQL 11 on; the
local default preloads it). A statement belongs to a colour by ``userid``: the colour's own role
(:mod:`.app_role`). Every runner action starts with :func:`capture`, one ``INSERT ... SELECT ... ON CONFLICT``
that copies the two colour roles' top-level data-manipulation and query statements (SELECT, INSERT, UPDATE,
DELETE, MERGE, and WITH, VALUES, TABLE) of this database into ``public.release_kit_statements``; it reads
the query texts only when a statement it does not know yet has run:

    color, queryid     the key: a colour and pg_stat_statements' id of the statement
    query              its normalised text ($1 for each constant). A text can have more than one queryid (a
                       table it names was re-created, its parameters were typed differently): readers group
                       by text
    calls              executions counted across captures: each adds what pg_stat_statements counted since
                       the previous one, so a reset, an eviction (pg_stat_statements.max) or a restart loses
                       at most what ran between two actions
    source_calls       pg_stat_statements' own count at the last capture
    first_seen, last_seen   the captures that first and last saw it run
    dml                false for a colour's utility statements (SET, BEGIN): kept so their queryids are
                       known, never checked or shown

So the evidence outlives ``pg_stat_statements_reset()``. Reading other roles' statements needs
``pg_read_all_stats`` (RDS: the master user has it, through ``rds_superuser`` and ``pg_monitor``); without it
PostgreSQL hides their text, and the capture says so instead of recording nothing silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from migrator import logs
from migrator.runner import shapes, store
from migrator.settings import COLORS, Settings

__all__ = [
    "Recorded",
    "capture",
    "capture_quietly",
    "listing",
    "recorded",
    "source_status",
    "summary",
    "tables_of",
]

TABLE = store.STATEMENTS_TABLE
EXTENSION = "pg_stat_statements"
# A data-manipulation or query statement, after any leading comments and opening parentheses; COPY and
# DECLARE ... CURSOR move or read rows too (the check compiles what they run: migrator.runner.shapes).
DML = (
    r"^\s*((/\*([^*]|\*+[^*/])*\*+/|--[^\n]*(\n|$))\s*)*\(*\s*"
    r"(select|insert|update|delete|merge|with|values|table|copy|declare)\M"
)
_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    color        text NOT NULL,
    queryid      bigint NOT NULL,
    query        text NOT NULL,
    dml          boolean NOT NULL,
    calls        bigint NOT NULL,
    source_calls bigint NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    PRIMARY KEY (color, queryid)
)
"""
# One statement. pg_stat_statements(false) leaves the query texts on disk, so a capture with nothing new costs
# little; the texts are read (pg_stat_statements(true)) only when a queryid the inventory does not know shows
# up, which the EXISTS gate decides once. A colour's utility statements (SET, BEGIN) are kept too, marked
# dml = false, only so that their queryids are known: nothing reads them.
_CAPTURE = """
WITH roles AS (
    SELECT c.color, r.oid AS userid
    FROM unnest(%(colors)s::text[], %(roles)s::text[]) AS c (color, rolname)
    JOIN pg_catalog.pg_roles r ON r.rolname = c.rolname
), here AS (
    SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()
), counted AS (
    SELECT roles.color, s.queryid, sum(s.calls)::bigint AS calls
    FROM {view}(false) s JOIN roles ON roles.userid = s.userid
    WHERE s.dbid = (SELECT oid FROM here) AND s.toplevel AND s.queryid IS NOT NULL
    GROUP BY roles.color, s.queryid
), matched AS (
    SELECT c.color, c.queryid, c.calls, t.source_calls
    FROM counted c LEFT JOIN {table} t ON t.color = c.color AND t.queryid = c.queryid
), texts AS (
    SELECT roles.color, s.queryid, min(s.query) AS query, sum(s.calls)::bigint AS calls
    FROM {view}(true) s JOIN roles ON roles.userid = s.userid
    WHERE EXISTS (SELECT 1 FROM matched WHERE source_calls IS NULL)
      AND s.dbid = (SELECT oid FROM here) AND s.toplevel
      AND (roles.color, s.queryid) IN (SELECT color, queryid FROM matched WHERE source_calls IS NULL)
    GROUP BY roles.color, s.queryid
), updated AS (
    UPDATE {table} AS t SET
        calls = t.calls + CASE WHEN m.calls >= t.source_calls THEN m.calls - t.source_calls ELSE m.calls END,
        source_calls = m.calls,
        last_seen = now()
    FROM matched m
    WHERE m.source_calls IS NOT NULL AND t.color = m.color AND t.queryid = m.queryid
      AND m.calls <> t.source_calls
    RETURNING t.dml
), inserted AS (
    INSERT INTO {table} (color, queryid, query, dml, calls, source_calls, first_seen, last_seen)
    SELECT color, queryid, query, query OPERATOR(pg_catalog.~*) %(dml)s, calls, calls, now(), now()
    FROM texts
    ON CONFLICT (color, queryid) DO NOTHING
    RETURNING dml
)
SELECT (SELECT count(*) FROM updated WHERE dml) + (SELECT count(*) FROM inserted WHERE dml),
       pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
       OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
"""
# Where this process found the view, per database (a warm Lambda container asks once).
_VIEWS: dict[tuple[str, int, str], str] = {}


def _key(conn: psycopg.Connection) -> tuple[str, int, str]:
    return (conn.info.host, conn.info.port, conn.info.dbname)


def _roles(settings: Settings) -> dict[str, list[str]]:
    pairs = settings.roles_by_color
    return {"colors": list(pairs), "roles": [pairs[c] for c in pairs]}


def _ensure_table(conn: psycopg.Connection) -> None:
    for attempt in range(3):
        try:
            with conn.transaction():
                if conn.execute("SELECT to_regclass(%s) IS NULL", (TABLE,)).fetchone()[0]:
                    conn.execute(_CREATE)
                    store.keep_private(conn, TABLE)
            return
        except psycopg.errors.UniqueViolation:  # a concurrent first capture created it
            if attempt == 2:
                raise


def _locate_view(conn: psycopg.Connection, *, create: bool) -> str | None:
    """The view's qualified name; None when the extension is not installed in this database. With
    ``create`` the migrator installs it where it may (RDS: the master user may; a local non-superuser may
    not, the extension is not trusted)."""
    found = conn.execute(
        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = %s",
        (EXTENSION,),
    ).fetchone()
    if found is None and create:
        try:
            with conn.transaction():
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION}")
                found = conn.execute(
                    "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n "
                    "ON n.oid = e.extnamespace WHERE e.extname = %s",
                    (EXTENSION,),
                ).fetchone()
                # Its views were created by the migrator, whose default privileges gave them to the
                # application's group and the sql reader; PUBLIC keeps what the extension itself grants.
                for view in (EXTENSION, f"{EXTENSION}_info"):
                    store.keep_private(conn, f"{found[0]}.{view}", keep_public=True)
            logs.log("created the pg_stat_statements extension", schema=found[0])
        except psycopg.Error as exc:
            logs.log("cannot create the pg_stat_statements extension", level="WARNING", reason=str(exc)[:200])
            found = None
    return f"{found[0]}.{EXTENSION}" if found else None


def _anything(conn: psycopg.Connection, view: str, params: dict[str, Any]) -> bool:
    """Whether the colour roles ran anything here yet (the inventory's table is created only then)."""
    return conn.execute(
        sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {} s JOIN pg_catalog.pg_roles r ON r.oid = s.userid "
            "WHERE r.rolname = ANY(%(roles)s) "
            "AND s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))"
        ).format(sql.SQL(view)),
        params,
    ).fetchone()[0]


def capture(conn: psycopg.Connection, settings: Settings, *, create: bool = False) -> dict[str, Any]:
    """Copy the colour roles' new statements into the inventory: one query once set up. Returns ``{ok,
    captured, duration_ms}``, or ``{ok: false, reason}`` naming the fix; it never raises for the database's
    sake (the action it belongs to goes on). ``create`` lets it install pg_stat_statements where the
    migrator may (migrate and capture do; read-only actions such as list do not)."""
    started = time.perf_counter()
    params = {**_roles(settings), "dml": DML}
    view = _VIEWS.get(_key(conn), EXTENSION)

    def done(**fields: Any) -> dict[str, Any]:
        return {**fields, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}

    for _ in range(3):
        try:
            query = sql.SQL(_CAPTURE).format(view=sql.SQL(view), table=sql.SQL(TABLE))
            captured, readable = conn.execute(query, params).fetchone()
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction):
            located = _locate_view(conn, create=create)
            if located is None:
                return done(ok=False, captured=0, reason=_NOT_INSTALLED)
            if located != view:
                view = _VIEWS[_key(conn)] = located
                continue
            if not _anything(conn, view, params):
                return done(ok=True, captured=0)  # nothing yet: no table yet either
            _ensure_table(conn)
            continue
        except psycopg.errors.ObjectNotInPrerequisiteState:
            return done(ok=False, captured=0, reason=_NOT_LOADED)
        except psycopg.Error as exc:
            return done(ok=False, captured=0, reason=f"the capture failed: {str(exc).strip()[:300]}")
        if not readable:
            return done(ok=False, captured=captured, reason=_NOT_READABLE)
        return done(ok=True, captured=captured)
    return done(ok=False, captured=0, reason=_NOT_INSTALLED)


_NOT_INSTALLED = (
    "pg_stat_statements is not installed in this database and the migrator may not create it: run "
    "CREATE EXTENSION pg_stat_statements as a superuser (on RDS the master user may, and the migrator does "
    "it itself when it is that user)"
)
_NOT_LOADED = (
    "pg_stat_statements is not loaded: add it to shared_preload_libraries (RDS loads it by default on "
    "PostgreSQL 11 and later; check the DB parameter group) and restart the server"
)
_NOT_READABLE = (
    "the migrator's user cannot read other roles' statements: GRANT pg_read_all_stats TO it (on RDS the "
    "master user has it, through rds_superuser and pg_monitor)"
)


def capture_quietly(conn: psycopg.Connection, settings: Settings, *, create: bool = False) -> dict[str, Any]:
    """:func:`capture`, logging a warning when the inventory could not be brought up to date."""
    result = capture(conn, settings, create=create)
    if result["ok"]:
        logs.log("statement inventory captured", captured=result["captured"], ms=result["duration_ms"])
    else:
        logs.log("statement inventory not captured", level="WARNING", reason=result["reason"])
    return result


def source_status(conn: psycopg.Connection) -> dict[str, Any]:
    """Whether ``pg_stat_statements`` is loaded, installed in this database and readable for the migrator
    (what ``make preflight`` checks): ``{loaded, installed, readable, ok, reason}``. ``loaded`` is None when
    neither the view nor the setting can tell (the setting needs pg_read_all_settings)."""
    view = _locate_view(conn, create=False)
    loaded: bool | None = None
    if view is not None:
        try:
            conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.SQL(view)))
            loaded = True
        except psycopg.errors.ObjectNotInPrerequisiteState:
            loaded = False
    else:
        try:
            preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
            loaded = EXTENSION in [name.strip() for name in preload.split(",")]
        except psycopg.errors.InsufficientPrivilege:
            loaded = None
    readable = conn.execute(
        "SELECT pg_has_role('pg_read_all_stats', 'USAGE') OR rolsuper FROM pg_roles "
        "WHERE rolname = current_user"
    ).fetchone()[0]
    reason = None
    if loaded is False:
        reason = _NOT_LOADED
    elif view is None:
        reason = _NOT_INSTALLED
    elif not readable:
        reason = _NOT_READABLE
    return {"loaded": loaded, "installed": view, "readable": readable, "ok": reason is None, "reason": reason}


# ------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Recorded:
    """One statement of one colour, as the inventory holds it."""

    color: str
    query: str
    calls: int
    first_seen: datetime
    last_seen: datetime


def _exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)).fetchone()[0]


def recorded(
    conn: psycopg.Connection, colors: list[str] | tuple[str, ...], window_days: int
) -> list[Recorded]:
    """The statements of ``colors`` that ran within the last ``window_days``, most called first."""
    if not _exists(conn):
        return []
    rows = conn.execute(
        f"SELECT color, query, sum(calls)::bigint, min(first_seen), max(last_seen) FROM {TABLE} "
        "WHERE color = ANY(%s) AND (dml OR query OPERATOR(pg_catalog.~*) %s) GROUP BY color, query "
        "HAVING max(last_seen) >= now() - make_interval(days => %s) ORDER BY color, 3 DESC, query",
        (list(colors), DML, window_days),
    ).fetchall()
    return [Recorded(*row) for row in rows]


def summary(conn: psycopg.Connection, settings: Settings) -> dict[str, dict[str, Any]]:
    """Per colour: its role, how many statements and calls the inventory holds, when it first and last saw
    one run, and how many sessions the role has open in this database now."""
    params = _roles(settings)
    counts: dict[str, tuple] = {}
    if _exists(conn):
        counts = {
            row[0]: row[1:]
            for row in conn.execute(
                f"SELECT color, count(DISTINCT query), sum(calls)::bigint, min(first_seen), max(last_seen) "
                f"FROM {TABLE} WHERE color = ANY(%(colors)s) AND dml GROUP BY color",
                params,
            ).fetchall()
        }
    sessions = dict(
        conn.execute(
            "SELECT usename, count(*) FROM pg_stat_activity WHERE usename = ANY(%(roles)s) "
            "AND datname = current_database() GROUP BY usename",
            params,
        ).fetchall()
    )
    result: dict[str, dict[str, Any]] = {}
    for color, role in settings.roles_by_color.items():
        count, calls, first, last = counts.get(color, (0, 0, None, None))
        result[color] = {
            "role": role,
            "statements": count,
            "calls": int(calls or 0),
            "first_seen": first.isoformat() if first else None,
            "last_seen": last.isoformat() if last else None,
            "sessions": int(sessions.get(role, 0)),
        }
    return result


def tables_of(query: str) -> list[str]:
    """The relations a statement names (schema-qualified when it qualifies them), by PostgreSQL's own
    parser; [] when the text does not parse (it always should: PostgreSQL ran it)."""
    import pglast

    try:
        tree = pglast.parse_sql(query)
    except pglast.parser.ParseError:
        return []
    ctes: set[str] = set()
    names: set[str] = set()
    for node in shapes.walk(tree):
        kind = type(node).__name__
        if kind == "CommonTableExpr":
            ctes.add(node.ctename)
        elif kind == "RangeVar":
            names.add(f"{node.schemaname}.{node.relname}" if node.schemaname else node.relname)
    return sorted(names - ctes)


_SHOWN = 2000  # characters of one statement in a listing (a Lambda result must stay under 6 MB)


def listing(
    conn: psycopg.Connection, settings: Settings, color: str | None = None, limit: int = 500
) -> dict[str, Any]:
    """What ``make statements`` shows: per colour, the counts, the tables it touches and its statements
    (most called first, at most ``limit`` each: ``truncated`` says so)."""
    colors = [color] if color else list(COLORS)
    activity = summary(conn, settings)
    rows = recorded(conn, colors, 36500)
    result: dict[str, Any] = {}
    for name in colors:
        mine = [r for r in rows if r.color == name]
        tables = sorted({table for r in mine for table in tables_of(r.query)})
        result[name] = {
            **activity[name],
            "tables": tables,
            "statements_listed": [
                {
                    "query": r.query if len(r.query) <= _SHOWN else r.query[:_SHOWN] + "...",
                    "calls": r.calls,
                    "first_seen": r.first_seen.isoformat(),
                    "last_seen": r.last_seen.isoformat(),
                }
                for r in mine[:limit]
            ],
            "truncated": len(mine) > limit,
        }
    return result
