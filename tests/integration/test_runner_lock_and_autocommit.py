"""The lock held by someone else (deterministic), and migrations that opt out of the transaction."""

from __future__ import annotations

import psycopg
import pytest
from migrator import handler as handler_module
from migrator import runner
from migrator.errors import LockNotAcquired, MigrationFailed
from migrator.runner import store
from migrator.runner.manifest import Migration
from migrator.settings import Settings

from tests.integration.migrator_support import history_ids, manifest, numbered, tables


def test_a_held_lock_is_reported_after_the_bounded_wait(fresh_database, lambda_context, monkeypatch):
    with psycopg.connect(fresh_database, autocommit=True) as other_run:
        other_run.execute("SELECT pg_advisory_lock(%s)", (store.LOCK_KEY,))

        with pytest.raises(LockNotAcquired) as refused:
            runner.migrate(
                fresh_database, manifest=manifest(*numbered(1)), settings=Settings(lock_wait_seconds=0.3)
            )
        assert "another migration run holds the lock" in str(refused.value)
        assert "MIGRATOR_LOCK_WAIT_SECONDS" in str(refused.value)

        # the same through the handler, with the wait from the environment
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        monkeypatch.setenv("DATABASE_URL", fresh_database)
        monkeypatch.setenv("MIGRATOR_LOCK_WAIT_SECONDS", "0")
        result = handler_module.handler({"action": "rollback", "steps": 1}, lambda_context)
        assert result["ok"] is False and result["error"]["type"] == "LockNotAcquired"

    # list and dry runs never take the lock; after the holder leaves, the run goes through
    assert history_ids(fresh_database) == []
    assert runner.migrate(fresh_database, manifest=manifest(*numbered(1)))["applied"][0]["id"] == "0001"


def test_readers_do_not_wait_for_the_lock(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as other_run:
        other_run.execute("SELECT pg_advisory_lock(%s)", (store.LOCK_KEY,))
        settings = Settings(lock_wait_seconds=0)
        assert runner.list_migrations(fresh_database, manifest=manifest(*numbered(1)), settings=settings)
        dry = runner.migrate(fresh_database, dry_run=True, manifest=manifest(*numbered(1)), settings=settings)
        assert [w["id"] for w in dry["would_apply"]] == ["0001"]


def test_non_transactional_migration_runs_statement_by_statement(fresh_database):
    concurrent = Migration(
        "0002",
        "index_concurrently",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t1_note_idx ON t1 (note);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t1_note_id_idx ON t1 (note, id);",
        "DROP INDEX CONCURRENTLY IF EXISTS t1_note_id_idx; DROP INDEX CONCURRENTLY IF EXISTS t1_note_idx;",
        transactional=False,
    )
    migrations = manifest(*numbered(1), concurrent)

    runner.migrate(fresh_database, manifest=migrations)
    with psycopg.connect(fresh_database) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 't1'")}
    assert {"t1_note_idx", "t1_note_id_idx"} <= indexes
    assert history_ids(fresh_database) == ["0001", "0002"]

    runner.rollback(fresh_database, steps=1, manifest=migrations)
    assert history_ids(fresh_database) == ["0001"]


def test_a_failing_non_transactional_migration_is_not_recorded_and_says_what_may_remain(fresh_database):
    broken = Migration(
        "0002",
        "broken_concurrently",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t1_note_idx ON t1 (note);\n"
        "CREATE INDEX CONCURRENTLY missing_idx ON no_such_table (id);",
        "DROP INDEX CONCURRENTLY IF EXISTS t1_note_idx;",
        transactional=False,
    )

    with pytest.raises(MigrationFailed) as failed:
        runner.migrate(fresh_database, manifest=manifest(*numbered(1), broken, *numbered(1, start=3)))

    message = str(failed.value)
    assert "0002_broken_concurrently" in message and "no_such_table" in message
    assert "outside a transaction" in message
    assert history_ids(fresh_database) == ["0001"]
    assert tables(fresh_database) == {"t1"}
