"""The project's manifest: explicit, ordered, consistent with the files, packaged by name."""

from __future__ import annotations

import importlib
from pathlib import Path

from migrator.migration import Manifest, Migration, Seed, load_manifest

from migrations import manifest

MIGRATIONS_DIR = Path(manifest.__file__).parent


def test_modules_name_every_migration_and_seed_in_order():
    assert isinstance(manifest.MODULES, tuple) and all(isinstance(m, str) for m in manifest.MODULES)
    loaded = [importlib.import_module(name) for name in manifest.MODULES]
    objects = [getattr(module, "MIGRATION", None) or module.SEED for module in loaded]
    assert tuple(o for o in objects if isinstance(o, Migration)) == manifest.MIGRATIONS
    assert tuple(o for o in objects if isinstance(o, Seed)) == manifest.SEEDS


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
