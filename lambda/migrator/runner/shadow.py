"""The shadow database: a copy of the application's schema, without its data, where the compatibility
check tries the pending migrations. Nothing the check does takes a lock on a live table.

    <database>_rk_shadow    created by the migrator (CREATEDB: the RDS master user has it) and owned by it,
                            CONNECT revoked from PUBLIC, holding only the schema

It is built by replaying the manifest (the kit knows every migration, baselined ones included) and kept
between runs at the live database's applied level: its own history table says which migrations it holds,
so a check first replays what the live database applied since, and rebuilds it from nothing when the two
histories disagree (a rollback, an edited migration). Pending migrations are then tried inside one
transaction that is always rolled back (:func:`transaction_safe` turns ``CREATE INDEX CONCURRENTLY`` and the
like into their transactional form there: indexes change no statement's meaning), so the shadow never runs
ahead of the live database.

A replay reproduces what the migrations say, not what the live database holds: objects made by hand, by
another tool, or by baseline migrations that do not create what they stand for are missing. :func:`drift`
compares the two schemas so the check can say so instead of trusting a wrong copy.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from migrator import logs
from migrator.connection import Database, connect, credentials_of, pg_reason
from migrator.credentials import Credentials
from migrator.errors import MigratorError
from migrator.runner import store
from migrator.runner.execution import split_statements
from migrator.runner.manifest import Manifest, Migration
from migrator.settings import Settings

__all__ = ["Shadow", "ShadowFailed", "drift", "opened", "shadow_name", "transaction_safe"]

_LOCK_KEY = int.from_bytes(b"rkshadow", "big") & 0x7FFF_FFFF_FFFF_FFFF
_BATCH = 50  # transactional SQL migrations replayed per round trip
DML = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT, UPDATE"


class ShadowFailed(MigratorError):
    """The shadow database could not be created, reached or brought to the live database's level."""


def shadow_name(database: str) -> str:
    """``<database>_rk_shadow``, shortened with a hash to PostgreSQL's 63-byte names when needed."""
    name = f"{database}_rk_shadow"
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.sha256(database.encode()).hexdigest()[:8]
    return f"{database.encode()[:40].decode(errors='ignore')}_{digest}_rk_shadow"


@dataclass
class Shadow:
    conn: psycopg.Connection
    name: str
    rebuilt: bool
    replayed: int


def transaction_safe(statement: str) -> str | None:
    """``statement`` in a form that runs inside a transaction block: CONCURRENTLY dropped from index builds,
    drops, reindexes and partition detaches; None for maintenance that changes no schema (VACUUM, ANALYZE,
    CHECKPOINT, CLUSTER) and cannot run in a transaction."""
    import pglast
    from pglast.stream import RawStream

    try:
        parsed = pglast.parse_sql(statement)
    except pglast.parser.ParseError:
        return statement  # the server reads it; let it say what it thinks
    if len(parsed) != 1:
        return statement
    node = parsed[0].stmt
    kind = type(node).__name__
    if kind in ("VacuumStmt", "CheckPointStmt", "ClusterStmt"):
        return None
    changed = False
    if kind in ("IndexStmt", "DropStmt") and getattr(node, "concurrent", False):
        node.concurrent = False
        changed = True
    elif kind == "ReindexStmt" and node.params:
        kept = tuple(p for p in node.params if p.defname != "concurrently")
        changed = len(kept) != len(node.params)
        node.params = kept or None
    elif kind == "AlterTableStmt":
        for cmd in node.cmds or ():
            partition = getattr(cmd, "def_", None)
            if type(partition).__name__ == "PartitionCmd" and partition.concurrent:
                partition.concurrent = False
                changed = True
    return RawStream()(node) if changed else statement


# ------------------------------------------------------------------------------------------- opening


def _credentials(database: Database, name: str) -> Credentials:
    from psycopg.conninfo import make_conninfo

    live = credentials_of(database)
    return Credentials(
        conninfo=make_conninfo(live.conninfo, dbname=name),
        password=live.password,
        description=f"shadow database {name}",
    )


def _create(live: psycopg.Connection, name: str) -> bool:
    """Create the shadow database; False when it already exists (made by a concurrent run)."""
    try:
        live.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        return False
    except psycopg.Error as exc:
        raise ShadowFailed(
            f"could not create the shadow database {name} ({pg_reason(exc)}): the migrator's user needs "
            "CREATEDB (the RDS master user has it)"
        ) from None
    live.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
    return True


def _drop(live: psycopg.Connection, name: str) -> None:
    live.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _lock(conn: psycopg.Connection, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()[0]:
        if time.monotonic() >= deadline:
            raise ShadowFailed(
                f"another compatibility check holds the shadow database; waited {wait_seconds:g}s. Run again"
            )
        time.sleep(0.1)


def _is_prefix(shadow: dict[str, store.AppliedRecord], live: dict[str, store.AppliedRecord]) -> bool:
    ordered = list(live.values())
    return len(shadow) <= len(ordered) and all(
        record.id == ordered[i].id and record.checksum == ordered[i].checksum
        for i, record in enumerate(shadow.values())
    )


def _prepare_new(live: psycopg.Connection, conn: psycopg.Connection, group: str) -> None:
    """What a new shadow needs before the replay: the live database's extensions (where the migrator may
    create them) and the group role's default privileges, as the role setup gives them on the live one."""
    for (extension,) in live.execute(
        "SELECT extname FROM pg_extension WHERE extname NOT IN ('plpgsql', 'pg_stat_statements')"
    ).fetchall():
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
        except psycopg.Error as exc:
            logs.log(
                "shadow: extension not created", level="WARNING", extension=extension, reason=pg_reason(exc)
            )
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,)).fetchone():
        return
    role = sql.Identifier(group)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    conn.execute(
        sql.SQL(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {DML} ON TABLES TO {{}}").format(role)
    )
    conn.execute(
        sql.SQL(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {{}}"
        ).format(role)
    )


def replay(conn: psycopg.Connection, migrations: list[Migration]) -> None:
    """Apply ``migrations`` to the shadow and record them in its history: consecutive transactional SQL
    migrations share one transaction and one round trip (it holds no data, so the replay is fast)."""
    batch: list[Migration] = []

    def flush() -> None:
        if not batch:
            return
        body = "\n;\n".join(m.forward for m in batch)  # type: ignore[misc]  # str steps only
        records = ";\n".join(store.insert_record_sql(conn, m.id, m.name, m.checksum) for m in batch)
        try:
            conn.execute(f"BEGIN;\n{body}\n;\n{records};\nCOMMIT;")  # type: ignore[arg-type]  # trusted SQL
        except psycopg.Error:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            for migration in batch:  # again one by one, to name the migration that fails
                _replay_one(conn, migration)
        batch.clear()

    for migration in migrations:
        if migration.transactional and isinstance(migration.forward, str):
            batch.append(migration)
            if len(batch) >= _BATCH:
                flush()
            continue
        flush()
        _replay_one(conn, migration)
    flush()


def _replay_one(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        step = migration.forward
        if migration.transactional:
            with conn.transaction():
                step(conn) if callable(step) else conn.execute(step)  # type: ignore[arg-type]
                store.insert_record(conn, migration.id, migration.name, migration.checksum, 0)
            return
        if callable(step):
            step(conn)
        else:
            for statement in split_statements(step):
                conn.execute(statement)  # type: ignore[arg-type]
        store.insert_record(conn, migration.id, migration.name, migration.checksum, 0)
    except psycopg.Error as exc:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise ShadowFailed(
            f"migration {migration.label} fails when replayed on an empty copy of the schema "
            f"({pg_reason(exc)}), so the shadow database cannot show the schema the live one has"
        ) from None
    except Exception as exc:
        raise ShadowFailed(
            f"migration {migration.label} fails when replayed on an empty copy of the schema "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


@contextmanager
def opened(
    live: psycopg.Connection,
    database: Database,
    manifest: Manifest,
    history: dict[str, store.AppliedRecord],
    settings: Settings,
) -> Iterator[Shadow]:
    """The shadow database at the live database's applied level (``history``), open and locked for this
    check. ``live`` is the migrator's autocommit connection to the live database."""
    name = shadow_name(live.info.dbname)
    creds = _credentials(database, name)
    by_id = {m.id: m for m in manifest.migrations}
    rebuilt = False
    for attempt in range(2):
        exists = live.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        created = not exists and _create(live, name)
        try:
            conn = connect(creds, settings)
        except MigratorError as exc:
            raise ShadowFailed(f"could not open the shadow database {name}: {exc}") from None
        try:
            _lock(conn, settings.lock_wait_seconds)
            if created:
                _prepare_new(live, conn, settings.app_group)
            store.ensure_history(conn)
            held = store.read_history(conn)
            if not _is_prefix(held, history):
                if attempt:
                    raise ShadowFailed(f"the shadow database {name} does not follow the live history")
                logs.log("shadow database differs from the live history: rebuilding", shadow=name)
                conn.close()
                _drop(live, name)
                rebuilt = True
                continue
            missing = [by_id[i] for i in history if i not in held and i in by_id]
            started = time.perf_counter()
            replay(conn, missing)
            if missing:
                logs.log(
                    "shadow database brought up to date",
                    shadow=name,
                    replayed=len(missing),
                    ms=round((time.perf_counter() - started) * 1000),
                )
            yield Shadow(conn, name, rebuilt or created, len(missing))
            return
        finally:
            if not conn.closed:
                conn.close()
    raise ShadowFailed(f"could not prepare the shadow database {name}")  # pragma: no cover


def discard(live: psycopg.Connection) -> None:
    """Drop the shadow (a migration committed inside the check: it is no longer at the live level)."""
    _drop(live, shadow_name(live.info.dbname))


# ------------------------------------------------------------------------------------------- drift

_FINGERPRINT = """
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped AND format('%%I.%%I', n.nspname, c.relname) <> ALL(%(runner)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
UNION ALL
SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY(%(schemas)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e')
UNION ALL
SELECT 'type ' || t.typname || ' (' || string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) || ')'
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
WHERE n.nspname = ANY(%(schemas)s) GROUP BY t.typname
"""


def _fingerprint(conn: psycopg.Connection, schemas: tuple[str, ...]) -> set[str]:
    params = {"schemas": list(schemas), "runner": list(store.RUNNER_TABLES)}
    return {row[0] for row in conn.execute(_FINGERPRINT, params).fetchall()}


def drift(live: psycopg.Connection, shadow: psycopg.Connection, schemas: tuple[str, ...]) -> list[str]:
    """How the replayed schema differs from the live one (at most 10 lines; [] when they agree)."""
    live_print, shadow_print = _fingerprint(live, schemas), _fingerprint(shadow, schemas)
    lines = [f"only live: {item}" for item in sorted(live_print - shadow_print)]
    lines += [f"only in the replay: {item}" for item in sorted(shadow_print - live_print)]
    return lines[:10] + ([f"... {len(lines) - 10} more"] if len(lines) > 10 else [])
