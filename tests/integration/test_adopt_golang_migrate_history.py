"""Done when: a team adopts a real-size golang-migrate history with exactly two commands and no hand edit.

A history of about 290 realistic up/down pairs (tests/oldtools.py: tables, keys, indexes, backfills with
empty or comment-only downs, NOT VALID checks, plpgsql triggers, views, an enum, lone CONCURRENTLY indexes,
files wrapped in their own BEGIN/COMMIT and files with two transactions) is applied the way golang-migrate
applies it (each file one multi-statement message, then its one-row state table). In a clone of this
repository (the kit's own example migrations still in its manifest), the team runs

    make import-migrations FROM=golang-migrate DIR=<their folder>
    make migrate ACTION=baseline FROM=golang-migrate

and then migrate, rollback of everything, and migrate again work, the schema the kit rebuilds is the one
golang-migrate built, and the clone's lint and ruff stay green with the history in place.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.oldtools import REPO, copy_repo, golang_migrate_history, rds_like_database

EXAMPLES = ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]


def golang_migrate_up(url: str, folder: Path) -> int:
    """What `migrate -path folder -database url up` does on PostgreSQL: every up file, in version order, as
    one Exec (so a file is atomic unless it runs its own transactions), then the version in its table."""
    ups = sorted(folder.glob("*.up.sql"), key=lambda p: int(p.name.split("_", 1)[0]))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null)"
        )
        for path in ups:
            conn.execute(path.read_text())  # type: ignore[arg-type]  # one simple-query message, as lib/pq
        version = int(ups[-1].name.split("_", 1)[0])
        conn.execute("INSERT INTO schema_migrations (version, dirty) VALUES (%s, false)", (version,))
    return len(ups)


def schema(url: str) -> list[tuple]:
    """The history's objects: columns, indexes, constraints, triggers, views and types of its tables."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            """
            SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
              FROM information_schema.columns WHERE table_schema = 'public' AND table_name ~ '^e[0-9]'
            UNION ALL SELECT 'index', indexdef FROM pg_indexes
              WHERE schemaname = 'public' AND tablename ~ '^e[0-9]'
            UNION ALL SELECT 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
              FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 0
                AND conrelid::regclass::text ~ '^e[0-9]'
            UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal
            UNION ALL SELECT 'type', typname FROM pg_type WHERE typnamespace = 'public'::regnamespace
              AND typtype = 'e'
            ORDER BY 1, 2
            """
        ).fetchall()


def make(clone: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "MIGRATOR_"))}
    if url:
        env["DATABASE_URL"] = url
    # make migrate: FORMAT=json, the JSON result as the last line of stdout (people get a table)
    as_json = ["FORMAT=json"] if args[0] == "migrate" else []
    return subprocess.run(
        ["make", "-s", "-C", str(clone), f"VENV={REPO / '.venv'}", *args, *as_json],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def result(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def database(local_default):
    with rds_like_database(local_default) as url:
        yield url


def test_a_golang_migrate_history_of_hundreds_of_pairs_is_adopted_with_two_commands(database, tmp_path):
    # GIVEN a team's golang-migrate history, applied by golang-migrate
    history = tmp_path / "service" / "db" / "migrations"
    counts = golang_migrate_history(history)
    assert counts["pairs"] >= 250 and counts["empty_down"] >= 25 and counts["own_transaction"] >= 10
    applied_by_golang_migrate = golang_migrate_up(database, history)
    built_by_golang_migrate = schema(database)
    clone = copy_repo(tmp_path / "clone")

    # WHEN they run the two commands
    imported = make(clone, "import-migrations", "FROM=golang-migrate", f"DIR={history}")
    assert imported.returncode == 0, imported.stderr
    assert f"imported {counts['pairs']} migration(s)" in imported.stdout
    baselined = result(make(clone, "migrate", "ACTION=baseline", "FROM=golang-migrate", url=database))

    # THEN exactly golang-migrate's history is recorded, and nothing ran
    assert len(baselined["baselined"]) == applied_by_golang_migrate == counts["pairs"]
    assert baselined["source"]["says"].endswith(", clean")
    listed = result(make(clone, "migrate", "ACTION=list", url=database))
    assert (
        listed["counts"]["baselined"] == counts["pairs"] and listed["counts"]["pending"] == 7
    )  # the examples
    assert sum(m["reverse_noop"] for m in listed["migrations"]) == counts["empty_down"]
    # an empty down (what `migrate create` leaves) is irreversible, not a rollback that undoes nothing
    irreversible = [m["id"] for m in listed["migrations"] if not m["reversible"]]
    assert len(irreversible) == counts["blank_down"] > 0
    assert schema(database) == built_by_golang_migrate

    # AND migrate, rollback down to the newest irreversible one and migrate again work on it
    migrated = result(make(clone, "migrate", "ACTION=migrate", "ALLOW_CONTRACT=1", url=database))
    assert [m["id"] for m in migrated["applied"]] == ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]
    assert result(make(clone, "migrate", "ACTION=migrate", url=database))["applied"] == []
    total = counts["pairs"] + 7
    refused = make(clone, "migrate", "ACTION=rollback", f"STEPS={total}", url=database)
    assert refused.returncode != 0 and "IrreversibleMigration" in refused.stdout + refused.stderr
    order = [m["id"] for m in listed["migrations"] if m["id"] not in EXAMPLES] + EXAMPLES  # as applied
    steps = len(order) - 1 - max(order.index(i) for i in irreversible)
    rolled = result(make(clone, "migrate", "ACTION=rollback", f"STEPS={steps}", url=database))
    assert len(rolled["rolled_back"]) == steps
    again = result(make(clone, "migrate", "ACTION=migrate", "ALLOW_CONTRACT=1", url=database))
    assert len(again["applied"]) == steps
    # the kit rebuilds exactly what golang-migrate built
    assert schema(database) == built_by_golang_migrate

    # AND the clone's checks stay green with the imported history in place: the lint skips it (cut-off) ...
    lint = make(clone, "lint-migrations")
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr
    assert f"{counts['pairs'] + 7} migration(s) 0001_create_users .. " in lint.stdout
    ruff = REPO / ".venv" / "bin" / "ruff"
    config = ["--config", str(REPO / "pyproject.toml"), str(clone / "migrations")]
    for command in (["check", *config], ["format", "--check", *config]):
        proc = subprocess.run([str(ruff), *command], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # ... which is what keeps it green: linted as new migrations, the last 30 of it would fail
    manifest = clone / "migrations" / "manifest.py"
    ids = [m["id"] for m in listed["migrations"]]
    text = manifest.read_text()
    manifest.write_text(
        text.replace(f'LINT_CUTOFF: str | None = "{ids[-1]}"', f'LINT_CUTOFF: str | None = "{ids[-31]}"')
    )
    strict = make(clone, "lint-migrations")
    assert strict.returncode == 2 and "Error 1" in strict.stderr and "BLOCKING" in strict.stdout
