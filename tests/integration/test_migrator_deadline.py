"""Lambda deadlines on a real PostgreSQL: the runner stops cleanly between migrations, no statement outlasts
the invocation, and a batched Python backfill stops between batches and resumes in the next run.

The contexts are real-time countdowns like Lambda's (ShortContext); nothing is mocked."""

from __future__ import annotations

import time

import psycopg
import pytest
from migrator import runner
from migrator.deadline import Deadline
from migrator.handler import handle
from migrator.runner.manifest import Migration
from migrator.settings import Settings

from tests.integration.migrator_support import ShortContext, history_ids, manifest, numbered, tables


def deadline(seconds: float, reserve: float) -> Deadline:
    return Deadline.from_context(ShortContext(seconds), reserve)


def test_it_stops_before_a_migration_when_too_little_time_is_left_and_the_next_run_continues(
    fresh_database, monkeypatch
):
    # GIVEN a slow first migration: after it, less than the 2 s reserve is left of a 3 s invocation
    slow = Migration("0001", "slow", "SELECT pg_sleep(1.5); CREATE TABLE slow (id int);", "DROP TABLE slow;")
    migrations = manifest(slow, *numbered(2, start=2))
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    monkeypatch.setenv("MIGRATOR_DEADLINE_RESERVE", "2")

    # WHEN the handler runs migrate with that context
    result = handle({"action": "migrate"}, ShortContext(3.0), manifest=migrations)

    # THEN it stops cleanly: not ok, OutOfTime, what was applied and what is pending
    assert result["ok"] is False and result["error"]["type"] == "OutOfTime"
    assert "time ran out" in result["error"]["message"]
    assert [a["id"] for a in result["applied"]] == ["0001"]
    assert result["pending"] == ["0002", "0003"]
    assert history_ids(fresh_database) == ["0001"] and tables(fresh_database) == {"slow"}

    # AND the next invocation continues where it stopped
    again = handle({"action": "migrate"}, ShortContext(60), manifest=migrations)
    assert again["ok"], again
    assert [a["id"] for a in again["applied"]] == ["0002", "0003"]


@pytest.mark.parametrize("transactional", [True, False])
def test_no_statement_outlasts_the_invocation(fresh_database, transactional):
    # GIVEN 3 s left (less the 1 s margin: 2 s for statements) and a migration whose statements take 2.4 s
    # together; the configured statement_timeout (15 min) would let each run
    migration = Migration(
        "0001",
        "too_slow",
        "SELECT pg_sleep(1.2);\nSELECT pg_sleep(1.2);\nCREATE TABLE never (id int);\n",
        "DROP TABLE never;",
        transactional=transactional,
    )
    started = time.monotonic()

    # WHEN it runs
    with pytest.raises(Exception) as caught:
        runner.migrate(fresh_database, manifest=manifest(migration), deadline=deadline(3.0, 0.5))
    elapsed = time.monotonic() - started

    # THEN the second statement is cancelled at the deadline, not after it: time ran out, nothing recorded
    assert type(caught.value).__name__ == "OutOfTime"
    assert caught.value.details["pending"] == ["0001"] and caught.value.details["applied"] == []
    assert elapsed < 2.8, elapsed
    assert history_ids(fresh_database) == [] and "never" not in tables(fresh_database)


def test_without_a_deadline_the_configured_statement_timeout_applies(fresh_database):
    slow = Migration("0001", "slow", "SELECT pg_sleep(0.5);", None)
    settings = Settings(statement_timeout="200ms")

    with pytest.raises(Exception) as caught:
        runner.migrate(fresh_database, manifest=manifest(slow), settings=settings)

    assert type(caught.value).__name__ == "MigrationFailed"
    assert "statement timeout" in caught.value.message


BATCHES = 10


def fill_in_batches(conn) -> int:
    """Insert rows 1..BATCHES*10 that are missing, ten per committed batch; each batch takes ~0.3 s."""
    done = 0
    while True:
        with conn.transaction():
            row = conn.execute(
                "WITH todo AS (SELECT g.n FROM generate_series(1, %s) AS g (n) "
                "WHERE NOT EXISTS (SELECT 1 FROM filled f WHERE f.n = g.n) ORDER BY g.n LIMIT 10), "
                "ins AS (INSERT INTO filled SELECT n FROM todo RETURNING 1) "
                "SELECT count(*) FROM ins, pg_sleep(0.3)",
                (BATCHES * 10,),
            ).fetchone()
        if row[0] == 0:
            return done
        done += row[0]


def test_a_batched_backfill_stops_between_batches_and_resumes(fresh_database):
    # GIVEN a table and a backfill of ten 0.3 s batches that commit one by one (transactional=False)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE filled (n int PRIMARY KEY)")
    backfill = Migration("0001", "fill", fill_in_batches, None, transactional=False)

    # WHEN it runs with 2.5 s left and a 1.5 s reserve
    with pytest.raises(Exception) as caught:
        runner.migrate(fresh_database, manifest=manifest(backfill), deadline=deadline(2.5, 1.5))

    # THEN it stopped between batches: the committed batches stay, the migration is not recorded
    assert type(caught.value).__name__ == "OutOfTime"
    assert "between batches" in caught.value.message
    assert caught.value.details["pending"] == ["0001"]
    with psycopg.connect(fresh_database) as conn:
        first = conn.execute("SELECT count(*) FROM filled").fetchone()[0]
    assert 0 < first < BATCHES * 10 and first % 10 == 0
    assert history_ids(fresh_database) == []

    # AND the next invocation resumes with the rows still to do, and records the migration
    result = runner.migrate(fresh_database, manifest=manifest(backfill), deadline=deadline(60, 1.0))
    assert [a["id"] for a in result["applied"]] == ["0001"]
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT n) FROM filled").fetchone() == (100, 100)
    assert history_ids(fresh_database) == ["0001"]


def test_rollback_stops_between_migrations_too(fresh_database):
    slow_down = Migration(
        "0002", "slow_down", "CREATE TABLE b (id int);", "SELECT pg_sleep(1.5); DROP TABLE b;"
    )
    migrations = manifest(*numbered(1), slow_down)
    runner.migrate(fresh_database, manifest=migrations)

    with pytest.raises(Exception) as caught:
        runner.rollback(fresh_database, steps=2, manifest=migrations, deadline=deadline(3.0, 2.0))

    assert type(caught.value).__name__ == "OutOfTime"
    assert [r["id"] for r in caught.value.details["rolled_back"]] == ["0002"]
    assert caught.value.details["pending"] == ["0001"]
    assert history_ids(fresh_database) == ["0001"]


def test_the_projects_own_migrations_run_under_a_lambda_deadline(fresh_database, monkeypatch):
    # With 60 s left the configured 15 min statement_timeout would outlast the invocation, so every statement
    # of 0001-0007 (SQL in one message, CONCURRENTLY in autocommit, the batched backfill through the
    # deadline-aware connection) runs with a lowered timeout.
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    seeded = handle({"action": "migrate", "target": "0004"}, ShortContext(60))
    assert seeded["ok"], seeded
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("INSERT INTO users (username) SELECT 'u' || n FROM generate_series(1, 2500) AS n")

    result = handle({"action": "migrate", "allow_contract": True}, ShortContext(60))

    assert result["ok"], result
    assert [a["id"] for a in result["applied"]] == ["0005", "0006", "0007"]
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE display_name = username").fetchone()[0] == 2500
