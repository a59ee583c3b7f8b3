"""make import-migrations, adoption round 2: what the old tool's configuration says (Flyway's default schema,
table and locations; a search_path in a DATABASE_URL), Flyway's sub-folders and checksums, empty downs, and
the kit's examples left ahead of an imported history. Every folder is written here from the tools' documented
formats."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from migrator.runner.manifest import sql_pair

from scripts.tooling import import_migrations
from scripts.tooling.import_migrations import ImportProblem, import_folder, load_listed, report
from scripts.tooling.migration_sources import flyway_checksum
from tests.oldtools import copy_repo_migrations, write


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return copy_repo_migrations(tmp_path / "repo")


def up_text(package: Path, stem: str) -> str:
    return (package / "sql" / f"{stem}.up.sql").read_text()


# ------------------------------------------------------------------------------------ Flyway's checksum


def test_flyway_checksum_is_crc32_of_the_lines_without_terminators_as_a_signed_int():
    # Flyway's ChecksumCalculator: CRC32 over each line's UTF-8 bytes as BufferedReader.readLine returns it
    text = "CREATE TABLE a (id int);\nCOMMENT ON TABLE a IS 'é';\n"
    expected = zlib.crc32("CREATE TABLE a (id int);COMMENT ON TABLE a IS 'é';".encode())
    expected = expected - (1 << 32) if expected >= 1 << 31 else expected
    assert flyway_checksum(text) == expected
    # line endings do not count, \r alone is a line end too, a final terminator adds no line
    for variant in (text.replace("\n", "\r\n"), text.replace("\n", "\r"), text.rstrip("\n")):
        assert flyway_checksum(variant) == expected
    # a BOM is dropped from the first line only
    assert flyway_checksum("\ufeff" + text) == expected
    assert flyway_checksum("a\n\ufeffb") != flyway_checksum("a\nb")
    # the value is Java's (int) cast: negative above 2^31 (this text's CRC32 is 0xE8B7BE43)
    assert zlib.crc32(b"a") == 0xE8B7BE43 and flyway_checksum("a\n") == 0xE8B7BE43 - (1 << 32)
    assert flyway_checksum("") == 0


def test_the_imported_flyway_file_carries_flywaysums_checksum_for_the_baseline(tmp_path, package):
    folder = write(tmp_path / "sql", {"V1__Init.sql": "CREATE TABLE a (id int);\r\n"})
    import_folder("flyway", folder, package)
    migration = sql_pair(package / "sql" / "1_Init")
    assert migration.flyway_checksum == flyway_checksum("CREATE TABLE a (id int);\n")
    assert migration.origin == ("flyway", "1")


# ------------------------------------------------------------------------------ Flyway's configuration


def flyway_project(root: Path, conf: str, conf_name: str = "flyway.conf") -> Path:
    write(
        root,
        {
            conf_name: conf,
            "sql/V1__Create_products.sql": "CREATE TABLE products (id int);\n",
            "sql/release_2021/V2__Create_stock.sql": "CREATE TABLE stock (id int);\n",
            "sql/release_2022/V3__Taxes.sql": "CREATE TABLE taxes (id int);\n",
            "sql/release_2022/U3__Taxes.sql": "DROP TABLE taxes;\n",
        },
    )
    return root


def test_flyway_default_schema_is_set_in_every_imported_file_and_the_table_is_named(tmp_path, package):
    root = flyway_project(
        tmp_path / "flyway",
        "flyway.url=jdbc:postgresql://db/app\nflyway.defaultSchema=billing\nflyway.schemas=billing\n"
        "flyway.table=schema_history\nflyway.locations=filesystem:sql\n",
    )

    # DIR is the project root that holds flyway.conf: its locations are read (finding 10)
    outcome = import_folder("flyway", root, package)

    assert [c.source.kit_id for c in outcome.imported] == ["1", "2", "3"]  # sub-folders too (finding 2)
    assert outcome.config.table == "billing.schema_history" and outcome.search_path == (["billing"], True)
    for stem in ("1_Create_products", "2_Create_stock", "3_Taxes"):
        text = up_text(package, stem)
        assert "SELECT pg_catalog.set_config('search_path', '\"billing\", ' || " in text
        assert ", true);" in text and text.rstrip().endswith("RESET search_path;")
    down = (package / "sql" / "3_Taxes.down.sql").read_text()
    assert "set_config('search_path', '\"billing\", '" in down and "DROP TABLE taxes;" in down
    assert "release_2022/V3__Taxes.sql" in up_text(package, "3_Taxes").splitlines()[0]
    text = report(outcome, package)
    assert "TABLE=billing.schema_history" in text and "search_path: billing (flyway.defaultSchema in" in text


def test_flyway_toml_schemas_and_the_conf_in_the_parent_of_dir(tmp_path, package):
    root = flyway_project(
        tmp_path / "flyway",
        '[environments.default]\nurl = "jdbc:postgresql://db/app"\nschemas = ["ledger", "audit"]\n\n'
        '[flyway]\ntable = "history"\n',
        "flyway.toml",
    )

    outcome = import_folder("flyway", root / "sql", package)  # DIR is the migrations folder

    assert outcome.search_path == (["ledger"], True) and outcome.config.table == "ledger.history"
    assert "'\"ledger\", '" in up_text(package, "2_Create_stock")


def test_a_non_transactional_file_sets_the_session_path_and_resets_it(tmp_path, package):
    folder = write(
        tmp_path / "f",
        {
            "flyway.conf": "flyway.defaultSchema=billing\n",
            "V1__Index.sql": "CREATE INDEX CONCURRENTLY products_idx ON products (id)",
        },
    )
    import_folder("flyway", folder, package)
    migration = sql_pair(package / "sql" / "1_Index")
    assert not migration.transactional
    statements = [s.strip() for s in migration.forward.split(";") if s.strip()]
    assert statements[0].endswith(", false)") and statements[-1] == "RESET search_path"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db:5432/app?sslmode=disable&search_path=billing", ["billing"]),
        ("postgres://u:p@db/app?options=-csearch_path%3Dledger,public", ["ledger", "public"]),
    ],
)
def test_a_search_path_in_dbmates_env_database_url_is_carried_over(tmp_path, package, url, expected):
    project = write(
        tmp_path / "service",
        {
            ".env": f'DATABASE_URL="{url}"\n',
            "db/migrations/20240101000000_create.sql": "-- migrate:up\nCREATE TABLE t (id int);\n"
            "-- migrate:down\nDROP TABLE t;\n",
        },
    )
    outcome = import_folder("dbmate", project / "db" / "migrations", package)
    assert outcome.search_path == (expected, False)
    assert outcome.config.table == f"{expected[0]}.schema_migrations"  # dbmate creates it in that schema
    quoted = ", ".join(f'"{s}"' for s in expected)
    assert f"SET LOCAL search_path TO {quoted};" in up_text(package, "20240101000000_create")


def test_search_path_variable_overrides_and_a_bad_name_is_refused(tmp_path, package):
    folder = write(tmp_path / "gm", {"1_a.up.sql": "CREATE TABLE a (id int);\n"})
    with pytest.raises(ImportProblem, match="SEARCH_PATH"):
        import_folder("golang-migrate", folder, package, search_path="bad-name")
    outcome = import_folder("golang-migrate", folder, package, search_path="app, public")
    assert outcome.search_path == (["app", "public"], False)
    assert 'SET LOCAL search_path TO "app", "public";' in up_text(package, "1_a")


def test_without_a_search_path_the_report_says_so(tmp_path, package):
    folder = write(tmp_path / "gm", {"1_a.up.sql": "CREATE TABLE a (id int);\n"})
    outcome = import_folder("golang-migrate", folder, package)
    assert outcome.search_path is None and "search_path" not in up_text(package, "1_a")
    assert "search_path: none found" in report(outcome, package)


def test_a_folder_without_the_tools_migrations_is_an_error_not_nothing_new(tmp_path, package):
    folder = write(tmp_path / "flyway", {"README.md": "see sql/\n"})
    with pytest.raises(ImportProblem, match="no flyway migrations in it"):
        import_folder("flyway", folder, package)


def test_a_flyway_file_in_a_subfolder_is_refused_by_its_path(tmp_path, package):
    folder = write(
        tmp_path / "sql",
        {"V1__a.sql": "SELECT 1;\n", "views/R__views.sql": "CREATE VIEW v AS SELECT 1;\n"},
    )
    with pytest.raises(import_migrations.ImportRefused) as refused:
        import_folder("flyway", folder, package)
    assert [r.file for r in refused.value.refusals] == ["views/R__views.sql"]


# ------------------------------------------------------------------------------------------ empty downs


def test_an_empty_down_and_a_goose_file_without_down_are_irreversible(tmp_path, package):
    golang = write(
        tmp_path / "gm",
        {"1_settings.up.sql": "CREATE TABLE settings (k text);\n", "1_settings.down.sql": "\n"},
    )
    outcome = import_folder("golang-migrate", golang, package)
    assert not sql_pair(package / "sql" / "1_settings").reversible
    assert any("down is empty: irreversible" in n for n in outcome.imported[0].notes)

    other = copy_repo_migrations(tmp_path / "goose-repo")
    goose = write(
        tmp_path / "goose", {"00001_plan.sql": "-- +goose Up\nALTER TABLE t ADD COLUMN plan text;\n"}
    )
    outcome = import_folder("goose", goose, other)
    assert not sql_pair(other / "sql" / "00001_plan").reversible
    assert any("+goose Down" in n for n in outcome.imported[0].notes)


# --------------------------------------------------------------------------------- the kit's examples


def test_the_kits_examples_left_ahead_of_the_history_are_named_with_the_step_to_remove_them(
    tmp_path, package
):
    folder = write(tmp_path / "gm", {"1_a.up.sql": "CREATE TABLE a (id int);\n"})
    outcome = import_folder("golang-migrate", folder, package)
    assert outcome.examples[0] == "0001_create_users" and len(outcome.examples) == 7
    text = report(outcome, package)
    assert "WARNING: the kit's example migrations are still listed" in text and "_ENTRIES" in text
    # once removed, nothing is said
    manifest = package / "manifest.py"
    head, _, tail = manifest.read_text().rpartition("    m0001_create_users,\n")  # its _ENTRIES line
    manifest.write_text(head + tail)
    assert "0001" not in [m["id"] for m in load_listed(package)["migrations"]]
    again = import_folder("golang-migrate", folder, package)
    assert "0001_create_users" not in again.examples


def test_dbmate_versions_of_different_lengths_keep_dbmates_file_name_order(tmp_path, package):
    up_down = "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n"
    folder = write(tmp_path / "db", {"1_a.sql": up_down, "2_b.sql": up_down, "10_alter_b.sql": up_down})
    outcome = import_folder("dbmate", folder, package)
    assert [c.source.kit_id for c in outcome.imported] == ["10", "1", "2"]  # as `dbmate status` lists them


def test_files_ported_by_hand_are_left_out_with_exclude(tmp_path, package):
    folder = write(
        tmp_path / "goose",
        {
            "00001_a.sql": "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
            "00002_seed.go": "package migrations\n",
            "views/R__views.sql": "CREATE VIEW v AS SELECT 1;\n",
        },
    )
    with pytest.raises(import_migrations.ImportRefused):
        import_folder("goose", folder, package)

    outcome = import_folder("goose", folder, package, exclude=["*.go"])

    assert [c.source.kit_id for c in outcome.imported] == ["00001"] and outcome.excluded == ["00002_seed.go"]
    assert "excluded (EXCLUDE=): 00002_seed.go" in report(outcome, package)


def test_a_search_path_from_a_url_or_the_variable_is_folded_as_postgresql_reads_it():
    from scripts.tooling import tool_config

    assert tool_config._url_search_path("postgres://h/db?search_path=Billing,%22Mixed%22") == [
        "billing",
        "Mixed",
    ]
    assert tool_config.parse_search_path("Billing, public") == ["billing", "public"]


def test_the_reset_after_a_body_ending_in_a_comment_is_a_statement_of_its_own():
    from scripts.tooling.migration_sources import _with_search_path

    text = _with_search_path("CREATE TABLE t (a int)\n-- done;", (["billing"], False), True)
    lines = text.splitlines()
    assert lines[-1] == "RESET search_path;" and lines[-2] == ";" and lines[-3] == "-- done;", text
