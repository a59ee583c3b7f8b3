"""make import-migrations: each tool's folder (built here from its documented formats) becomes SQL files in
the kit's form and manifest entries; the import is idempotent, incremental and all or nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from migrator.runner.manifest import sql_pair

from scripts.tooling import import_migrations
from scripts.tooling.import_migrations import ImportProblem, import_folder, load_listed
from scripts.tooling.migration_sources import ImportRefused
from tests.oldtools import FOLDERS, REPO, copy_repo_migrations, write

RUFF = Path(sys.executable).parent / "ruff"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return copy_repo_migrations(tmp_path / "repo")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def imported(package: Path, stem: str):
    return sql_pair(package / "sql" / stem)


def assert_ruff_clean(path: Path) -> None:
    config = ["--config", str(REPO / "pyproject.toml")]
    for command in (["format", "--check", *config, str(path)], ["check", *config, str(path)]):
        proc = subprocess.run([str(RUFF), *command], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


EXPECTED = {
    "golang-migrate": ["1", "2", "3", "4", "5", "6"],
    "dbmate": ["20200101000000", "20200102000000", "20200103000000"],
    "flyway": ["1", "1.1", "2", "3"],
    "goose": ["00001", "00002", "00003", "00004"],
}


@pytest.mark.parametrize("tool", list(FOLDERS))
def test_each_tool_becomes_kit_files_and_manifest_entries(tool, tmp_path, package):
    folder = FOLDERS[tool](tmp_path / tool)

    outcome = import_folder(tool, folder, package)

    listed = load_listed(package)
    assert "error" not in listed, listed
    tail = listed["migrations"][-len(EXPECTED[tool]) :]
    assert [m["id"] for m in tail] == EXPECTED[tool] == [c.source.kit_id for c in outcome.imported]
    assert [m["origin"][0] for m in tail] == [tool] * len(tail)
    assert listed["cutoff"] == EXPECTED[tool][-1]
    # The example migrations before them are untouched, and the manifest stays ruff-clean
    assert [m["id"] for m in listed["migrations"][:7]] == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
    ]
    assert_ruff_clean(package / "manifest.py")


def test_golang_migrate_conversions(tmp_path, package):
    import_folder("golang-migrate", FOLDERS["golang-migrate"](tmp_path / "gm"), package)

    by_id = {m.id: m for m in (imported(package, s) for s in [
        "1_create_users", "2_backfill_email", "3_index_email", "4_create_orders", "5_batches", "6_touch",
    ])}  # fmt: skip
    # A comment-only down is someone's decision that nothing needs undoing: a no-op reverse. An empty one is
    # what `migrate create` leaves: irreversible, so a rollback never reports undoing what it did not.
    assert by_id["2"].reverse_noop and not by_id["1"].reverse_noop
    assert not by_id["6"].reversible and not (package / "sql" / "6_touch.down.sql").exists()
    # CONCURRENTLY alone in its file: golang-migrate ran it outside a transaction; so does the kit
    assert not by_id["3"].transactional
    # A whole-file BEGIN/COMMIT is unwrapped: the kit's transaction holds it with its history row
    assert (
        by_id["4"].transactional and "BEGIN" not in by_id["4"].forward and "COMMIT" not in by_id["4"].forward
    )
    assert "CREATE INDEX orders_user_idx" in by_id["4"].forward
    # Two transactions of its own: run as written
    assert not by_id["5"].transactional and by_id["5"].forward.count("COMMIT;") == 2
    # A function body's BEGIN is not transaction control
    assert by_id["6"].transactional and "NEW.updated_at := now();" in by_id["6"].forward
    header = (package / "sql" / "3_index_email.up.sql").read_text().splitlines()[:3]
    assert header == [
        "-- Imported from golang-migrate: 3_index_email.up.sql, 3_index_email.down.sql "
        "(make import-migrations).",
        "-- migrator: origin golang-migrate 3",
        "-- migrator: no-transaction",
    ]


def test_dbmate_flyway_and_goose_markers_become_the_kits_directive(tmp_path, package):
    import_folder("dbmate", FOLDERS["dbmate"](tmp_path / "dbmate"), package)
    index = imported(package, "20200102000000_index_email")
    backfill = imported(package, "20200103000000_backfill")
    assert not index.transactional and index.reverse.strip().endswith(
        "DROP INDEX CONCURRENTLY users_email_idx;"
    )
    assert (
        backfill.transactional and not backfill.reversible and backfill.forward.strip().startswith("UPDATE")
    )

    other = copy_repo_migrations(tmp_path / "flyway-repo")
    import_folder("flyway", FOLDERS["flyway"](tmp_path / "flyway"), other)
    assert not imported(other, "2_Index_email").transactional  # executeInTransaction=false
    assert imported(other, "1.1_Add_name").reverse == "ALTER TABLE users DROP COLUMN name;\n"
    assert not imported(other, "3_Backfill").reversible  # no U file

    goose = copy_repo_migrations(tmp_path / "goose-repo")
    import_folder("goose", FOLDERS["goose"](tmp_path / "goose"), goose)
    touch = imported(goose, "00002_touch")
    assert "+goose" not in touch.forward and touch.forward.startswith("CREATE FUNCTION touch_users()")
    assert not imported(goose, "00003_index_email").transactional  # NO TRANSACTION
    assert not imported(goose, "00004_backfill").reversible  # an empty Down section


def test_importing_again_changes_nothing(tmp_path, package):
    folder = FOLDERS["golang-migrate"](tmp_path / "gm")
    import_folder("golang-migrate", folder, package)
    before = snapshot(package)

    again = import_folder("golang-migrate", folder, package)

    assert again.imported == [] and again.already_listed == 6
    assert snapshot(package) == before


def test_a_newer_folder_adds_the_new_migrations_and_an_edited_listed_one_is_refused_unless_rewritten(
    tmp_path, package
):
    folder = FOLDERS["golang-migrate"](tmp_path / "gm")
    import_folder("golang-migrate", folder, package)
    listed_before = (package / "sql" / "1_create_users.up.sql").read_bytes()
    # The team kept working in golang-migrate: a new migration, and an edit of a listed one
    write(folder, {"7_add_phone.up.sql": "ALTER TABLE users ADD COLUMN phone text;\n",
                   "7_add_phone.down.sql": "ALTER TABLE users DROP COLUMN phone;\n"})  # fmt: skip
    (folder / "1_create_users.up.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY);\n")
    before = snapshot(package)

    # WHEN imported as before: refused (exit 1), naming the file and both ways out, nothing written
    with pytest.raises(ImportRefused) as refused:
        import_folder("golang-migrate", folder, package)
    assert [r.file for r in refused.value.refusals] == ["1_create_users.up.sql"]
    assert (
        "REWRITE=1" in refused.value.refusals[0].reason
        and "new migration" in refused.value.refusals[0].reason
    )
    assert snapshot(package) == before

    # WHEN the team says the kit has not run it anywhere: the kit's copy follows the folder
    outcome = import_folder("golang-migrate", folder, package, rewrite=True)

    assert [c.source.kit_id for c in outcome.imported] == ["7"] and outcome.already_listed == 6
    assert [c.source.stem for c in outcome.rewritten] == ["1_create_users"]
    after = (package / "sql" / "1_create_users.up.sql").read_bytes()
    assert after != listed_before and b"CREATE TABLE users (id bigint PRIMARY KEY);" in after
    listed = load_listed(package)
    assert [m["id"] for m in listed["migrations"][-2:]] == ["6", "7"] and listed["cutoff"] == "7"
    assert (package / "manifest.py").read_text().count(
        "Imported from golang-migrate by make import-migrations"
    ) == 2
    assert import_folder("golang-migrate", folder, package).changed_upstream == []


def test_crlf_files_are_not_reported_as_changed_on_the_next_import(tmp_path, package):
    folder = write(
        tmp_path / "gm",
        {
            "1_a.up.sql": b"CREATE TABLE a (id int);\r\nCOMMENT ON TABLE a IS 'x';\r\n",
            "1_a.down.sql": b"DROP TABLE a;\r\n",
        },
    )
    import_folder("golang-migrate", folder, package)

    again = import_folder("golang-migrate", folder, package)

    assert again.changed_upstream == [] and again.already_listed == 1


@pytest.mark.parametrize(
    ("tool", "extra", "file", "reason"),
    [
        ("flyway", {"R__views.sql": "CREATE VIEW v AS SELECT 1;\n"}, "R__views.sql", "repeatable migration"),
        ("flyway", {"V4__Migrate_data.java": "class V4 {}\n"}, "V4__Migrate_data.java", "a Java migration"),
        (
            "flyway",
            {"V5__Grant.sql": "GRANT SELECT ON users TO ${reader};\n"},
            "V5__Grant.sql",
            "placeholder",
        ),
        ("flyway", {"afterMigrate.sql": "ANALYZE;\n"}, "afterMigrate.sql", "a Flyway callback"),
        ("goose", {"00005_backfill.go": "package migrations\n"}, "00005_backfill.go", "a Go migration"),
        (
            "goose",
            {"00005_env.sql": "-- +goose ENVSUB ON\n-- +goose Up\nSELECT '${X}';\n"},
            "00005_env.sql",
            "ENVSUB",
        ),
        (
            "dbmate",
            {"20200104000000_x.sql": "-- migrate:up\nSELECT 1;\n"},
            "20200104000000_x.sql",
            "migrate:down",
        ),
        ("golang-migrate", {"7_orphan.down.sql": "SELECT 1;\n"}, "7_orphan.down.sql", "without its up file"),
        ("golang-migrate", {"7_bad.up.sql": "CREAT TABLE x ();\n"}, "7_bad.up.sql", "pglast"),
        ("golang-migrate", {"8_latin1.up.sql": b"SELECT '\xe9';\n"}, "8_latin1.up.sql", "not utf-8 text"),
    ],
)
def test_a_file_that_cannot_be_converted_is_named_and_nothing_is_written(
    tool, extra, file, reason, tmp_path, package, capsys
):
    folder = FOLDERS[tool](tmp_path / tool)
    for name, content in extra.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(package)

    status = import_migrations.main(["--from", tool, "--dir", str(folder), "--migrations", str(package)])

    assert status == 1
    err = capsys.readouterr().err
    assert "refused, nothing was written" in err and f"  {file}: " in err and reason in err
    assert snapshot(package) == before


def test_every_refused_file_is_named_at_once_and_an_id_the_manifest_has_is_refused(tmp_path, package):
    folder = FOLDERS["flyway"](tmp_path / "flyway")
    write(folder, {"R__a.sql": "SELECT 1;\n", "R__b.sql": "SELECT 2;\n"})
    with pytest.raises(ImportRefused) as caught:
        import_folder("flyway", folder, package)
    assert [r.file for r in caught.value.refusals] == ["R__a.sql", "R__b.sql"]

    clash = write(tmp_path / "gm", {"0003_x.up.sql": "SELECT 1;\n"})
    with pytest.raises(ImportRefused, match="the manifest already has a migration with id 0003"):
        import_folder("golang-migrate", clash, package)


def test_long_titles_keep_the_manifest_ruff_clean_and_loading(tmp_path, package):
    titles = ["a" * 80, "b" * 96, "c" * 140]
    folder = write(tmp_path / "gm", {f"{n}_{t}.up.sql": "SELECT 1;\n" for n, t in enumerate(titles, start=1)})

    import_folder("golang-migrate", folder, package)

    assert [m["id"] for m in load_listed(package)["migrations"][-3:]] == ["1", "2", "3"]
    assert_ruff_clean(package / "manifest.py")


def test_json_for_machines_and_usage_errors(tmp_path, package, capsys):
    folder = FOLDERS["goose"](tmp_path / "goose")
    args = ["--from", "goose", "--dir", str(folder), "--migrations", str(package), "--format", "json"]

    assert import_migrations.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["imported"] == EXPECTED["goose"] and result["no_transaction"] == ["00003"]
    assert result["lint_cutoff"] == "00004"

    assert (
        import_migrations.main(["--from", "liquibase", "--dir", str(folder), "--migrations", str(package)])
        == 1
    )
    assert "use one of golang-migrate, dbmate, flyway, goose" in capsys.readouterr().err
    with pytest.raises(ImportProblem, match="no such folder"):
        import_folder("goose", tmp_path / "nowhere", package)
    bare = copy_repo_migrations(tmp_path / "bare")
    (bare / "manifest.py").write_text("MIGRATIONS = ()\n")
    with pytest.raises(ImportProblem, match="no `_ENTRIES"):
        import_folder("goose", folder, bare)


def test_a_dry_run_reports_and_writes_nothing(tmp_path, package, capsys):
    folder = FOLDERS["dbmate"](tmp_path / "dbmate")
    before = snapshot(package)

    status = import_migrations.main(
        ["--from", "dbmate", "--dir", str(folder), "--migrations", str(package), "--dry-run"]
    )

    assert status == 0 and snapshot(package) == before
    assert "would import 3 migration(s)" in capsys.readouterr().out
