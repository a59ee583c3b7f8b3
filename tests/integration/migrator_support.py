"""Helpers for the migrator's integration tests: generated manifests and small database probes."""

from __future__ import annotations

import psycopg
from migrator.runner.manifest import Manifest, Migration


def numbered(count: int, *, prefix: str = "t", start: int = 1) -> list[Migration]:
    """``count`` small reversible migrations, each creating one table ``<prefix><n>``."""
    return [
        Migration(
            id=f"{n:04d}",
            name=f"create_{prefix}{n}",
            forward=f"CREATE TABLE {prefix}{n} (id bigint PRIMARY KEY, note text);",
            reverse=f"DROP TABLE {prefix}{n};",
        )
        for n in range(start, start + count)
    ]


def manifest(*migrations: Migration) -> Manifest:
    return Manifest(tuple(migrations))


# The runner's own tables (history, statement inventory, role provenance); views such as an extension's
# (pg_stat_statements) are not tables either.
RUNNER_TABLES = {"release_kit_migrations", "release_kit_statements", "release_kit_roles"}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE'"
        ).fetchall()
    return {r[0] for r in rows} - RUNNER_TABLES


def history(url: str) -> list[tuple]:
    """(id, name, checksum, duration_ms) rows in application order; [] when the table does not exist."""
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT to_regclass('public.release_kit_migrations')").fetchone()[0]:
            return []
        return conn.execute(
            "SELECT id, name, checksum, duration_ms FROM release_kit_migrations ORDER BY seq"
        ).fetchall()


def history_ids(url: str) -> list[str]:
    return [row[0] for row in history(url)]


def advisory_locks(url: str) -> int:
    """How many advisory locks anyone holds in this database."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        ).fetchone()[0]


class ShortContext:
    """A Lambda context whose invocation ends ``seconds`` from now (real time, as in Lambda)."""

    function_name = "release-kit-migrator"
    function_version = "$LATEST"
    memory_limit_in_mb = 512

    def __init__(self, seconds: float) -> None:
        import time
        import uuid

        self._monotonic = time.monotonic
        self._ends = time.monotonic() + seconds
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - self._monotonic()) * 1000))


def columns(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [r[0] for r in rows]
