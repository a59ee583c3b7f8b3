"""The project's manifest: explicit, ordered, consistent with the files, packaged by name."""

from __future__ import annotations

import importlib
from pathlib import Path

from migrator.runner.manifest import Manifest, Migration, Seed, load_manifest

from migrations import manifest

MIGRATIONS_DIR = Path(manifest.__file__).parent


REPO = MIGRATIONS_DIR.parent


def test_modules_and_files_name_every_migration_and_seed():
    assert isinstance(manifest.MODULES, tuple) and all(isinstance(m, str) for m in manifest.MODULES)
    loaded = [importlib.import_module(name) for name in manifest.MODULES]
    objects = [getattr(module, "MIGRATION", None) or module.SEED for module in loaded]
    from_modules = [o for o in objects if isinstance(o, Migration)]
    from_files = [m for m in manifest.MIGRATIONS if m.files]
    # Every migration comes from exactly one listed module or one listed pair of SQL files, in manifest order.
    assert sorted(m.id for m in (*from_modules, *from_files)) == [m.id for m in manifest.MIGRATIONS]
    assert [m for m in manifest.MIGRATIONS if not m.files] == from_modules
    assert tuple(o for o in objects if isinstance(o, Seed)) == manifest.SEEDS
    assert (
        tuple(Path(f).relative_to(REPO).as_posix() for m in manifest.MIGRATIONS for f in m.files)
        == manifest.FILES
    )


def test_every_sql_file_in_the_folder_is_listed():
    on_disk = {p.relative_to(REPO).as_posix() for p in MIGRATIONS_DIR.rglob("*.sql")}
    assert on_disk == set(manifest.FILES)


def test_0006_is_a_sql_pair_with_the_checksum_it_had_as_a_python_module():
    # Databases that applied 0006 before it became a SQL pair must still see it as applied, not changed.
    m0006 = next(m for m in manifest.MIGRATIONS if m.id == "0006")
    assert [Path(f).name for f in m0006.files] == [
        "0006_index_posts_author_created.up.sql",
        "0006_index_posts_author_created.down.sql",
    ]
    assert not m0006.transactional and not m0006.contract
    assert m0006.checksum == "19f2377e00da62b975734def24864ac6094a2462ccb0a0f434db50474bccdd80"


def test_every_python_file_in_the_folder_is_listed():
    # Nothing is discovered by scanning; this only checks nobody forgot to list a new file.
    on_disk = {
        ".".join(("migrations", *p.relative_to(MIGRATIONS_DIR).with_suffix("").parts))
        for p in MIGRATIONS_DIR.rglob("*.py")
        if p.name not in ("__init__.py", "manifest.py")
    }
    assert on_disk == set(manifest.MODULES)


def test_ids_are_unique_and_increasing():
    ids = [m.id for m in manifest.MIGRATIONS]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert load_manifest() == Manifest(manifest.MIGRATIONS, manifest.SEEDS)


def test_the_sequence_has_the_expand_contract_shape():
    by_name = {m.name: m for m in manifest.MIGRATIONS}
    assert [m.name for m in manifest.MIGRATIONS if m.contract] == ["contract_users_display_name"]
    assert manifest.MIGRATIONS[-1].contract
    assert not by_name["index_posts_author_created"].transactional
    assert "CONCURRENTLY" in by_name["index_posts_author_created"].forward
    assert "migrator:" not in by_name["index_posts_author_created"].forward  # directives are not SQL
    assert callable(by_name["backfill_users_display_name"].forward)
    assert all(m.reversible for m in manifest.MIGRATIONS)


def test_checksum_covers_forward_reverse_and_function_source():
    a = Migration("0001", "x", "CREATE TABLE a (id int);", "DROP TABLE a;")
    assert a.checksum == Migration("0001", "renamed", "CREATE TABLE a (id int);", "DROP TABLE a;").checksum
    assert a.checksum != Migration("0001", "x", "CREATE TABLE a (id bigint);", "DROP TABLE a;").checksum
    assert a.checksum != Migration("0001", "x", "CREATE TABLE a (id int);", None).checksum

    def f1(conn):
        conn.execute("SELECT 1")

    def f2(conn):
        conn.execute("SELECT 2")

    assert Migration("9", "f", f1, None).checksum != Migration("9", "f", f2, None).checksum
