"""Adopting the runner: ``baseline`` for a database whose schema already exists, and the upgrade of a
history table written by the first release (schema 1, checksums of the text as written, so a CRLF
checkout once made a third of the history look changed)."""

from __future__ import annotations

import hashlib

import psycopg
import pytest
from migrator import runner
from migrator.errors import BaselineRefused, ChecksumMismatch, InvalidEvent, UnknownTarget
from migrator.events import BaselineRequest, parse_event
from migrator.handler import handle
from migrator.runner.manifest import Migration

from tests.conftest import load_event
from tests.integration.migrator_support import columns, history, history_ids, manifest, numbered, tables

# ------------------------------------------------------------------------------------------- baseline


def existing_schema(url: str, count: int) -> None:
    """What a team's live database looks like: the tables exist, the runner has never run."""
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in numbered(count):
            conn.execute(migration.forward)


def test_baseline_records_up_to_the_target_without_running_and_migrate_starts_after_it(fresh_database):
    # GIVEN a database that already has t1 and t2, and code with three migrations
    existing_schema(fresh_database, 2)
    migrations = manifest(*numbered(3))

    # WHEN it is baselined at 0002
    result = runner.baseline(fresh_database, target="0002", manifest=migrations)

    # THEN 0001 and 0002 are recorded (as baselined, in list) without running: running them would fail
    assert result == {
        "dry_run": False,
        "baselined": [{"id": "0001", "name": "create_t1"}, {"id": "0002", "name": "create_t2"}],
    }
    listed = runner.list_migrations(fresh_database, manifest=migrations)
    assert [e["state"] for e in listed["migrations"]] == ["baselined", "baselined", "pending"]
    assert listed["counts"]["baselined"] == 2 and listed["counts"]["applied"] == 0
    assert [row[3] for row in history(fresh_database)] == [0, 0]  # duration: nothing ran

    # AND migrate applies only what comes after the target
    applied = runner.migrate(fresh_database, manifest=migrations)
    assert [a["id"] for a in applied["applied"]] == ["0003"]
    assert tables(fresh_database) == {"t1", "t2", "t3"}


def test_baseline_dry_run_shows_what_it_would_record_and_writes_nothing(fresh_database):
    existing_schema(fresh_database, 2)

    result = runner.baseline(fresh_database, target="0002", dry_run=True, manifest=manifest(*numbered(3)))

    assert result["dry_run"] is True and result["baselined"] == []
    assert [m["id"] for m in result["would_baseline"]] == ["0001", "0002"]
    assert history(fresh_database) == []  # not even the history table


def test_baseline_is_refused_when_the_history_holds_rows_past_the_target(fresh_database):
    migrations = manifest(*numbered(3))
    runner.migrate(fresh_database, manifest=migrations)
    before = history(fresh_database)

    with pytest.raises(BaselineRefused) as caught:
        runner.baseline(fresh_database, target="0001", manifest=migrations)

    assert "after 0001_create_t1: 0002, 0003" in caught.value.message
    assert caught.value.details["recorded_after_target"] == ["0002", "0003"]
    assert history(fresh_database) == before


def test_baseline_leaves_rows_already_recorded_and_records_the_rest(fresh_database):
    migrations = manifest(*numbered(3))
    runner.migrate(fresh_database, target="0001", manifest=migrations)
    existing_schema_from = numbered(3)[1:]
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for migration in existing_schema_from:
            conn.execute(migration.forward)

    result = runner.baseline(fresh_database, target="0003", manifest=migrations)

    assert [m["id"] for m in result["baselined"]] == ["0002", "0003"]
    states = [e["state"] for e in runner.list_migrations(fresh_database, manifest=migrations)["migrations"]]
    assert states == ["applied", "baselined", "baselined"]


def test_baseline_refuses_an_unknown_target_and_a_changed_history(fresh_database):
    migrations = manifest(*numbered(2))
    with pytest.raises(UnknownTarget, match='"0404" is not a migration'):
        runner.baseline(fresh_database, target="0404", manifest=migrations)
    runner.migrate(fresh_database, target="0001", manifest=migrations)
    changed = manifest(Migration("0001", "create_t1", "CREATE TABLE t1 (id int);", None), numbered(2)[1])
    with pytest.raises(ChecksumMismatch):
        runner.baseline(fresh_database, target="0002", manifest=changed)
    assert history_ids(fresh_database) == ["0001"]


def test_a_baselined_migration_rolls_back_like_an_applied_one(fresh_database):
    existing_schema(fresh_database, 1)
    migrations = manifest(*numbered(1))
    runner.baseline(fresh_database, target="0001", manifest=migrations)

    result = runner.rollback(fresh_database, steps=1, manifest=migrations)

    assert [r["id"] for r in result["rolled_back"]] == ["0001"] and tables(fresh_database) == set()


def test_baseline_through_the_handler_and_its_event_validation(fresh_database, monkeypatch):
    existing_schema(fresh_database, 2)
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    migrations = manifest(*numbered(3))

    dry = handle(load_event("baseline_dry_run"), manifest=migrations)
    assert dry["ok"] and [m["id"] for m in dry["would_baseline"]] == ["0001", "0002"]
    done = handle(load_event("baseline"), manifest=migrations)
    assert done["ok"] and done["action"] == "baseline" and len(done["baselined"]) == 2

    refused = handle(load_event("invalid_baseline_no_target"), manifest=migrations)
    assert (
        refused["error"]["type"] == "InvalidEvent"
        and 'baseline needs "target"' in refused["error"]["message"]
    )
    assert parse_event(load_event("baseline")) == BaselineRequest(target="0002")
    with pytest.raises(InvalidEvent, match="does not take 'steps'"):
        parse_event({"action": "baseline", "target": "0002", "steps": 1})


# ---------------------------------------------------------------------------------- history upgrade

# The first release's history table and checksum, exactly as it wrote them.
SCHEMA_1 = """
CREATE TABLE public.release_kit_migrations (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    id          text PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms integer NOT NULL
)
"""


def v1_checksum(forward: str, reverse: str | None, transactional: bool = True) -> str:
    content = "\x00".join([forward, reverse if reverse is not None else "<irreversible>", str(transactional)])
    return hashlib.sha256(content.encode()).hexdigest()


def schema_1_history(url: str, rows: list[tuple[str, str, str]]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA_1)
        for migration_id, name, checksum in rows:
            conn.execute(
                "INSERT INTO release_kit_migrations (id, name, checksum, duration_ms) VALUES (%s, %s, %s, 1)",
                (migration_id, name, checksum),
            )


def version_rows(url: str) -> dict[str, tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT id, checksum, checksum_version FROM release_kit_migrations"
            ).fetchall()
        }


def test_a_schema_1_history_is_upgraded_in_place_and_its_rows_confirmed(fresh_database):
    # GIVEN a history written by the first release: 0001 from an LF checkout, 0002 from a CRLF checkout,
    # and 0003 whose content really changed since
    lf = [
        Migration("0001", "a", "CREATE TABLE a (id int);\n", "DROP TABLE a;\n"),
        Migration("0002", "b", "CREATE TABLE b (id int);\n", "DROP TABLE b;\n"),
        Migration("0003", "c", "CREATE TABLE c (id int);\n", "DROP TABLE c;\n"),
        Migration("0004", "d", "CREATE TABLE d (id int);\n", "DROP TABLE d;\n"),
    ]
    for migration in lf[:3]:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute(migration.forward)
    schema_1_history(
        fresh_database,
        [
            ("0001", "a", v1_checksum("CREATE TABLE a (id int);\n", "DROP TABLE a;\n")),
            ("0002", "b", v1_checksum("CREATE TABLE b (id int);\r\n", "DROP TABLE b;\r\n")),
            ("0003", "c", v1_checksum("CREATE TABLE c (id bigint);\n", "DROP TABLE c;\n")),
        ],
    )
    # ... and this checkout has CRLF line endings for 0001
    crlf_0001 = Migration("0001", "a", "CREATE TABLE a (id int);\r\n", "DROP TABLE a;\r\n")
    code = manifest(crlf_0001, *lf[1:])

    # WHEN list runs (it never writes): 0001 and 0002 are applied, only 0003 is changed
    listed = runner.list_migrations(fresh_database, manifest=code)
    assert [e["state"] for e in listed["migrations"]] == ["applied", "applied", "changed", "pending"]
    assert "checksum_version" not in columns(fresh_database, "release_kit_migrations")

    # AND migrate runs: it upgrades the table and the confirmed rows, then refuses on the real change
    with pytest.raises(ChecksumMismatch) as caught:
        runner.migrate(fresh_database, manifest=code)
    assert caught.value.details["changed"] == ["0003"]

    # THEN the table has schema 2; 0001 and 0002 hold the line-ending-free checksum, 0003 is untouched
    assert columns(fresh_database, "release_kit_migrations")[-2:] == ["checksum_version", "baselined"]
    rows = version_rows(fresh_database)
    assert rows["0001"] == (lf[0].checksum, 2) and rows["0002"] == (lf[1].checksum, 2)
    assert rows["0003"] == (v1_checksum("CREATE TABLE c (id bigint);\n", "DROP TABLE c;\n"), 1)

    # AND once 0003's original content is restored, migrate goes on, and new rows are version 2
    restored = manifest(
        *code.migrations[:2],
        Migration("0003", "c", "CREATE TABLE c (id bigint);\n", "DROP TABLE c;\n"),
        lf[3],
    )
    result = runner.migrate(fresh_database, manifest=restored)
    assert [a["id"] for a in result["applied"]] == ["0004"]
    assert version_rows(fresh_database)["0004"] == (lf[3].checksum, 2)
    assert version_rows(fresh_database)["0003"][1] == 2
    assert [e["state"] for e in runner.list_migrations(fresh_database, manifest=restored)["migrations"]] == [
        "applied"
    ] * 4


def test_a_crlf_checkout_of_what_an_lf_checkout_applied_is_applied_not_changed(fresh_database):
    text = "CREATE TABLE a (\n    id int\n);\nCREATE INDEX a_id ON a (id);\n"
    lf = manifest(Migration("0001", "a", text, "DROP TABLE a;\n"))
    crlf = manifest(Migration("0001", "a", text.replace("\n", "\r\n"), "DROP TABLE a;\r\n"))
    runner.migrate(fresh_database, manifest=lf)

    for code in (crlf, lf):
        listed = runner.list_migrations(fresh_database, manifest=code)
        assert [e["state"] for e in listed["migrations"]] == ["applied"]
        assert runner.migrate(fresh_database, manifest=code)["applied"] == []  # no drift refusal


def test_a_row_an_older_runner_inserts_after_the_upgrade_counts_as_version_1(fresh_database):
    # GIVEN an upgraded table, and a row inserted the way the first release inserts (no checksum_version)
    code = manifest(*numbered(2))
    runner.migrate(fresh_database, target="0001", manifest=code)
    old_style = v1_checksum(numbered(2)[1].forward, numbered(2)[1].reverse)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(numbered(2)[1].forward)
        conn.execute(
            "INSERT INTO release_kit_migrations (id, name, checksum, duration_ms) "
            "VALUES ('0002', 'x', %s, 1)",
            (old_style,),
        )
    # THEN it is read as version 1 and confirmed like any other
    assert version_rows(fresh_database)["0002"] == (old_style, 1)
    assert runner.migrate(fresh_database, manifest=code)["applied"] == []
    assert version_rows(fresh_database)["0002"] == (code.migrations[1].checksum, 2)
