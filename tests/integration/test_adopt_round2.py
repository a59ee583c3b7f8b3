"""Adoption, round 2, against the real local PostgreSQL (a database owned by a non-superuser migrator, as on
RDS): a Flyway project with a default schema keeps running its pending migrations in that schema; a file
edited after Flyway ran it is refused at the baseline; golang-migrate's one-row state and the kit's own
migrations left ahead of the history are warned about. Every folder and state table is written here from the
tools' documented formats."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from migrator import runner
from migrator.errors import ForeignStateRefused
from migrator.runner.manifest import Manifest, Migration, sql_pair

from scripts.tooling.import_migrations import import_folder, load_listed
from scripts.tooling.migration_sources import flyway_checksum
from tests.oldtools import copy_repo_migrations, flyway_state, golang_migrate_state, rds_like_database, write

V1 = "CREATE TABLE products (id int PRIMARY KEY, price numeric(10,2));\n"
V2 = "CREATE TABLE taxes (id int PRIMARY KEY, product_id int REFERENCES products (id));\n"
V3 = "CREATE INDEX CONCURRENTLY taxes_product_idx ON taxes (product_id);\n"
V4 = "ALTER TABLE products ADD COLUMN name text;\n"


@pytest.fixture
def database(local_default):
    with rds_like_database(local_default) as url:
        yield url


def imported_manifest(package: Path) -> Manifest:
    """Only the imported migrations, as the team's manifest holds them once the examples are removed."""
    listed = load_listed(package)["migrations"]
    return Manifest(
        tuple(sql_pair(m["files"][0].removesuffix(".up.sql")) for m in listed if m["origin"] is not None)
    )


def where(url: str, *names: str) -> dict[str, str | None]:
    with psycopg.connect(url) as conn:
        return {n: conn.execute("SELECT to_regclass(%s)::text", (n,)).fetchone()[0] for n in names}


def flyway_project(root: Path) -> Path:
    return write(
        root,
        {
            "flyway.conf": "flyway.url=jdbc:postgresql://db/shop\nflyway.defaultSchema=billing\n"
            "flyway.schemas=billing\nflyway.table=schema_history\nflyway.locations=filesystem:sql\n",
            "sql/V1__Products.sql": V1,
            "sql/release_2/V2__Taxes.sql": V2,
            "sql/release_2/U2__Taxes.sql": "DROP TABLE taxes;\n",
            "sql/release_2/V3__Taxes_index.sql": V3,
            "sql/release_2/U3__Taxes_index.sql": "DROP INDEX CONCURRENTLY taxes_product_idx;\n",
            "sql/V4__Product_name.sql": V4,
            "sql/U4__Product_name.sql": "ALTER TABLE products DROP COLUMN name;\n",
        },
    )


def test_flyway_pending_migrations_run_in_its_default_schema_and_roll_back_there(database, tmp_path):
    # GIVEN a Flyway project (defaultSchema billing) whose database Flyway migrated up to V1
    root = flyway_project(tmp_path / "shop")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA billing")
        conn.execute(f"SET search_path TO billing; {V1}")
    flyway_state(
        database,
        [("1", "SQL", "V1__Products.sql", True)],
        checksums={"V1__Products.sql": flyway_checksum(V1)},
        table="billing.schema_history",
    )
    package = copy_repo_migrations(tmp_path / "repo")

    # WHEN the project root is imported (its flyway.conf is read), baselined and migrated
    outcome = import_folder("flyway", root, package)
    assert outcome.config.table == "billing.schema_history"
    manifest = imported_manifest(package)
    done = runner.baseline(database, from_tool="flyway", table=outcome.config.table, manifest=manifest)
    assert [m["id"] for m in done["baselined"]] == ["1"] and "warnings" not in done
    applied = runner.migrate(database, manifest=manifest)

    # THEN the pending ones ran in billing, as Flyway would have run them, the non-transactional one too
    assert [m["id"] for m in applied["applied"]] == ["2", "3", "4"]
    assert where(database, "billing.taxes", "public.taxes", "billing.taxes_product_idx") == {
        "billing.taxes": "billing.taxes",
        "public.taxes": None,
        "billing.taxes_product_idx": "billing.taxes_product_idx",
    }
    # AND the session's search path did not stay on billing for what ran after (V4 found billing.products)
    with psycopg.connect(database) as conn:
        assert conn.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'billing' AND column_name = 'name'"
        ).fetchone() == (1,)

    # AND the undo files run in billing too
    rolled = runner.rollback(database, steps=3, manifest=manifest)
    assert [m["id"] for m in rolled["rolled_back"]] == ["4", "3", "2"]
    assert where(database, "billing.taxes", "billing.products") == {
        "billing.taxes": None,
        "billing.products": "billing.products",
    }


def test_a_flyway_file_edited_after_it_ran_is_refused_at_the_baseline(database, tmp_path):
    # GIVEN Flyway ran V1 with numeric(10,2); the file now says numeric
    folder = write(tmp_path / "sql", {"V1__Products.sql": V1.replace("numeric(10,2)", "numeric")})
    flyway_state(
        database,
        [("1", "SQL", "V1__Products.sql", True)],
        checksums={"V1__Products.sql": flyway_checksum(V1)},
    )
    package = copy_repo_migrations(tmp_path / "repo")
    import_folder("flyway", folder, package)

    # WHEN baselined: refused, naming the version and why, nothing recorded
    with pytest.raises(ForeignStateRefused) as refused:
        runner.baseline(database, from_tool="flyway", manifest=imported_manifest(package))
    message = str(refused.value)
    assert "version 1 (1_Products)" in message and "changed after Flyway ran it" in message
    assert refused.value.details["checksum_mismatch"] == ["1"]
    assert runner.list_migrations(database, manifest=imported_manifest(package))["counts"]["baselined"] == 0

    # AND the file as it ran is baselined
    (folder / "V1__Products.sql").write_text(V1)
    import_folder("flyway", folder, package, rewrite=True)
    done = runner.baseline(database, from_tool="flyway", manifest=imported_manifest(package))
    assert [m["id"] for m in done["baselined"]] == ["1"]


def test_golang_migrates_one_row_and_the_kits_own_migrations_ahead_are_warned_about(database):
    native = Migration("0001", "create_users", "CREATE TABLE users (id int);", "DROP TABLE users;")
    migrations = Manifest(
        (
            native,
            *(
                Migration(v, f"m{v}", "SELECT 1;", None, origin=("golang-migrate", v))
                for v in ("20240101000000", "20240102000000", "20240103000000")
            ),
        )
    )
    golang_migrate_state(database, 20240103000000)

    done = runner.baseline(database, from_tool="golang-migrate", manifest=migrations)

    assert len(done["baselined"]) == 3
    first, second = done["warnings"]
    assert "records only its last version (20240103000000)" in first and "20240102000000" in first
    assert "0001_create_users" in second and "_ENTRIES" in second
