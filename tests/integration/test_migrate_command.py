"""migrate and list on a real PostgreSQL: apply, dry run, target, contract refusal, failure mid-sequence,
checksum drift, migrations missing from the code, timeouts and the project's own sequence."""

from __future__ import annotations

import threading

import psycopg
import pytest
from migrator import runner
from migrator.errors import (
    ChecksumMismatch,
    ContractRefused,
    MigrationFailed,
    UnknownAppliedMigrations,
    UnknownTarget,
)
from migrator.runner.manifest import Migration
from migrator.settings import Settings

from migrations import manifest as project
from tests.integration.migrator_support import history, history_ids, manifest, numbered, tables


def test_migrate_applies_every_pending_migration_once_and_records_it(fresh_database):
    migrations = manifest(*numbered(3))

    result = runner.migrate(fresh_database, manifest=migrations)

    assert [a["id"] for a in result["applied"]] == ["0001", "0002", "0003"]
    assert tables(fresh_database) == {"t1", "t2", "t3"}
    rows = history(fresh_database)
    assert [(r[0], r[1], r[2]) for r in rows] == [(m.id, m.name, m.checksum) for m in migrations.migrations]
    assert all(r[3] >= 0 for r in rows)
    # THEN a second run has nothing to do
    assert runner.migrate(fresh_database, manifest=migrations)["applied"] == []


def test_list_reports_state_applied_at_and_duration(fresh_database):
    migrations = manifest(*numbered(3))
    runner.migrate(fresh_database, target="0002", manifest=migrations)

    listed = runner.list_migrations(fresh_database, manifest=migrations)

    states = {e["id"]: e for e in listed["migrations"]}
    assert states["0001"]["state"] == states["0002"]["state"] == "applied"
    assert states["0003"]["state"] == "pending"
    assert states["0001"]["applied_at"] and isinstance(states["0001"]["duration_ms"], int)
    assert states["0003"]["applied_at"] is None
    assert listed["counts"] == {
        "applied": 2,
        "baselined": 0,
        "pending": 1,
        "changed": 0,
        "missing_from_code": 0,
    }


def test_list_on_an_empty_database_creates_nothing(fresh_database):
    listed = runner.list_migrations(fresh_database, manifest=manifest(*numbered(2)))
    assert listed["counts"]["pending"] == 2
    assert history(fresh_database) == []


def test_dry_run_reports_the_sql_and_changes_nothing(fresh_database):
    migrations = manifest(*numbered(2))

    result = runner.migrate(fresh_database, dry_run=True, manifest=migrations)

    assert result["dry_run"] is True and result["applied"] == []
    assert [w["id"] for w in result["would_apply"]] == ["0001", "0002"]
    assert "CREATE TABLE t1" in result["would_apply"][0]["sql"]
    # not even the history table exists
    assert history(fresh_database) == [] and tables(fresh_database) == set()


def test_target_applies_up_to_and_including_it(fresh_database):
    migrations = manifest(*numbered(4))

    result = runner.migrate(fresh_database, target="0002", manifest=migrations)

    assert [a["id"] for a in result["applied"]] == ["0001", "0002"]
    assert history_ids(fresh_database) == ["0001", "0002"]
    # the id_name form names the same migration
    assert [
        a["id"]
        for a in runner.migrate(fresh_database, target="0003_create_t3", manifest=migrations)["applied"]
    ] == ["0003"]


def test_unknown_target_is_refused(fresh_database):
    with pytest.raises(UnknownTarget, match="9999"):
        runner.migrate(fresh_database, target="9999", manifest=manifest(*numbered(2)))
    assert history(fresh_database) == []


def test_contract_migration_is_refused_without_allow_contract_and_nothing_runs(fresh_database):
    contract = Migration("0003", "drop_note", "ALTER TABLE t1 DROP COLUMN note;", None, contract=True)
    migrations = manifest(*numbered(2), contract)

    with pytest.raises(ContractRefused) as refused:
        runner.migrate(fresh_database, manifest=migrations)

    message = str(refused.value)
    assert "0003_drop_note" in message and "expand" in message.lower() and "allow_contract" in message
    assert 'target "0002"' in message
    assert history(fresh_database) == [] and tables(fresh_database) == set()
    # WHEN the caller allows it, it runs
    applied = runner.migrate(fresh_database, manifest=migrations, allow_contract=True)["applied"]
    assert [a["id"] for a in applied] == ["0001", "0002", "0003"]


def test_a_failing_migration_leaves_the_database_as_before_it_and_is_not_recorded(fresh_database):
    # The failing migration creates a table, then fails: the table must not survive.
    failing = Migration(
        "0003",
        "broken",
        "CREATE TABLE half_done (id int); INSERT INTO no_such_table VALUES (1);",
        "DROP TABLE half_done;",
    )
    migrations = manifest(*numbered(2), failing, *numbered(1, start=4))

    with pytest.raises(MigrationFailed) as failed:
        runner.migrate(fresh_database, manifest=migrations)

    error = failed.value
    assert "0003_broken" in str(error) and "no_such_table" in str(error)
    assert error.details["failed"] == "0003"
    assert [a["id"] for a in error.details["applied"]] == ["0001", "0002"]
    assert history_ids(fresh_database) == ["0001", "0002"]
    assert tables(fresh_database) == {"t1", "t2"}  # no half_done, no t4


def test_a_failing_python_migration_is_rolled_back_too(fresh_database):
    def explode(conn):
        conn.execute("CREATE TABLE from_function (id int)")
        raise RuntimeError("backfill found bad data")

    migrations = manifest(*numbered(1), Migration("0002", "explode", explode, None))

    with pytest.raises(MigrationFailed, match="backfill found bad data"):
        runner.migrate(fresh_database, manifest=migrations)
    assert tables(fresh_database) == {"t1"}
    assert history_ids(fresh_database) == ["0001"]


def test_checksum_drift_is_listed_and_blocks_migrate(fresh_database):
    original = numbered(2)
    runner.migrate(fresh_database, manifest=manifest(*original))
    edited = Migration(
        "0002", "create_t2", "CREATE TABLE t2 (id bigint PRIMARY KEY, extra int);", "DROP TABLE t2;"
    )
    drifted = manifest(original[0], edited, *numbered(1, start=3))

    listed = runner.list_migrations(fresh_database, manifest=drifted)
    assert {e["id"]: e["state"] for e in listed["migrations"]} == {
        "0001": "applied",
        "0002": "changed",
        "0003": "pending",
    }
    with pytest.raises(ChecksumMismatch, match="0002_create_t2"):
        runner.migrate(fresh_database, manifest=drifted)
    assert history_ids(fresh_database) == ["0001", "0002"]
    assert "t3" not in tables(fresh_database)


def test_migrations_missing_from_the_code_are_listed_and_block_migrate(fresh_database):
    runner.migrate(fresh_database, manifest=manifest(*numbered(3)))
    older_code = manifest(*numbered(2))

    listed = runner.list_migrations(fresh_database, manifest=older_code)
    assert listed["migrations"][-1]["id"] == "0003"
    assert listed["migrations"][-1]["state"] == "missing_from_code"
    assert listed["counts"]["missing_from_code"] == 1
    with pytest.raises(UnknownAppliedMigrations, match="0003"):
        runner.migrate(fresh_database, manifest=older_code)


def test_lock_timeout_applies_to_migrations(fresh_database):
    runner.migrate(fresh_database, manifest=manifest(*numbered(1)))
    alter = Migration(
        "0002", "alter_t1", "ALTER TABLE t1 ADD COLUMN extra int;", "ALTER TABLE t1 DROP COLUMN extra;"
    )
    holding = threading.Event()
    release = threading.Event()

    def hold_table_lock():
        with psycopg.connect(fresh_database) as conn:
            conn.execute("LOCK TABLE t1 IN ACCESS SHARE MODE")
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_table_lock)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(MigrationFailed, match="lock timeout"):
            runner.migrate(
                fresh_database,
                manifest=manifest(*numbered(1), alter),
                settings=Settings(lock_timeout="200ms"),
            )
    finally:
        release.set()
        holder.join()
    assert history_ids(fresh_database) == ["0001"]


def test_statement_timeout_applies_to_migrations(fresh_database):
    slow = Migration("0001", "slow", "SELECT pg_sleep(5);", "SELECT 1;")
    with pytest.raises(MigrationFailed, match="statement timeout"):
        runner.migrate(fresh_database, manifest=manifest(slow), settings=Settings(statement_timeout="200ms"))
    assert history_ids(fresh_database) == []


def test_project_sequence_expands_then_contracts_and_rolls_all_the_way_back(fresh_database):
    # GIVEN the expand part with some pre-existing users (more than one backfill batch)
    runner.migrate(fresh_database, target="0004")
    with psycopg.connect(fresh_database) as conn:
        conn.execute(
            "INSERT INTO users (username, full_name) "
            "SELECT 'u' || n, CASE WHEN n % 2 = 0 THEN 'Name ' || n END FROM generate_series(1, 2500) n"
        )
    # WHEN the rest of the expand steps run (backfill in batches, index CONCURRENTLY)
    applied = runner.migrate(fresh_database, target="0006")["applied"]
    assert [a["id"] for a in applied] == ["0005", "0006"]
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE display_name IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT display_name FROM users WHERE username = 'u2'").fetchone()[0] == "Name 2"
        assert conn.execute("SELECT display_name FROM users WHERE username = 'u1'").fetchone()[0] == "u1"
        valid = conn.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'posts_author_created_idx'"
        ).fetchone()
        assert valid == (True,)
        # the old release keeps inserting rows without display_name; the contract step fills them
        conn.execute("INSERT INTO users (username, full_name) VALUES ('late', 'Late Comer')")
    runner.migrate(fresh_database, allow_contract=True)
    with psycopg.connect(fresh_database) as conn:
        assert (
            conn.execute("SELECT display_name FROM users WHERE username = 'late'").fetchone()[0]
            == "Late Comer"
        )
    assert history_ids(fresh_database) == [m.id for m in project.MIGRATIONS]

    rolled = runner.rollback(fresh_database, target="0001")["rolled_back"]
    assert [r["id"] for r in rolled] == ["0007", "0006", "0005", "0004", "0003", "0002"]
    assert tables(fresh_database) == {"users"}
