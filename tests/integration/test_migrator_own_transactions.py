"""Migrations that run their own BEGIN/COMMIT, and reverses that do nothing, on a real PostgreSQL as RDS runs
the migrator (a non-superuser with CREATEROLE owning the database).

Before this, a file's own COMMIT ended the runner's transaction: the migration committed, and its history
row was written afterwards, apart from it (the only sign: PostgreSQL WARNINGs in ``notices``)."""

from __future__ import annotations

import psycopg
import pytest
from migrator import runner
from migrator.errors import MigrationFailed, OwnTransaction

from tests.integration.migrator_support import advisory_locks, history_ids, manifest, tables
from tests.oldtools import rds_like_database

TWO_TRANSACTIONS_THEN_FAIL = """BEGIN;
CREATE TABLE first_batch (id int);
INSERT INTO first_batch VALUES (1);
COMMIT;

BEGIN;
CREATE TABLE second_batch (id int);
INSERT INTO second_batch VALUES ('not a number');
COMMIT;
"""


@pytest.fixture
def database(local_default):
    with rds_like_database(local_default) as url:
        yield url


def _open_sessions_in_transaction(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
        ).fetchone()[0]


def test_own_transaction_control_inside_the_runners_transaction_is_refused_before_anything_runs(database):
    from migrator.runner.manifest import Migration

    first = Migration("0001", "create_a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    wrapped = Migration("0002", "wrapped", "BEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n", "DROP TABLE b;")
    migrations = manifest(first, wrapped)

    for dry_run in (True, False):
        with pytest.raises(OwnTransaction) as caught:
            runner.migrate(database, dry_run=dry_run, manifest=migrations)
        assert "0002_wrapped (up: BEGIN at line 1, COMMIT at line 3)" in caught.value.message

    # Nothing ran: not even the migration before it (the refusal comes before the first one)
    assert tables(database) == set() and history_ids(database) == []


def test_a_file_whose_own_transaction_commits_and_then_fails_leaves_the_history_honest(database):
    from migrator.runner.manifest import Migration

    batches = Migration(
        "0001", "batches", TWO_TRANSACTIONS_THEN_FAIL, "DROP TABLE first_batch;", transactional=False
    )

    with pytest.raises(MigrationFailed) as caught:
        runner.migrate(database, manifest=manifest(batches))

    # The first transaction committed and stays; the second was rolled back with its table
    assert tables(database) == {"first_batch"}
    # Not recorded: the runner writes the row only after the whole file succeeded
    assert history_ids(database) == []
    message = caught.value.message
    assert "invalid input syntax for type integer" in message
    assert "any transaction of its own that it committed, took effect" in message
    assert "It was not recorded" in message
    # The session did not stay inside the file's failed transaction, and the run's lock is gone
    assert _open_sessions_in_transaction(database) == 0 and advisory_locks(database) == 0


def test_a_no_transaction_file_runs_its_own_transactions_and_is_recorded_after_them(database):
    from migrator.runner.manifest import Migration

    ok = TWO_TRANSACTIONS_THEN_FAIL.replace("'not a number'", "2")
    batches = Migration(
        "0001",
        "batches",
        ok,
        "BEGIN;\nDROP TABLE second_batch;\nDROP TABLE first_batch;\nCOMMIT;\n",
        transactional=False,
    )

    applied = runner.migrate(database, manifest=manifest(batches))

    assert [a["id"] for a in applied["applied"]] == ["0001"] and applied["applied"][0]["notices"] == []
    assert tables(database) == {"first_batch", "second_batch"} and history_ids(database) == ["0001"]
    rolled = runner.rollback(database, steps=1, manifest=manifest(batches))
    assert [r["id"] for r in rolled["rolled_back"]] == ["0001"]
    assert tables(database) == set() and history_ids(database) == []


def test_a_function_body_that_says_begin_and_commit_is_not_transaction_control(database):
    from migrator.runner.manifest import Migration

    body = (
        "CREATE TABLE t (id int, x int);\n"
        "CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.x := 1;\n"
        "  RETURN NEW;\nEND;\n$$;\n"
    )
    migration = Migration("0001", "with_function", body, "DROP TABLE t;\nDROP FUNCTION bump();")

    runner.migrate(database, manifest=manifest(migration))

    assert history_ids(database) == ["0001"]


def test_a_no_op_reverse_rolls_back_by_removing_the_row_only_and_list_says_so(database, tmp_path):
    from migrator.runner.manifest import sql_pair

    (tmp_path / "0001_create.up.sql").write_text("CREATE TABLE t (id int, x int);\n")
    (tmp_path / "0001_create.down.sql").write_text("DROP TABLE t;\n")
    (tmp_path / "0002_backfill.up.sql").write_text("INSERT INTO t VALUES (1, 1);\n")
    (tmp_path / "0002_backfill.down.sql").write_text("-- data only: nothing to undo\n")
    migrations = manifest(sql_pair(tmp_path / "0001_create"), sql_pair(tmp_path / "0002_backfill"))
    runner.migrate(database, manifest=migrations)

    listed = runner.list_migrations(database, manifest=migrations)["migrations"]
    assert [(e["id"], e["reversible"], e["reverse_noop"]) for e in listed] == [
        ("0001", True, False),
        ("0002", True, True),
    ]
    dry = runner.rollback(database, steps=2, dry_run=True, manifest=migrations)
    assert [m["id"] for m in dry["would_roll_back"]] == ["0002", "0001"]

    runner.rollback(database, steps=1, manifest=migrations)
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1  # the reverse ran nothing
    assert history_ids(database) == ["0001"]
    runner.rollback(database, steps=1, manifest=migrations)
    assert tables(database) == set()
