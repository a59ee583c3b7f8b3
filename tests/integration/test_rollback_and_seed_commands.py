"""rollback and seed on a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from migrator import runner
from migrator.errors import (
    ChecksumMismatch,
    IrreversibleMigration,
    ProductionSeedRefused,
    SchemaNotReady,
    UnknownTarget,
)
from migrator.runner.manifest import Migration
from migrator.settings import Settings

from tests.integration.migrator_support import history_ids, manifest, numbered, tables


def test_rollback_steps_undoes_the_newest_first(fresh_database):
    migrations = manifest(*numbered(4))
    runner.migrate(fresh_database, manifest=migrations)

    result = runner.rollback(fresh_database, steps=2, manifest=migrations)

    assert [r["id"] for r in result["rolled_back"]] == ["0004", "0003"]
    assert history_ids(fresh_database) == ["0001", "0002"]
    assert tables(fresh_database) == {"t1", "t2"}
    # and forward again
    assert [a["id"] for a in runner.migrate(fresh_database, manifest=migrations)["applied"]] == [
        "0003",
        "0004",
    ]


def test_rollback_target_undoes_everything_after_it(fresh_database):
    migrations = manifest(*numbered(4))
    runner.migrate(fresh_database, manifest=migrations)

    result = runner.rollback(fresh_database, target="0001", manifest=migrations)

    assert [r["id"] for r in result["rolled_back"]] == ["0004", "0003", "0002"]
    assert history_ids(fresh_database) == ["0001"]
    # rolling back to the newest applied migration is a no-op
    assert runner.rollback(fresh_database, target="0001", manifest=migrations)["rolled_back"] == []


def test_rollback_dry_run_shows_reverse_sql_and_changes_nothing(fresh_database):
    migrations = manifest(*numbered(3))
    runner.migrate(fresh_database, manifest=migrations)

    result = runner.rollback(fresh_database, steps=2, dry_run=True, manifest=migrations)

    assert [w["id"] for w in result["would_roll_back"]] == ["0003", "0002"]
    assert result["would_roll_back"][0]["sql"] == "DROP TABLE t3;"
    assert history_ids(fresh_database) == ["0001", "0002", "0003"]


def test_irreversible_migration_stops_the_rollback_before_anything_is_undone(fresh_database):
    one_way = Migration("0002", "one_way", "CREATE TABLE kept (id int);", None)
    migrations = manifest(*numbered(1), one_way, *numbered(2, start=3))
    runner.migrate(fresh_database, manifest=migrations)

    with pytest.raises(IrreversibleMigration) as refused:
        runner.rollback(fresh_database, steps=3, manifest=migrations)

    assert "0002_one_way" in str(refused.value) and "nothing was rolled back" in str(refused.value)
    assert history_ids(fresh_database) == ["0001", "0002", "0003", "0004"]
    assert tables(fresh_database) == {"t1", "kept", "t3", "t4"}
    # fewer steps, stopping after it, still work
    assert len(runner.rollback(fresh_database, steps=2, manifest=migrations)["rolled_back"]) == 2


def test_rollback_refuses_more_steps_than_applied_and_unapplied_targets(fresh_database):
    migrations = manifest(*numbered(3))
    runner.migrate(fresh_database, target="0002", manifest=migrations)

    with pytest.raises(UnknownTarget, match="only 2 applied"):
        runner.rollback(fresh_database, steps=3, manifest=migrations)
    with pytest.raises(UnknownTarget, match="is not applied"):
        runner.rollback(fresh_database, target="0003", manifest=migrations)
    with pytest.raises(UnknownTarget, match="not a migration"):
        runner.rollback(fresh_database, target="0042", manifest=migrations)
    assert history_ids(fresh_database) == ["0001", "0002"]


def test_rollback_refuses_a_migration_whose_content_changed(fresh_database):
    runner.migrate(fresh_database, manifest=manifest(*numbered(2)))
    edited = Migration("0002", "create_t2", "CREATE TABLE t2 (id int);", "DROP TABLE t2 CASCADE;")

    with pytest.raises(ChecksumMismatch):
        runner.rollback(fresh_database, steps=1, manifest=manifest(*numbered(1), edited))
    assert history_ids(fresh_database) == ["0001", "0002"]


def test_failed_reverse_keeps_the_migration_applied(fresh_database):
    bad_reverse = Migration("0002", "bad_reverse", "CREATE TABLE x (id int);", "DROP TABLE not_there;")
    migrations = manifest(*numbered(1), bad_reverse)
    runner.migrate(fresh_database, manifest=migrations)

    with pytest.raises(Exception, match="not_there") as failed:
        runner.rollback(fresh_database, steps=2, manifest=migrations)
    assert type(failed.value).__name__ == "MigrationFailed"
    assert history_ids(fresh_database) == ["0001", "0002"]


def _user_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT username, display_name FROM users ORDER BY username").fetchall()


def test_seed_is_idempotent(fresh_database):
    runner.migrate(fresh_database, target="0006")

    first = runner.seed(fresh_database)
    users_after_first = _user_rows(fresh_database)
    second = runner.seed(fresh_database)

    assert sum(s["rows_changed"] for s in first["seeded"]) > 0
    assert all(s["rows_changed"] == 0 for s in second["seeded"])
    assert _user_rows(fresh_database) == users_after_first
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM follows").fetchone()[0] == 3


def test_seed_works_after_the_contract_step_too(fresh_database):
    runner.migrate(fresh_database, allow_contract=True)
    runner.seed(fresh_database)
    assert ("alice", "Alice Liddell") in _user_rows(fresh_database)


def test_seed_needs_the_expand_migrations_first(fresh_database):
    runner.migrate(fresh_database, target="0002")
    with pytest.raises(SchemaNotReady, match="run migrate first"):
        runner.seed(fresh_database)


@pytest.mark.parametrize("environment", ["production", "prod", "Production"])
def test_seed_is_refused_in_production_unless_allowed(fresh_database, environment):
    runner.migrate(fresh_database, target="0006")
    settings = Settings(environment=environment)

    with pytest.raises(ProductionSeedRefused, match="allow_production_seed"):
        runner.seed(fresh_database, settings=settings)
    assert _user_rows(fresh_database) == []

    result = runner.seed(fresh_database, settings=settings, allow_production_seed=True)
    assert result["environment"] == environment and _user_rows(fresh_database)
