"""What a run reports: PostgreSQL's NOTICEs and WARNINGs per migration (result and logs), and failure
messages that stay short however many migrations ran before."""

from __future__ import annotations

import json

import pytest
from migrator import runner
from migrator.errors import MigrationFailed
from migrator.handler import handle
from migrator.runner.manifest import Migration

from tests.integration.migrator_support import history_ids, manifest, numbered

LONG_NAME = "a_table_name_that_is_much_longer_than_the_sixty_three_characters_postgres_keeps"


def test_notices_and_warnings_are_in_the_result_per_migration_and_in_the_logs(fresh_database, capsys):
    migrations = manifest(
        Migration("0001", "long_name", f"CREATE TABLE {LONG_NAME} (id int);", None),
        Migration("0002", "quiet", "CREATE TABLE quiet (id int);", None),
        Migration(
            "0003",
            "warns",
            "DO $$ BEGIN RAISE WARNING 'check the backfill of %', 'quiet'; END $$;",
            None,
            transactional=False,
        ),
    )

    result = runner.migrate(fresh_database, manifest=migrations)

    by_id = {a["id"]: a for a in result["applied"]}
    [truncated] = by_id["0001"]["notices"]
    assert truncated["severity"] == "NOTICE" and "will be truncated to" in truncated["message"]
    assert by_id["0002"]["notices"] == []
    assert by_id["0003"]["notices"] == [{"severity": "WARNING", "message": "check the backfill of quiet"}]
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "postgres notice" in line]
    assert [(entry["migration"], entry["severity"], entry["level"]) for entry in logged] == [
        ("0001", "NOTICE", "INFO"),
        ("0003", "WARNING", "WARNING"),
    ]


def test_a_failing_migrations_notices_are_in_the_error(fresh_database):
    failing = Migration(
        "0001", "fails", "DO $$ BEGIN RAISE NOTICE 'about to fail'; END $$; SELECT 1/0;", None
    )
    with pytest.raises(MigrationFailed) as caught:
        runner.migrate(fresh_database, manifest=manifest(failing))
    assert caught.value.details["notices"] == [{"severity": "NOTICE", "message": "about to fail"}]


def test_a_failure_late_in_a_long_run_has_a_short_message(fresh_database, monkeypatch):
    # GIVEN 345 good migrations and a failing 346th (the run that produced a message of thousands of chars)
    failing = Migration("0346", "broken", "CREATE TABLE broken (id int REFERENCES nowhere (id));", None)
    migrations = manifest(*numbered(345), failing)
    monkeypatch.setenv("DATABASE_URL", fresh_database)

    result = handle({"action": "migrate"}, manifest=migrations)

    # THEN the message names the failure and the count; the applied ids are in "applied", not the message
    message = result["error"]["message"]
    assert result["ok"] is False and result["error"]["type"] == "MigrationFailed"
    assert len(message) < 400, len(message)
    assert "0346_broken" in message and "345 migration(s) applied earlier" in message
    assert "0001" not in message
    assert len(result["applied"]) == 345 and result["failed"] == "0346"
    assert len(history_ids(fresh_database)) == 345
