"""The history table and the advisory lock: the runner's only state in the database.

``public.release_kit_migrations`` records, per applied migration, its id, name, the checksum of its content,
when it was applied and how long it took. A row is inserted in the same transaction as the migration's own
SQL, so a migration that fails (or whose runner is killed) is never recorded.

The lock is a *session-level* advisory lock on the runner's one connection: it is released when the run ends
and, because it belongs to the session, when the connection dies (a SIGKILLed runner cannot leave it behind).
``client_connection_check_interval`` (PostgreSQL 14+) makes the server notice a vanished client even while
it is busy in a long statement, so the dead run's transaction rolls back and the lock frees within a second.

The table's own schema has versions. Version 1 (the first release) had no ``checksum_version`` and no
``baselined``; :func:`ensure_history` upgrades it in place, under the run's lock and in one transaction:
existing rows keep ``checksum_version = 1`` (hashed as written), new rows get 2 (line endings normalised),
and :func:`upgrade_checksums` moves each version-1 row to version 2 once the code confirms its content.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from migrator import logs
from migrator.errors import LockNotAcquired

__all__ = [
    "HISTORY_TABLE",
    "LOCK_KEY",
    "ROLES_TABLE",
    "RUNNER_TABLES",
    "STATEMENTS_TABLE",
    "AppliedRecord",
    "delete_record",
    "ensure_history",
    "history_exists",
    "history_schema",
    "insert_baseline",
    "insert_record",
    "keep_private",
    "migration_lock",
    "read_history",
    "upgrade_checksums",
]

HISTORY_TABLE = "public.release_kit_migrations"
# The statement inventory (inventory.py) and what the role setup recorded (app_role.py).
STATEMENTS_TABLE = "public.release_kit_statements"
ROLES_TABLE = "public.release_kit_roles"
# The runner's own tables: never the application's, whatever default privileges say.
RUNNER_TABLES = (HISTORY_TABLE, STATEMENTS_TABLE, ROLES_TABLE)
# pg_advisory_lock takes a bigint; this one is "rkmigrat" in ASCII, unlikely to clash with an application's.
LOCK_KEY = int.from_bytes(b"rkmigrat", "big") & 0x7FFF_FFFF_FFFF_FFFF

_CREATE_HISTORY = f"""
CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    id          text PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms integer NOT NULL,
    checksum_version smallint NOT NULL DEFAULT 1,
    baselined   boolean NOT NULL DEFAULT false
)
"""
HISTORY_SCHEMA = 2
# Version 1 -> 2. ADD COLUMN with a constant default is a catalogue-only change (PostgreSQL 11+): no rewrite.
# The default stays 1: a row inserted by an older runner (which does not know the column) is hashed as
# written; this runner always says 2 explicitly.
_UPGRADE_1_TO_2 = f"""
ALTER TABLE {HISTORY_TABLE}
    ADD COLUMN checksum_version smallint NOT NULL DEFAULT 1,
    ADD COLUMN baselined boolean NOT NULL DEFAULT false
"""


@dataclass(frozen=True)
class AppliedRecord:
    id: str
    name: str
    checksum: str
    applied_at: datetime
    duration_ms: int
    checksum_version: int = 2
    baselined: bool = False


def keep_private(conn: psycopg.Connection, relation: str, *, keep_public: bool = False) -> None:
    """Revoke every grant on a relation the runner just created: the migrator's default privileges give
    every new table in the schema to the application's group and the sql action's reader, and the runner's
    own tables are neither's. ``keep_public`` leaves what PUBLIC was granted (an extension's own grants)."""
    grantees = conn.execute(
        "SELECT DISTINCT a.grantee = 0, coalesce(r.rolname, '') FROM pg_class c "
        "CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
        (relation,),
    ).fetchall()
    for public, name in grantees:
        if public and keep_public:
            continue
        target = sql.SQL("PUBLIC") if public else sql.Identifier(name)
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.SQL(relation), target))


def history_schema(conn: psycopg.Connection) -> int:
    """0 when the history table does not exist, else its schema version (1 or 2)."""
    return conn.execute(
        "SELECT CASE WHEN to_regclass(%(t)s) IS NULL THEN 0 WHEN EXISTS (SELECT 1 FROM pg_attribute "
        "WHERE attrelid = to_regclass(%(t)s) AND attname = 'checksum_version' AND NOT attisdropped) "
        "THEN 2 ELSE 1 END",
        {"t": HISTORY_TABLE},
    ).fetchone()[0]


def history_exists(conn: psycopg.Connection) -> bool:
    return history_schema(conn) > 0


def ensure_history(conn: psycopg.Connection) -> int:
    """Create the history table, or upgrade its schema to the current version (called under the lock, so
    concurrent runs never race on it). Returns the schema version found (0: created)."""
    found = history_schema(conn)
    if found == 0:
        conn.execute(_CREATE_HISTORY)
    elif found == 1:
        with conn.transaction():
            conn.execute(_UPGRADE_1_TO_2)
            conn.execute(
                f"COMMENT ON TABLE {HISTORY_TABLE} IS 'release-kit migrator history, schema {HISTORY_SCHEMA}'"
            )
        logs.log("history table upgraded", from_schema=1, to_schema=HISTORY_SCHEMA)
    return found


def read_history(conn: psycopg.Connection) -> dict[str, AppliedRecord]:
    """Applied migrations in the order they were applied (empty when the table does not exist yet). A
    version-1 table (not yet upgraded: list and dry runs do not write) reads as checksum version 1."""
    schema = history_schema(conn)
    if schema == 0:
        return {}
    extra = "checksum_version, baselined" if schema >= 2 else "1, false"
    rows = conn.execute(
        f"SELECT id, name, checksum, applied_at, duration_ms, {extra} FROM {HISTORY_TABLE} ORDER BY seq"
    ).fetchall()
    return {row[0]: AppliedRecord(*row) for row in rows}


def upgrade_checksums(conn: psycopg.Connection, current: dict[str, str]) -> int:
    """Move the version-1 rows whose content the code confirms to version 2. ``current`` maps each such row's
    id to the migration's version-2 checksum; the caller only passes rows that match (see
    ``Migration.matches``). Returns how many rows changed."""
    if not current:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            f"UPDATE {HISTORY_TABLE} SET checksum = %s, checksum_version = 2 "
            "WHERE id = %s AND checksum_version = 1",
            [(checksum, migration_id) for migration_id, checksum in current.items()],
        )
    return len(current)


def insert_baseline(conn: psycopg.Connection, rows: list[tuple[str, str, str]]) -> None:
    """Record (id, name, checksum) rows as applied without running them (one transaction, the caller's)."""
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {HISTORY_TABLE} (id, name, checksum, duration_ms, baselined, checksum_version) "
            "VALUES (%s, %s, %s, 0, true, 2)",
            rows,
        )


def insert_record(
    conn: psycopg.Connection, migration_id: str, name: str, checksum: str, duration_ms: int
) -> None:
    conn.execute(
        f"INSERT INTO {HISTORY_TABLE} (id, name, checksum, duration_ms, checksum_version) "
        "VALUES (%s, %s, %s, %s, 2)",
        (migration_id, name, checksum, duration_ms),
    )


def delete_record(conn: psycopg.Connection, migration_id: str) -> None:
    conn.execute(f"DELETE FROM {HISTORY_TABLE} WHERE id = %s", (migration_id,))


def insert_record_sql(conn: psycopg.Connection, migration_id: str, name: str, checksum: str) -> str:
    """The INSERT for a migration applied in the current transaction, as SQL text with quoted literals (so it
    can share one message with the migration). The duration is the server's: transaction start to now."""
    return (
        sql.SQL(
            "INSERT INTO {} (id, name, checksum, checksum_version, duration_ms) VALUES ({}, {}, {}, 2, "
            "(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer)"
        )
        .format(sql.SQL(HISTORY_TABLE), sql.Literal(migration_id), sql.Literal(name), sql.Literal(checksum))
        .as_string(conn)
    )


def delete_record_sql(conn: psycopg.Connection, migration_id: str) -> str:
    return (
        sql.SQL("DELETE FROM {} WHERE id = {}")
        .format(sql.SQL(HISTORY_TABLE), sql.Literal(migration_id))
        .as_string(conn)
    )


@contextmanager
def migration_lock(conn: psycopg.Connection, wait_seconds: float) -> Iterator[None]:
    """Hold the run's advisory lock, waiting at most ``wait_seconds`` for another run to release it."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
        if time.monotonic() >= deadline:
            holder = conn.execute(
                "SELECT pid, now() - backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND (l.classid::bigint << 32 | l.objid::bigint) = %s LIMIT 1",
                (LOCK_KEY,),
            ).fetchone()
            who = f" (server process {holder[0]})" if holder else ""
            raise LockNotAcquired(
                f"another migration run holds the lock{who}; waited {wait_seconds:g}s. Let it finish and "
                "run again, or raise MIGRATOR_LOCK_WAIT_SECONDS"
            )
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        if not conn.closed:
            # If the session is going away, the lock goes with it.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
