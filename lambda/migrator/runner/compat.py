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
* **It plans, as that colour's role**: ``EXPLAIN`` of its generic plan (``plan_cache_mode =
  force_generic_plan``, so a NULL parameter folds nothing away). An upsert is planned before and after each
  migration: planning matches its ``ON CONFLICT`` target to a unique index. Every statement is planned after
  a migration that takes a privilege from its role: the executor's start checks table, column and function
  privileges, which Parse does not.
* **Its parameters keep their types**: pg_stat_statements records ``WHERE ref = 42`` as ``WHERE ref = $1``,
  which would compile against any column type. A parameter PostgreSQL inferred as a number or a boolean
  before the migrations is compiled with that type after them (an application sends 42 as a number), so
  ``text = integer`` fails as it will in the colour, and an overload added beside ``f(bigint)`` resolves as
  it will. A parameter inferred as anything else stays untyped (drivers send strings untyped).
* **What a compiler cannot see**: a column it returns that changes type or disappears (a dropped or renamed
  column behind ``SELECT *`` or ``RETURNING *``: the colour's code may map columns by name), and a second
  column of the same name behind ``*``; an ``INSERT`` (or MERGE's insert branch, or ``COPY FROM``) that does
  not write a column which becomes NOT NULL without a default, by the column or by its domain; a sequence
  behind a column default that the colour can no longer use; a table it names that gains row-level
  security; a ``COPY FROM`` without a column list into a table that gains a column. A ``*`` that only gains
  columns is a warning: a statement the colour prepared fails once per connection ("cached plan must not
  change result type").
* ``COPY`` and ``DECLARE ... CURSOR`` are compiled as what they run (:mod:`.shapes`).

How statements are compiled and planned in bulk is :mod:`.prepare`; what the schema says at each state is
:mod:`.schema_facts`; what a statement writes and names is :mod:`.shapes`.

Which colours serve after the migrations is the caller's to say (``serving``): both for expand migrations,
the live colour for a contract migration; the release flow fills it in from the traffic settings.

What it cannot see: statements that never ran in the window (``MIGRATOR_STATEMENT_WINDOW_DAYS``, default 30),
meaning beyond types (a column that now holds cents instead of euros), and behaviour that depends on data
(a new unique index that existing rows violate, a NOT NULL the application sometimes writes as NULL).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq

from migrator import logs
from migrator.connection import Database, pg_reason
from migrator.runner import app_role, inventory, shadow, shapes
from migrator.runner.execution import split_statements
from migrator.runner.manifest import Manifest, Migration
from migrator.runner.prepare import Compiled, compile_as, explain_as
from migrator.runner.schema_facts import Facts
from migrator.runner.schema_facts import read as _facts
from migrator.runner.store import AppliedRecord
from migrator.settings import COLORS, Settings

__all__ = ["check", "fix_for"]

_BATCH = 100  # statements per pipeline round trip
_SAVEPOINT = b"SAVEPOINT rk_check"
_UNDO = (b"ROLLBACK TO SAVEPOINT rk_check", b"RELEASE SAVEPOINT rk_check")
_EXAMPLES = 5
_INSERT = re.compile(r"\b(insert|copy)\b", re.IGNORECASE)
_UPSERT = re.compile(r"\bon\s+conflict\b", re.IGNORECASE)
_TRANSLATED = re.compile(r"^\s*(copy|declare)\b", re.IGNORECASE)
# Parameter types a driver sends as themselves (a Python int, a Java long, a bool); strings go untyped
_KEPT_TYPES = frozenset({16, 20, 21, 23, 700, 701, 1700})  # bool, int8, int2, int4, float4, float8, numeric
# (old, new) result types every driver reads the same way: varchar to text
_SAME_TO_DRIVERS = frozenset({(1043, 25)})
_ADD_VALUE = re.compile(r"^\s*alter\s+type\b.*\badd\s+value\b", re.IGNORECASE | re.DOTALL)
_TEXT = 500  # characters of a statement shown in a result
_LISTED = 200  # broken statements listed in a result (``more_broken`` counts the rest)


@dataclass
class Subject:
    """One inventory statement of one colour, and how it compiled at the last state checked."""

    color: str
    role: str
    query: str
    calls: int
    last: Compiled = field(default_factory=lambda: Compiled(False))
    params: tuple[int, ...] = ()  # the types it is compiled with after the first compilation (_KEPT_TYPES)
    explains: bool = False  # an upsert whose generic plan was made before the pending migrations
    text: str = ""  # what is compiled: the statement, or what its COPY or DECLARE runs
    _shape: shapes.Shape | None = None

    def __post_init__(self) -> None:
        if not self.text:
            translated = self.shape.compile if _TRANSLATED.match(self.query) else None
            self.text = translated or self.query

    @property
    def shape(self) -> shapes.Shape:
        if self._shape is None:
            self._shape = shapes.of(self.query)
        return self._shape


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
    if kind == "row_security":
        return (
            "enable row-level security once every serving colour's statements run under its policies: "
            f"after the release, in a contract migration, once {color} is retired; or grant {color}'s role a "
            "policy that keeps what it sees and writes today"
        )
    if kind == "copy":
        return (
            f"name the columns in {color}'s COPY (COPY t (a, b) FROM ...), or mark {migration} contract and "
            "run it after the release"
        )
    return (
        f"mark {migration} contract and run it after the release, once {color} no longer serves; or split "
        "it: add the new column or table, backfill it, let the new release write both, and drop the old one "
        "in a later contract migration"
    )


def _written(insert: shapes.Insert, before: Facts, after: Facts) -> set[str]:
    """The columns ``insert`` writes, after the migration: those it names, else the first ones it fills
    (as many as it gave values for, or, for a ``SELECT *``, as many as the table had before)."""
    table_after = after.columns.get(insert.table, [])
    if insert.columns is not None:
        return set(insert.columns)
    count = insert.count if insert.count is not None else len(before.columns.get(insert.table, table_after))
    return {c for c, _ in table_after[:count]}


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

    def star() -> str:  # parsing costs: only when a column went or doubled
        return " behind *" if "*" in subject.query and subject.shape.star else ""

    gone = [name for name in old if name not in new]
    if gone:
        behind, names = star(), ", ".join(f'"{n}"' for n in gone)
        return broken(
            "columns",
            f"no longer returns column(s) {names}{behind}",
            f"column(s) {names}{behind} that {label} removes",
        )
    retyped = [n for n in old if new[n] != old[n] and (old[n], new[n]) not in _SAME_TO_DRIVERS]
    if retyped:
        found = broken("type", f'column "{retyped[0]}" that it returns changes type')
        found["_types"] = (old[retyped[0]], new[retyped[0]])
        return found
    added = Counter(name for name, _ in now.columns) - Counter(name for name, _ in subject.last.columns)
    doubled = [name for name in added if name in old]
    if doubled and star():
        return broken(
            "columns",
            f'returns a second column named "{doubled[0]}" behind *: code that reads it by name may now get '
            "the new one",
            f'a second "{doubled[0]}" behind *',
        )
    writes = _INSERT.search(subject.query) is not None
    shape = subject.shape if writes and _TRANSLATED.match(subject.query) else None
    if shape is not None and shape.copy_all:
        width_before = len(before.columns.get(shape.copy_all, []))
        width_after = len(after.columns.get(shape.copy_all, []))
        if width_before and width_after != width_before:
            return broken(
                "copy",
                f"COPY {shape.copy_all} without a column list: its rows have {width_before} values and the "
                f"table now has {width_after} columns",
            )
    lost = before.privileges.get(subject.role, set()) - after.privileges.get(subject.role, set())
    for insert in subject.shape.inserts if writes and (newly_required or lost) else ():
        written = _written(insert, before, after)
        if newly_required:
            needed_before = {c for c, required in before.columns.get(insert.table, []) if required}
            missing = [
                c
                for c, required in after.columns.get(insert.table, [])
                if required and c not in written and c not in needed_before
            ]
            if missing:
                target = f"{insert.table}.{missing[0]}"
                return broken(
                    "not_null",
                    f'the INSERT does not write "{missing[0]}", which becomes NOT NULL without a default',
                    target,
                )
        for column, sequence in after.sequences.get(insert.table, {}).items():
            if column not in written and f"sequence {sequence}" in lost:
                return broken(
                    "privilege",
                    f"permission denied for sequence {sequence}: the default of {insert.table}.{column}, "
                    "which the INSERT leaves out, calls nextval",
                )
    secured = after.row_security.get(subject.role, set()) - before.row_security.get(subject.role, set())
    hit = sorted(secured & subject.shape.tables) if secured else []
    if hit:
        return broken(
            "row_security",
            f"row-level security is now enabled on {hit[0]}: {subject.color}'s role sees and writes only the "
            "rows its policies allow (none, without a policy for it)",
        )
    return None


def _warning(subject: Subject, now: Compiled, migration: Migration) -> dict[str, Any] | None:
    """A ``*`` that gains columns: the statement still works, but where the colour prepared it (JDBC,
    psycopg and pgx prepare a statement after a few runs), its next run on each connection fails once with
    "cached plan must not change result type"."""
    gained = Counter(n for n, _ in now.columns) - Counter(n for n, _ in subject.last.columns)
    added = list(gained.elements())
    if not added or not subject.shape.star:
        return None
    names = ", ".join(f'"{name}"' for name in added[:5])
    before = [name for name, _ in subject.last.columns]
    shifted = [name for name, _ in now.columns][: len(before)] != before
    return {
        "color": subject.color,
        "statement": subject.query[:_TEXT],
        "migration": migration.id,
        "warning": (
            f"returns {len(added)} more column(s) behind * ({names}"
            + ("; the columns after them move: code that reads by position reads others" if shifted else "")
            + f"): where {subject.color} prepared it, its next run on each connection fails once (cached "
            "plan must not change result type); name the columns to be safe"
        ),
    }


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


def _begin(conn: psycopg.Connection) -> None:
    """The check's transaction: generic plans, so a NULL parameter folds nothing away in EXPLAIN."""
    conn.execute("BEGIN")
    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")


def _apply(conn: psycopg.Connection, migration: Migration, ahead: list[bool]) -> None:
    """Apply one pending migration inside the check's transaction (as the migrator). A migration outside a
    transaction that adds an enum value and then uses it (PostgreSQL refuses a new value in the transaction
    that added it) commits the copy after ``ADD VALUE``, and says so in ``ahead`` at once, whatever fails
    next: the copy is then ahead of the live database, and the caller rebuilds it."""
    step = migration.forward
    if callable(step):
        step(conn)  # its own `with conn.transaction()` blocks become savepoints here
        return
    if migration.transactional:
        conn.execute(step)  # type: ignore[arg-type]  # trusted migration SQL
        return
    for statement in split_statements(step):
        safe = shadow.transaction_safe(statement)
        if safe is None:
            continue
        conn.execute(safe)  # type: ignore[arg-type]
        if _ADD_VALUE.match(safe):
            conn.execute("COMMIT")
            ahead[0] = True
            _begin(conn)
            conn.execute("SAVEPOINT rk_migration")


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
    """Compile and plan before the plan and after each migration of it; True when the copy was committed
    (a Python migration calling commit(), an enum value added and used outside a transaction), which leaves
    the shadow ahead of the live database."""
    roles = [settings.roles_by_color[c] for c in serving]
    schemas = settings.sql_schemas
    ahead = [False]  # the copy was committed: it is ahead of the live database
    conn.prepare_threshold = None  # psycopg prepares nothing here: explain_as deallocates all it prepared
    _begin(conn)
    try:
        facts = _facts(conn, roles, schemas)
        alive = _baseline(conn, subjects, facts, result)
        warnings: list[dict[str, Any]] = []
        for migration in plan:
            conn.execute("SAVEPOINT rk_migration")
            try:
                _apply(conn, migration, ahead)
            except Exception as exc:
                if conn.info.transaction_status == pq.TransactionStatus.IDLE:
                    ahead[0] = True  # a Python migration committed, then failed
                else:
                    conn.execute("ROLLBACK TO SAVEPOINT rk_migration")
                reason = pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"
                result["unsimulated"] = {
                    "migration": migration.id,
                    "error": f"{migration.label} fails on a copy of the schema: {reason}",
                }
                break
            if conn.info.transaction_status == pq.TransactionStatus.IDLE:
                ahead[0] = True  # a Python migration committed: go on in a transaction of the check's own
                _begin(conn)
            else:
                conn.execute("RELEASE SAVEPOINT rk_migration")
            after = _facts(conn, roles, schemas)
            newly_required = after.required - facts.required
            still: list[Subject] = []
            for role in roles:
                mine = [s for s in alive if s.role == role]
                if not mine:
                    continue
                compiled = compile_as(conn, role, mine)
                # Planning costs: every statement when the role lost a privilege (only a permission error
                # counts then), else only the upserts, whose conflict target is matched when planning.
                shrank = bool(facts.privileges.get(role, set()) - after.privileges.get(role, set()))
                planned = [s for s, c in zip(mine, compiled, strict=True) if c.ok and (shrank or s.explains)]
                refused = dict(
                    zip(map(id, planned), explain_as(conn, role, _with(planned, compiled, mine)), strict=True)
                )
                for subject, now in zip(mine, compiled, strict=True):
                    verdict = _verdict(subject, now, facts, after, migration, newly_required)
                    denied = refused.get(id(subject))
                    if denied is not None and denied[1] != "42501" and not subject.explains:
                        denied = None  # it may not have planned before either: not this migration's doing
                    if verdict is None and denied is not None:
                        verdict = {
                            "color": subject.color,
                            "statement": subject.query[:_TEXT],
                            "migration": migration.id,
                            "error": denied[0],
                            "fix": fix_for(
                                "privilege" if denied[1] == "42501" else "compile",
                                color=subject.color,
                                migration=migration.id,
                                contract=migration.contract,
                            ),
                            "calls": subject.calls,
                        }
                    if verdict is None:
                        warning = _warning(subject, now, migration)
                        if warning is not None and len(warnings) < _LISTED:
                            warnings.append(warning)
                        subject.last = now
                        still.append(subject)
                    else:
                        result["broken"].append(verdict)
            alive, facts = still, after
        if warnings:
            result["warnings"] = warnings
    finally:
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        else:
            ahead[0] = True
    return ahead[0]


def _baseline(
    conn: psycopg.Connection, subjects: list[Subject], facts: Facts, result: dict[str, Any]
) -> list[Subject]:
    """Compile and plan each statement before the pending migrations; the ones that compile are returned.
    The others (a temporary table, a parameter whose type cannot be inferred) are inconclusive."""
    by_role: dict[str, list[Subject]] = {}
    for subject in subjects:
        if _TRANSLATED.match(subject.query) and subject.shape.copy_all:
            width = len(facts.columns.get(subject.shape.copy_all, []))
            subject.text = shapes.copy_all(subject.shape.copy_all, width) if width else subject.query
        by_role.setdefault(subject.role, []).append(subject)
    alive: list[Subject] = []
    examples: list[dict[str, Any]] = []
    for role, mine in by_role.items():
        ok: list[Subject] = []
        for subject, compiled in zip(mine, compile_as(conn, role, mine), strict=True):
            subject.last = compiled
            if compiled.ok and not _TRANSLATED.match(subject.query):  # COPY sends text: untyped, as it is
                subject.params = tuple(t if t in _KEPT_TYPES else 0 for t in compiled.params)
            if compiled.ok:
                ok.append(subject)
            else:
                result["inconclusive"] += 1
                if len(examples) < _EXAMPLES:
                    examples.append(
                        {"color": subject.color, "statement": subject.query[:_TEXT], "error": compiled.error}
                    )
        upserts = [s for s in ok if _UPSERT.search(s.query)]
        for subject, refused in zip(upserts, explain_as(conn, role, upserts), strict=True):
            subject.explains = refused is None
        alive += ok
    if examples:
        result["inconclusive_examples"] = examples
    return alive


def _with(ok: list[Subject], compiled: list[Compiled], mine: list[Subject]) -> list[Subject]:
    """The ``ok`` subjects carrying their latest compilation (EXPLAIN needs its parameter count)."""
    latest = {id(s): c for s, c in zip(mine, compiled, strict=True)}
    return [
        Subject(s.color, s.role, s.query, s.calls, latest[id(s)], s.params, s.explains, s.text, s._shape)
        for s in ok
    ]
