"""The compatibility check: before a migration runs, prove that every statement each serving colour has
really executed still works after it.

The statements are the inventory's (:mod:`.inventory`: what each colour's role ran, from
``pg_stat_statements``). The future schema is the shadow database's (:mod:`.shadow`: a replayed copy of the
schema, no data), where the pending migrations are applied one by one inside a transaction that is always
rolled back. Nothing here touches a live table. For each statement of each serving colour:

* **It compiles, as that colour's role**: Parse and Describe (what ``PREPARE`` does) before the pending
  migrations and after each one. Fails after a migration but compiled before it: **broken**, blamed on that
  migration. Fails before them already: **inconclusive** (a temporary table, a parameter whose type cannot
  be inferred), never counted as a pass or a failure.
* **What a compiler cannot see**: a column it returns that changes type or disappears (a dropped or renamed
  column behind ``SELECT *`` or ``RETURNING *``: the colour's code may map columns by name); an ``INSERT``
  that does not write a column which becomes NOT NULL without a default; a privilege its role loses (Parse
  checks none: ``EXPLAIN`` does, and runs only for a colour whose privileges changed).

Which colours serve after the migrations is the caller's to say (``serving``): both for expand migrations,
the live colour for a contract migration; the release flow fills it in from the traffic settings.

What it cannot see: statements that never ran in the window (``MIGRATOR_STATEMENT_WINDOW_DAYS``, default 30),
meaning beyond types (a column that now holds cents instead of euros), and behaviour that depends on data
(a new unique index that existing rows violate, a NOT NULL the application sometimes writes as NULL).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq, sql

from migrator import logs
from migrator.connection import Database, pg_reason
from migrator.runner import app_role, inventory, shadow
from migrator.runner.execution import split_statements
from migrator.runner.manifest import Manifest, Migration
from migrator.runner.store import AppliedRecord
from migrator.settings import COLORS, Settings

__all__ = ["check", "fix_for"]

_BATCH = 100  # statements per pipeline round trip
_SAVEPOINT = b"SAVEPOINT rk_check"
_UNDO = (b"ROLLBACK TO SAVEPOINT rk_check", b"RELEASE SAVEPOINT rk_check")
_EXAMPLES = 5
_INSERT = re.compile(r"\binsert\b", re.IGNORECASE)
_TEXT = 500  # characters of a statement shown in a result
_LISTED = 200  # broken statements listed in a result (``more_broken`` counts the rest)


@dataclass(frozen=True)
class Compiled:
    """One statement compiled as one role: ok, or the error; what it returns and how many parameters."""

    ok: bool
    error: str | None = None
    sqlstate: str | None = None
    columns: tuple[tuple[str, int], ...] = ()
    nparams: int = 0


@dataclass
class Subject:
    """One inventory statement of one colour, and how it compiled at the last state checked."""

    color: str
    role: str
    query: str
    calls: int
    last: Compiled = field(default_factory=lambda: Compiled(False))
    _shape: dict[str, Any] | None = None

    @property
    def shape(self) -> dict[str, Any]:
        if self._shape is None:
            self._shape = _shape(self.query)
        return self._shape


# ------------------------------------------------------------------------------------------- compiling


def _segments(pg: pq.PGconn, count: int) -> list[list[pq.PGresult]]:
    """The results of the next ``count`` pipeline sync points, one list per sync point."""
    segments: list[list[pq.PGresult]] = []
    current: list[pq.PGresult] = []
    while len(segments) < count:
        result = pg.get_result()
        if result is None:
            continue
        if result.status == pq.ExecStatus.PIPELINE_SYNC:
            segments.append(current)
            current = []
        else:
            current.append(result)
    return segments


def _error(result: pq.PGresult) -> tuple[str, str | None]:
    primary = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"error"
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    return primary.decode(errors="replace"), state.decode() if state else None


def _pipeline(conn: psycopg.Connection, commands: list[list[bytes | tuple]]) -> list[list[pq.PGresult]]:
    """Run ``commands`` (per item: the commands up to a sync point) in pipeline mode, ``_BATCH`` items per
    round trip; each item's statement runs inside a savepoint that is rolled back, so a failure aborts
    nothing else in the check's transaction. Returns each item's results before its sync point."""
    pg = conn.pgconn
    out: list[list[pq.PGresult]] = []
    for start in range(0, len(commands), _BATCH):
        chunk = commands[start : start + _BATCH]
        pg.enter_pipeline_mode()
        try:
            for item in chunk:
                pg.send_query_params(_SAVEPOINT, None)
                for command in item:
                    if isinstance(command, tuple):
                        kind, name, text = command
                        if kind == "parse":
                            pg.send_prepare(name, text)
                        else:
                            pg.send_describe_prepared(name)
                    else:
                        pg.send_query_params(command, None)
                pg.pipeline_sync()
                for undo in _UNDO:
                    pg.send_query_params(undo, None)
                pg.pipeline_sync()
            while pg.flush():
                pass
            segments = _segments(pg, 2 * len(chunk))
        finally:
            pg.exit_pipeline_mode()
        out += segments[0::2]
    return out


def _compile(conn: psycopg.Connection, role: str, subjects: list[Subject]) -> list[Compiled]:
    """Parse and Describe each statement as ``role``."""
    commands = [[("parse", b"", s.query.encode()), ("describe", b"", b"")] for s in subjects]
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        segments = _pipeline(conn, commands)  # type: ignore[arg-type]
    finally:
        conn.execute("RESET ROLE")
    compiled: list[Compiled] = []
    for results in segments:
        parsed = results[1] if len(results) > 1 else None  # [savepoint, parse, describe]
        if parsed is None or parsed.status != pq.ExecStatus.COMMAND_OK:
            message, state = _error(parsed) if parsed is not None else ("no result", None)
            compiled.append(Compiled(False, message, state))
            continue
        described = results[2]
        columns = tuple(
            (described.fname(i).decode(errors="replace"), described.ftype(i))
            for i in range(described.nfields)
        )
        compiled.append(Compiled(True, columns=columns, nparams=described.nparams))
    return compiled


def _explain(conn: psycopg.Connection, role: str, subjects: list[Subject]) -> list[tuple[str, str] | None]:
    """``EXPLAIN EXECUTE`` of each statement (its parameters NULL) as ``role``: the executor's start checks
    table, column and function privileges, which Parse does not. None where it passed, else (error,
    sqlstate)."""
    commands = []
    for number, s in enumerate(subjects):
        name = f"rk_explain_{number}"
        nulls = ", ".join(["NULL"] * s.last.nparams)
        call = f"EXPLAIN (COSTS OFF) EXECUTE {name}" + (f"({nulls})" if nulls else "")
        commands.append([("parse", name.encode(), s.query.encode()), call.encode()])
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        segments = _pipeline(conn, commands)  # type: ignore[arg-type]
    finally:
        conn.execute("RESET ROLE")
        conn.execute("DEALLOCATE ALL")
    found: list[tuple[str, str] | None] = []
    for results in segments:
        failed = [r for r in results if r.status == pq.ExecStatus.FATAL_ERROR]
        found.append(_error(failed[0]) if failed else None)  # type: ignore[arg-type]
    return found


# ------------------------------------------------------------------------------------------- the schema

_COLUMNS = """
SELECT n.nspname, c.relname, a.attname,
       a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY n.nspname, c.relname, a.attnum
"""
_PRIVILEGES = """
SELECT r.rolname, 'table ' || n.nspname || '.' || c.relname || ' ' || p.priv
FROM unnest(%(roles)s::text[]) AS r (rolname)
CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p (priv)
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND (has_table_privilege(r.rolname, c.oid, p.priv)
       OR (p.priv <> 'DELETE' AND has_any_column_privilege(r.rolname, c.oid, p.priv)))
UNION ALL
SELECT r.rolname, 'sequence ' || n.nspname || '.' || c.relname
FROM unnest(%(roles)s::text[]) AS r (rolname)
CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind = 'S' AND has_sequence_privilege(r.rolname, c.oid, 'USAGE')
UNION ALL
SELECT r.rolname,
       'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
FROM unnest(%(roles)s::text[]) AS r (rolname)
CROSS JOIN pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY(%(schemas)s) AND has_function_privilege(r.rolname, p.oid, 'EXECUTE')
UNION ALL
SELECT r.rolname, 'schema ' || n.nspname
FROM unnest(%(roles)s::text[]) AS r (rolname) CROSS JOIN pg_namespace n
WHERE n.nspname = ANY(%(schemas)s) AND has_schema_privilege(r.rolname, n.oid, 'USAGE')
"""


@dataclass
class Facts:
    """What the schema says at one state: each table's columns in order (and which must be written), and
    each role's privileges."""

    columns: dict[str, list[tuple[str, bool]]]
    privileges: dict[str, set[str]]

    @property
    def required(self) -> set[tuple[str, str]]:
        """(table, column) pairs an INSERT must write: NOT NULL without a default, identity or generation."""
        return {(table, column) for table, cols in self.columns.items() for column, needed in cols if needed}


def _facts(conn: psycopg.Connection, roles: list[str], schemas: tuple[str, ...]) -> Facts:
    columns: dict[str, list[tuple[str, bool]]] = {}
    for schema, table, column, required in conn.execute(_COLUMNS, {"schemas": list(schemas)}).fetchall():
        for key in (f"{schema}.{table}", table):
            columns.setdefault(key, []).append((column, required))
    privileges: dict[str, set[str]] = {role: set() for role in roles}
    for role, privilege in conn.execute(_PRIVILEGES, {"roles": roles, "schemas": list(schemas)}).fetchall():
        privileges[role].add(privilege)
    return Facts(columns, privileges)


def _shape(query: str) -> dict[str, Any]:
    """What a statement writes and whether it selects ``*``, by PostgreSQL's own parser."""
    import pglast

    shape: dict[str, Any] = {"star": False, "insert": None}
    try:
        tree = pglast.parse_sql(query)
    except pglast.parser.ParseError:
        return shape
    for node in inventory._walk(tree):
        kind = type(node).__name__
        if kind == "A_Star":
            shape["star"] = True
        elif kind == "InsertStmt" and shape["insert"] is None:
            relation = node.relation
            table = f"{relation.schemaname}.{relation.relname}" if relation.schemaname else relation.relname
            columns = tuple(target.name for target in node.cols) if node.cols else None
            count = None
            select = node.selectStmt
            if columns is None and select is not None:
                if select.valuesLists:
                    count = len(select.valuesLists[0])
                elif select.targetList and not any(
                    type(getattr(t.val, "fields", (None,))[-1]).__name__ == "A_Star"
                    for t in select.targetList
                ):
                    count = len(select.targetList)
            shape["insert"] = {"table": table, "columns": columns, "count": count}
    return shape


# ------------------------------------------------------------------------------------------- verdicts


def fix_for(kind: str, *, color: str, migration: str, detail: str = "", contract: bool = False) -> str:
    """What to do about one broken statement (it goes into the result and the refusal). ``contract``: the
    migration already says it is a contract step, so the answer is to wait until ``color`` is retired."""
    if contract:
        return (
            f"{migration} is a contract step: run it only once {color} is retired (after the release, "
            f"`make migrate ALLOW_CONTRACT=1` checks that {color} is gone and then checks the live colour "
            "alone), or keep what it removes until then"
        )
    if kind == "not_null":
        return (
            f"give {detail} a DEFAULT (or keep it nullable) while {color} serves, and make it NOT NULL in "
            f"a contract migration once every writer sets it; or mark {migration} contract and run it after "
            "the release"
        )
    if kind == "type":
        return (
            f"keep the column's type while {color} serves: add a column of the new type, backfill it, let "
            "the new release write both and read the new one, and drop the old column in a contract migration"
        )
    if kind == "columns":
        return (
            f"{color}'s statement returns {detail} (its code may map them by name): keep them until {color} "
            f"is retired and drop them in a contract migration, or mark {migration} contract"
        )
    if kind == "privilege":
        return f"keep the grant while {color} serves, and revoke it in a contract migration after the release"
    return (
        f"mark {migration} contract and run it after the release, once {color} no longer serves; or split "
        "it: add the new column or table, backfill it, let the new release write both, and drop the old one "
        "in a later contract migration"
    )


def _verdict(
    subject: Subject,
    now: Compiled,
    before: Facts,
    after: Facts,
    migration: Migration,
    newly_required: set[tuple[str, str]],
) -> dict[str, Any] | None:
    """What is broken about ``subject`` after ``migration`` (its compilation ``now``), or None."""
    label = migration.id

    def broken(kind: str, error: str, detail: str = "") -> dict[str, Any]:
        return {
            "color": subject.color,
            "statement": subject.query[:_TEXT],
            "migration": label,
            "error": error,
            "fix": fix_for(
                kind, color=subject.color, migration=label, detail=detail, contract=migration.contract
            ),
            "calls": subject.calls,
        }

    if not now.ok:
        return broken("compile", now.error or "it no longer compiles")
    old = dict(subject.last.columns)
    new = dict(now.columns)
    gone = [name for name in old if name not in new]
    if gone:
        star = " behind *" if "*" in subject.query and subject.shape["star"] else ""
        names = ", ".join(f'"{n}"' for n in gone)
        return broken(
            "columns",
            f"no longer returns column(s) {names}{star}",
            f"column(s) {names}{star} that {label} removes",
        )
    retyped = [name for name in old if new[name] != old[name]]
    if retyped:
        found = broken("type", f'column "{retyped[0]}" that it returns changes type')
        found["_types"] = (old[retyped[0]], new[retyped[0]])
        return found
    insert = subject.shape["insert"] if newly_required and _INSERT.search(subject.query) else None
    if insert:
        needed_before = {c for c, required in before.columns.get(insert["table"], []) if required}
        table_after = after.columns.get(insert["table"], [])
        if insert["columns"] is not None:
            written = set(insert["columns"])
        elif insert["count"] is not None:
            written = {c for c, _ in table_after[: insert["count"]]}
        else:
            written = {c for c, _ in table_after}
        missing = [
            c for c, required in table_after if required and c not in written and c not in needed_before
        ]
        if missing:
            target = f"{insert['table']}.{missing[0]}"
            return broken(
                "not_null",
                f'the INSERT does not write "{missing[0]}", which becomes NOT NULL without a default',
                target,
            )
    return None


def _type_names(conn: psycopg.Connection, items: list[dict[str, Any]]) -> None:
    """Readable type names in the type-change errors (the wire carries only type oids)."""
    oids = {oid for item in items for oid in item.get("_types", ())}
    if oids:
        names = dict(
            conn.execute(
                "SELECT oid, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%s)", (sorted(oids),)
            ).fetchall()
        )
        for item in items:
            if "_types" in item:
                old, new = (names.get(oid, str(oid)) for oid in item["_types"])
                item["error"] += f" from {old} to {new}"
    for item in items:
        item.pop("_types", None)


# ------------------------------------------------------------------------------------------- the check


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    """Apply one pending migration inside the check's transaction (as the migrator)."""
    step = migration.forward
    if callable(step):
        step(conn)  # its own `with conn.transaction()` blocks become savepoints here
        return
    if migration.transactional:
        conn.execute(step)  # type: ignore[arg-type]  # trusted migration SQL
        return
    for statement in split_statements(step):
        safe = shadow.transaction_safe(statement)
        if safe is not None:
            conn.execute(safe)  # type: ignore[arg-type]


def check(
    live: psycopg.Connection,
    database: Database,
    manifest: Manifest,
    history: dict[str, AppliedRecord],
    plan: list[Migration],
    serving: list[str] | tuple[str, ...],
    settings: Settings,
) -> dict[str, Any]:
    """The ``compatibility`` object of a migrate, dry run or check of ``plan``:
    ``{ok, checked, inconclusive, broken: [{color, statement, migration, error, fix}], serving, ...}``.
    ``ok`` is false when a statement breaks, or when the check could not run (``error`` says why)."""
    started = time.perf_counter()
    serving = [c for c in COLORS if c in serving]
    roles = settings.roles_by_color
    result: dict[str, Any] = {
        "ok": True,
        "checked": 0,
        "inconclusive": 0,
        "broken": [],
        "serving": serving,
        "migrations": [m.id for m in plan],
    }

    def done() -> dict[str, Any]:
        result["duration_ms"] = round((time.perf_counter() - started) * 1000)
        return result

    subjects = [
        Subject(r.color, roles[r.color], r.query, r.calls)
        for r in inventory.recorded(live, serving, settings.statement_window_days)
    ]
    if not plan or not subjects:
        if plan:
            result["note"] = (
                f"no statement of {' or '.join(serving) or 'any colour'} in the last "
                f"{settings.statement_window_days} days: nothing to check"
            )
        return done()
    result["checked"] = len(subjects)
    active = [c for c in serving if any(s.color == c for s in subjects)]  # their roles exist: they ran these
    try:
        for color in active:
            app_role.allow_set_role(live, roles[color])
        with shadow.opened(live, database, manifest, history, settings) as copy:
            drift = shadow.drift(live, copy.conn, settings.sql_schemas)
            if drift:
                result["drift"] = drift
            committed = _walk_plan(copy.conn, subjects, plan, active, settings, result)
        if committed:
            shadow.discard(live)  # a migration committed inside the check: the copy is ahead, rebuild it
    except (shadow.ShadowFailed, psycopg.Error) as exc:
        reason = pg_reason(exc) if isinstance(exc, psycopg.Error) else str(exc)
        result.update(ok=False, error=f"the compatibility check could not run: {reason}")
        logs.log("compatibility check could not run", level="WARNING", reason=reason)
        return done()
    if result["broken"]:
        _type_names(live, result["broken"])
        result["ok"] = False
        if len(result["broken"]) > _LISTED:  # a result must stay well under Lambda's 6 MB
            result["more_broken"] = len(result["broken"]) - _LISTED
            result["broken"] = result["broken"][:_LISTED]
    elif result.get("unsimulated"):
        result["ok"] = False
    return done()


def _walk_plan(
    conn: psycopg.Connection,
    subjects: list[Subject],
    plan: list[Migration],
    serving: list[str],
    settings: Settings,
    result: dict[str, Any],
) -> bool:
    """Compile before the plan and after each migration of it; True when a migration committed the check's
    transaction (a Python migration calling commit()), which leaves the shadow ahead of the live database."""
    roles = [settings.roles_by_color[c] for c in serving]
    schemas = settings.sql_schemas
    conn.execute("BEGIN")
    try:
        facts = _facts(conn, roles, schemas)
        by_role: dict[str, list[Subject]] = {}
        for subject in subjects:
            by_role.setdefault(subject.role, []).append(subject)
        alive: list[Subject] = []
        examples: list[dict[str, Any]] = []
        for role, mine in by_role.items():
            for subject, compiled in zip(mine, _compile(conn, role, mine), strict=True):
                subject.last = compiled
                if compiled.ok:
                    alive.append(subject)
                else:
                    result["inconclusive"] += 1
                    if len(examples) < _EXAMPLES:
                        examples.append(
                            {
                                "color": subject.color,
                                "statement": subject.query[:_TEXT],
                                "error": compiled.error,
                            }
                        )
        if examples:
            result["inconclusive_examples"] = examples
        for migration in plan:
            conn.execute("SAVEPOINT rk_migration")
            try:
                _apply(conn, migration)
            except Exception as exc:
                conn.execute("ROLLBACK TO SAVEPOINT rk_migration")
                reason = pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"
                result["unsimulated"] = {
                    "migration": migration.id,
                    "error": f"{migration.label} fails on a copy of the schema: {reason}",
                }
                return False
            conn.execute("RELEASE SAVEPOINT rk_migration")
            after = _facts(conn, roles, schemas)
            newly_required = after.required - facts.required
            still: list[Subject] = []
            for role in roles:
                mine = [s for s in alive if s.role == role]
                if not mine:
                    continue
                compiled = _compile(conn, role, mine)
                denied: list[tuple[str, str] | None] = [None] * len(mine)
                if facts.privileges.get(role, set()) - after.privileges.get(role, set()):
                    ok = [s for s, c in zip(mine, compiled, strict=True) if c.ok]
                    checked = dict(
                        zip(map(id, ok), _explain(conn, role, _with(ok, compiled, mine)), strict=True)
                    )
                    denied = [checked.get(id(s)) for s in mine]
                for subject, now, refused in zip(mine, compiled, denied, strict=True):
                    verdict = _verdict(subject, now, facts, after, migration, newly_required)
                    if verdict is None and refused is not None and refused[1] == "42501":
                        verdict = {
                            "color": subject.color,
                            "statement": subject.query[:_TEXT],
                            "migration": migration.id,
                            "error": refused[0],
                            "fix": fix_for(
                                "privilege",
                                color=subject.color,
                                migration=migration.id,
                                contract=migration.contract,
                            ),
                            "calls": subject.calls,
                        }
                    if verdict is None:
                        subject.last = now
                        still.append(subject)
                    else:
                        result["broken"].append(verdict)
            alive, facts = still, after
    finally:
        committed = conn.info.transaction_status == pq.TransactionStatus.IDLE
        if not committed:
            conn.execute("ROLLBACK")
    return committed


def _with(ok: list[Subject], compiled: list[Compiled], mine: list[Subject]) -> list[Subject]:
    """The ``ok`` subjects carrying their latest compilation (EXPLAIN needs its parameter count)."""
    latest = {id(s): c for s, c in zip(mine, compiled, strict=True)}
    return [Subject(s.color, s.role, s.query, s.calls, latest[id(s)]) for s in ok]
