"""Retry on lock_timeout, on a real PostgreSQL: another session holds a conflicting lock for a while.

A short lock_timeout keeps a DDL statement from queueing (and blocking every query behind it) for long; the
runner then tries the migration again after a pause that doubles each time."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from migrator import runner
from migrator.errors import MigrationFailed
from migrator.runner.manifest import Migration
from migrator.settings import Settings

from tests.integration.migrator_support import columns, history_ids, manifest


class LockHolder:
    """Another session that holds ACCESS SHARE on ``table`` (what a long SELECT holds) for ``seconds``."""

    def __init__(self, url: str, table: str, seconds: float) -> None:
        self._locked = threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(url, table, seconds), daemon=True)

    def _hold(self, url: str, table: str, seconds: float) -> None:
        with psycopg.connect(url) as conn:
            conn.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
            self._locked.set()
            time.sleep(seconds)
            conn.rollback()

    def __enter__(self) -> LockHolder:
        self._thread.start()
        assert self._locked.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(30)


@pytest.fixture
def table_in_use(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id bigint PRIMARY KEY)")
    return fresh_database


ADD_COLUMN = "ALTER TABLE accounts ADD COLUMN nickname text;"


@pytest.mark.parametrize("transactional", [True, False])
def test_the_migration_succeeds_on_a_later_attempt(table_in_use, capsys, transactional):
    # GIVEN a 200 ms lock_timeout, retries 0.3 s, 0.6 s, 1.2 s, ... apart, and a lock held for 1.5 s
    migration = Migration("0001", "add_nickname", ADD_COLUMN, None, transactional=transactional)
    settings = Settings(lock_timeout="200ms", lock_retries=6, lock_retry_delay_seconds=0.3)

    # WHEN the migration runs while another session holds the table
    with LockHolder(table_in_use, "accounts", 1.5):
        result = runner.migrate(table_in_use, manifest=manifest(migration), settings=settings)

    # THEN it applied on a later attempt, said so in the result, and logged each retry
    [applied] = result["applied"]
    assert applied["id"] == "0001" and applied["attempts"] > 1
    assert "nickname" in columns(table_in_use, "accounts") and history_ids(table_in_use) == ["0001"]
    retries = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if '"lock timeout: trying again"' in line
    ]
    assert [r["attempt"] for r in retries] == list(range(1, applied["attempts"]))
    assert all(r["migration"] == "0001" and "lock timeout" in r["reason"] for r in retries)
    assert [r["retry_in_seconds"] for r in retries][:2] == [0.3, 0.6]


def test_a_lock_held_past_every_retry_fails_cleanly_with_nothing_recorded(table_in_use):
    # GIVEN 3 attempts over well under a second, and a lock held for 3 s
    first = Migration("0001", "create_other", "CREATE TABLE other (id int);", "DROP TABLE other;")
    blocked = Migration("0002", "add_nickname", ADD_COLUMN, None)
    settings = Settings(lock_timeout="100ms", lock_retries=2, lock_retry_delay_seconds=0.1)

    with LockHolder(table_in_use, "accounts", 3), pytest.raises(MigrationFailed) as caught:
        runner.migrate(table_in_use, manifest=manifest(first, blocked), settings=settings)

    # THEN it failed on lock_timeout after 3 attempts; 0002 changed nothing and is not recorded
    error = caught.value
    assert "lock timeout" in error.message and "3 attempt(s)" in error.message
    assert error.details["attempts"] == 3 and error.details["failed"] == "0002"
    assert [a["id"] for a in error.details["applied"]] == ["0001"]
    assert "nickname" not in columns(table_in_use, "accounts")
    assert history_ids(table_in_use) == ["0001"]


def test_retries_are_off_with_zero(table_in_use):
    migration = Migration("0001", "add_nickname", ADD_COLUMN, None)
    settings = Settings(lock_timeout="100ms", lock_retries=0)

    with LockHolder(table_in_use, "accounts", 1), pytest.raises(MigrationFailed) as caught:
        runner.migrate(table_in_use, manifest=manifest(migration), settings=settings)

    assert caught.value.details["attempts"] == 1 and history_ids(table_in_use) == []


def test_rollback_retries_too(table_in_use):
    migration = Migration("0001", "add_nickname", ADD_COLUMN, "ALTER TABLE accounts DROP COLUMN nickname;")
    runner.migrate(table_in_use, manifest=manifest(migration))
    settings = Settings(lock_timeout="200ms", lock_retries=6, lock_retry_delay_seconds=0.3)

    with LockHolder(table_in_use, "accounts", 1.2):
        result = runner.rollback(table_in_use, steps=1, manifest=manifest(migration), settings=settings)

    assert result["rolled_back"][0]["attempts"] > 1
    assert "nickname" not in columns(table_in_use, "accounts") and history_ids(table_in_use) == []
