"""The statement inventory (runner/inventory.py) on a real PostgreSQL with pg_stat_statements preloaded, the
migrator as RDS runs it (non-superuser with CREATEROLE, CREATEDB, pg_read_all_stats)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from migrator import runner
from migrator.errors import InventoryUnavailable
from migrator.runner import inventory
from migrator.runner.manifest import Manifest, Migration
from psycopg import sql

from tests.integration.colour_support import RdsLike, rds_like_database

SCHEMA = Manifest(
    (
        Migration(
            "0001",
            "items",
            "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
            None,
        ),
    )
)
BLUE = [("SELECT id, name FROM items WHERE id = %s", (1,)), ("INSERT INTO items (name) VALUES (%s)", ("x",))]
GREEN = [("SELECT name FROM items ORDER BY id LIMIT %s", (5,))]


@pytest.fixture
def db(local_default) -> Iterator[RdsLike]:
    with rds_like_database(local_default.admin_url, local_default.pg_port) as setup:
        runner.migrate(setup.migrator_url, manifest=SCHEMA, settings=setup.settings)
        yield setup


def rows(db: RdsLike) -> dict[tuple[str, str], int]:
    with db.admin() as admin:
        return {
            (color, query): calls
            for color, query, calls in admin.execute(
                "SELECT color, query, sum(calls) FROM release_kit_statements WHERE dml "
                "GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall()
        }


def test_each_colours_statements_are_attributed_to_it_and_nothing_else_is_kept(db: RdsLike):
    # GIVEN each colour running its statements as its own role, plus what the inventory must not keep: a
    # utility statement of a colour, and statements of the migrator and of the superuser
    db.run_as("blue", BLUE, times=3)
    db.run_as("green", GREEN, times=2)
    db.run_as("blue", ["SET work_mem = '8MB'", "SHOW work_mem"])
    with db.admin() as admin:
        admin.execute("SELECT count(*) FROM items WHERE name = %s", ("superuser",))
    with psycopg.connect(db.migrator_url) as migrator:
        migrator.execute("SELECT count(*) FROM items WHERE id > %s", (0,))

    # WHEN the inventory is captured
    captured = runner.capture(db.migrator_url, settings=db.settings)

    # THEN each statement is under its colour, with its calls, and nothing else is there (the utility
    # statements are kept apart, marked, only so that their ids are known and their texts not read again)
    assert captured["inventory"]["ok"] is True
    with db.admin() as admin:
        utility = admin.execute(
            "SELECT query FROM release_kit_statements WHERE NOT dml ORDER BY 1"
        ).fetchall()
    assert ("SET work_mem = '8MB'",) in utility
    assert not any(q.upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")) for (q,) in utility)
    assert rows(db) == {
        ("blue", "INSERT INTO items (name) VALUES ($1)"): 3,
        ("blue", "SELECT id, name FROM items WHERE id = $1"): 3,
        ("green", "SELECT name FROM items ORDER BY id LIMIT $1"): 2,
    }
    colors = captured["colors"]
    assert colors["blue"]["statements"] == 2 and colors["blue"]["calls"] == 6
    assert colors["green"]["statements"] == 1 and colors["green"]["calls"] == 2
    assert colors["blue"]["role"] == db.role("blue") and colors["blue"]["sessions"] == 0
    assert colors["blue"]["last_seen"] and colors["blue"]["first_seen"]

    # AND the application's roles cannot read or write the inventory
    with db.admin() as admin:
        admin.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(db.role("blue"))))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            admin.execute("DELETE FROM release_kit_statements")


def test_the_inventory_survives_a_reset_of_pg_stat_statements(db: RdsLike):
    db.run_as("blue", BLUE, times=2)
    runner.capture(db.migrator_url, settings=db.settings)
    # WHEN the statistics are reset (or evicted, or the server restarts) and blue runs its SELECT once more
    with db.admin() as admin:
        admin.execute("SELECT pg_stat_statements_reset()")
    runner.capture(db.migrator_url, settings=db.settings)
    assert rows(db)[("blue", "SELECT id, name FROM items WHERE id = $1")] == 2  # still there, calls kept
    db.run_as("blue", BLUE[:1])
    runner.capture(db.migrator_url, settings=db.settings)
    # THEN the evidence is still there, and the new call is added to the old ones
    assert rows(db) == {
        ("blue", "INSERT INTO items (name) VALUES ($1)"): 2,
        ("blue", "SELECT id, name FROM items WHERE id = $1"): 3,
    }


def test_a_capture_is_one_query_once_set_up(db: RdsLike):
    db.run_as("blue", BLUE)
    with psycopg.connect(db.migrator_url, autocommit=True) as conn:
        inventory.capture(conn, db.settings)  # the first one creates the table
        db.run_as("blue", BLUE)
        sent: list[str] = []
        original = conn.execute

        def counting(query, params=None, **kw):
            sent.append(str(query))
            return original(query, params, **kw)

        conn.execute = counting  # type: ignore[method-assign]
        result = inventory.capture(conn, db.settings)
    assert result["ok"] is True and result["captured"] == 2
    assert len(sent) == 1


def test_a_statement_whose_counter_did_not_move_is_not_seen_again(db: RdsLike):
    db.run_as("blue", BLUE[:1])
    runner.capture(db.migrator_url, settings=db.settings)
    with db.admin() as admin:
        before = admin.execute("SELECT last_seen FROM release_kit_statements WHERE dml").fetchone()[0]
    again = runner.capture(db.migrator_url, settings=db.settings)
    with db.admin() as admin:
        after = admin.execute("SELECT last_seen FROM release_kit_statements WHERE dml").fetchone()[0]
    assert again["inventory"]["captured"] == 0 and after == before


def test_a_migrator_that_cannot_read_other_roles_statements_is_told_so(db: RdsLike):
    db.run_as("blue", BLUE)
    with db.admin() as admin:
        admin.execute(sql.SQL("REVOKE pg_read_all_stats FROM {}").format(sql.Identifier(db.migrator)))
    with pytest.raises(InventoryUnavailable, match="GRANT pg_read_all_stats"):
        runner.capture(db.migrator_url, settings=db.settings)


def test_without_the_extension_the_capture_says_how_to_install_it(local_default):
    with rds_like_database(local_default.admin_url, local_default.pg_port, extension=False) as db:
        # The migrator (not a superuser here) may not create it; read-only actions do not try
        listed = runner.list_migrations(db.migrator_url, manifest=SCHEMA, settings=db.settings)
        assert listed["counts"]["pending"] == 1
        with pytest.raises(InventoryUnavailable, match="CREATE EXTENSION pg_stat_statements"):
            runner.capture(db.migrator_url, settings=db.settings)
        # AND the migration itself is not held up by it
        assert [m["id"] for m in runner.migrate(db.migrator_url, manifest=SCHEMA, settings=db.settings)[
            "applied"]] == ["0001"]  # fmt: skip


def test_a_superuser_migrator_creates_the_extension_and_keeps_its_views_private(fresh_database):
    from migrator.settings import Settings

    # GIVEN default privileges that give every new table to someone (as the role setup does for the group)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO pg_monitor")
    result = runner.capture(fresh_database, settings=Settings())
    assert result["inventory"]["ok"] is True
    with psycopg.connect(fresh_database) as conn:
        installed = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
        # Nobody but its owner has a grant on its views (the migrator's default privileges would give them
        # to the application's group and the sql action's reader)
        grantees = conn.execute(
            "SELECT DISTINCT a.grantee FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a "
            "WHERE c.relname IN ('pg_stat_statements', 'pg_stat_statements_info') AND a.grantee <> c.relowner"
        ).fetchall()
    assert installed and grantees == [(0,)]  # PUBLIC only: what the extension's own script grants


def test_source_status_is_what_preflight_reports(db: RdsLike):
    with psycopg.connect(db.migrator_url, autocommit=True) as conn:
        status = inventory.source_status(conn)
    assert status == {
        "loaded": True,
        "installed": "public.pg_stat_statements",
        "readable": True,
        "ok": True,
        "reason": None,
    }


def test_make_statements_lists_the_tables_each_colour_touches(db: RdsLike):
    db.run_as("blue", BLUE)
    listed = runner.statements(db.migrator_url, settings=db.settings)["colors"]
    assert listed["blue"]["tables"] == ["items"] and listed["green"]["tables"] == []
    assert [s["query"] for s in listed["blue"]["statements_listed"]] == [
        "INSERT INTO items (name) VALUES ($1)",
        "SELECT id, name FROM items WHERE id = $1",
    ]
    only_green = runner.statements(db.migrator_url, color="green", settings=db.settings)["colors"]
    assert list(only_green) == ["green"]
