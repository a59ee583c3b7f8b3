"""Golden pairs: (pending migration, statement a colour ran) -> verdict, on a real PostgreSQL.

One database, as RDS runs it, holds a small schema (users, posts, an enum, a view, a function); blue and green
each run their statements as their own roles, and pg_stat_statements records them. Each case then asks the
check about one pending migration. A verdict is ``broken`` (named in ``compatibility.broken``),
``inconclusive`` (it did not compile before the migration either) or ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from migrator import runner
from migrator.errors import Incompatible
from migrator.runner.manifest import Manifest, Migration

from tests.integration.colour_support import RdsLike, as_recorded, rds_like_database

BASE = (
    Migration(
        "0001",
        "schema",
        """
CREATE TYPE post_status AS ENUM ('draft', 'published');
CREATE TABLE users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text NOT NULL UNIQUE,
    full_name  text,
    bio        text,
    age        integer,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE posts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id  bigint NOT NULL REFERENCES users (id),
    body       text NOT NULL,
    status     post_status NOT NULL DEFAULT 'draft',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE VIEW user_post_counts AS
    SELECT u.id AS user_id, u.username, count(p.id) AS posts
    FROM users u LEFT JOIN posts p ON p.author_id = u.id GROUP BY u.id, u.username;
CREATE FUNCTION post_count(author bigint) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT count(*) FROM posts WHERE author_id = author $$;
""",
        None,
    ),
)

# Blue runs the old release's statements, green the new one's.
BLUE = {
    "select_full_name": ("SELECT id, username, full_name FROM users WHERE id = %s", (1,)),
    "select_star": ("SELECT * FROM users WHERE id = %s", (1,)),
    "insert_user": ("INSERT INTO users (username, full_name) VALUES (%s, %s) RETURNING id", ("b", "B")),
    "update_bio": ("UPDATE users SET bio = %s WHERE id = %s", ("hi", 1)),
    "select_age": ("SELECT age FROM users WHERE id = %s", (1,)),
    "insert_post": (
        "INSERT INTO posts (author_id, body, status) VALUES (%s, %s, %s)",
        (1, "x", "published"),
    ),
    "join_posts": (
        "SELECT p.id, p.body, u.username FROM posts p JOIN users u ON u.id = p.author_id "
        "WHERE p.status = %s ORDER BY p.created_at DESC LIMIT %s",
        ("published", 10),
    ),
    "view": ("SELECT user_id, username, posts FROM user_post_counts WHERE user_id = %s", (1,)),
    "function": ("SELECT post_count(%s)", (1,)),
    "count_posts": ("SELECT count(*) FROM posts", ()),
}
GREEN = {
    "green_select": ("SELECT id, username FROM users WHERE id = %s", (1,)),
}


def sql_of(key: str) -> str:
    """A statement as pg_stat_statements records it: psycopg sends %s as $1, $2, ..."""
    return as_recorded(*{**BLUE, **GREEN}[key])


@pytest.fixture(scope="module")
def db(local_default) -> Iterator[RdsLike]:
    with rds_like_database(local_default.admin_url, local_default.pg_port) as setup:
        runner.migrate(setup.migrator_url, manifest=Manifest(BASE), settings=setup.settings)
        with setup.admin() as admin:
            admin.execute("INSERT INTO users (username, full_name) VALUES ('a', 'A')")
        setup.run_as("blue", list(BLUE.values()))
        # A statement only its own session could compile: it is inconclusive, never a pass or a failure.
        with setup.admin() as admin:
            admin.execute(f'SET ROLE "{setup.role("blue")}"')
            admin.execute("CREATE TEMP TABLE scratch (x int)")
            admin.execute("SELECT x FROM scratch WHERE x = %s", (1,))
        setup.run_as("green", list(GREEN.values()))
        runner.capture(setup.migrator_url, settings=setup.settings)
        yield setup


def verdicts(db: RdsLike, migration: Migration, serving: tuple[str, ...] | None = None) -> dict:
    """statement text -> verdict, and the compatibility object."""
    try:
        result = runner.check(
            db.migrator_url, manifest=Manifest((*BASE, migration)), serving=serving, settings=db.settings
        )["compatibility"]
    except Incompatible as refused:
        result = refused.details["compatibility"]
    assert "error" not in result, result
    found = {item["statement"]: "broken" for item in result["broken"]}
    found |= {item["statement"]: "inconclusive" for item in result.get("inconclusive_examples", [])}
    return {"verdicts": found, "result": result}


def sql(text: str, *, transactional: bool = True) -> Migration:
    return Migration("0002", "case", text, None, transactional=transactional)


CASES = [
    pytest.param(
        sql("ALTER TABLE users RENAME COLUMN full_name TO name"),
        {"select_full_name": "broken", "select_star": "broken", "insert_user": "broken", "update_bio": "ok"},
        id="rename-column",
    ),
    pytest.param(
        sql("ALTER TABLE users DROP COLUMN bio"),
        {"update_bio": "broken", "select_star": "broken", "select_full_name": "ok", "insert_user": "ok"},
        id="drop-column",
    ),
    pytest.param(
        sql("ALTER TABLE users ALTER COLUMN age TYPE bigint"),
        {"select_age": "broken", "select_star": "broken", "select_full_name": "ok", "update_bio": "ok"},
        id="type-change",
    ),
    pytest.param(
        sql("ALTER TABLE users ADD COLUMN email text NOT NULL"),
        {"insert_user": "broken", "select_star": "ok", "select_full_name": "ok"},
        id="not-null-column-added",
    ),
    pytest.param(
        sql("ALTER TABLE users ALTER COLUMN bio SET NOT NULL"),
        {"insert_user": "broken", "update_bio": "ok", "select_star": "ok"},
        id="not-null-on-an-existing-column",
    ),
    pytest.param(
        sql("ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT ''"),
        {"insert_user": "ok", "select_star": "ok"},
        id="not-null-with-a-default",
    ),
    pytest.param(
        sql("ALTER TABLE users ADD COLUMN email text"),
        {key: "ok" for key in BLUE},
        id="nullable-column-added",
    ),
    pytest.param(
        sql("CREATE TABLE tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)"),
        {key: "ok" for key in BLUE},
        id="table-added",
    ),
    pytest.param(
        sql(
            "DROP INDEX CONCURRENTLY IF EXISTS users_age_idx;\n"
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_age_idx ON users (age);",
            transactional=False,
        ),
        {key: "ok" for key in BLUE},
        id="index-built-concurrently",
    ),
    pytest.param(
        sql("ALTER TYPE post_status ADD VALUE 'archived'"),
        {"insert_post": "ok", "join_posts": "ok"},
        id="enum-value-added",
    ),
    pytest.param(
        sql(
            "CREATE OR REPLACE VIEW user_post_counts AS SELECT u.id AS user_id, u.username, count(p.id) AS "
            "posts, max(p.created_at) AS last_post FROM users u LEFT JOIN posts p ON p.author_id = u.id "
            "GROUP BY u.id, u.username"
        ),
        {"view": "ok"},
        id="view-gains-a-column",
    ),
    pytest.param(
        sql(
            "DROP VIEW user_post_counts; CREATE VIEW user_post_counts AS SELECT u.id AS user_id, "
            "count(p.id) AS posts FROM users u LEFT JOIN posts p ON p.author_id = u.id GROUP BY u.id"
        ),
        {"view": "broken"},
        id="view-loses-a-column",
    ),
    pytest.param(
        sql(
            "DROP FUNCTION post_count(bigint); CREATE FUNCTION post_count(author bigint, since timestamptz) "
            "RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM posts WHERE author_id = author "
            "AND created_at >= since $$"
        ),
        {"function": "broken", "count_posts": "ok"},
        id="function-signature-changed",
    ),
    pytest.param(
        sql(
            "CREATE TABLE profiles (user_id bigint PRIMARY KEY REFERENCES users (id), bio text);\n"
            "INSERT INTO profiles SELECT id, bio FROM users WHERE bio IS NOT NULL;\n"
            "ALTER TABLE users DROP COLUMN bio;"
        ),
        {"update_bio": "broken", "select_full_name": "ok"},
        id="column-moved-to-another-table",
    ),
    pytest.param(
        sql("REVOKE INSERT ON posts FROM {group}"),
        {"insert_post": "broken", "join_posts": "ok", "count_posts": "ok"},
        id="grant-revoked",
    ),
]


@pytest.mark.parametrize(("migration", "expected"), CASES)
def test_golden_pair(db: RdsLike, migration: Migration, expected: dict[str, str]):
    if "{group}" in migration.forward:
        migration = sql(migration.forward.format(group=db.group))
    found = verdicts(db, migration)
    for key, verdict in expected.items():
        assert found["verdicts"].get(sql_of(key), "ok") == verdict, (key, found["result"])
    # The statement that fails before the migration too is inconclusive in every case, never broken
    assert found["verdicts"].get("SELECT x FROM scratch WHERE x = $1") == "inconclusive"
    assert found["result"]["inconclusive"] == 1
    # Every broken statement names its colour, the migration and a fix
    for item in found["result"]["broken"]:
        assert item["color"] == "blue" and item["migration"] == "0002" and item["fix"] and item["error"]
    assert found["result"]["ok"] is not any(v == "broken" for v in expected.values())


def test_a_contract_step_is_checked_against_the_colour_that_remains(db: RdsLike):
    rename = sql("ALTER TABLE users RENAME COLUMN full_name TO name")
    # Both serve (expand): blue breaks
    assert verdicts(db, rename)["result"]["ok"] is False
    # Only green serves after it (contract, blue retired): green's statements still work
    after_release = verdicts(db, rename, serving=("green",))["result"]
    assert (
        after_release["ok"] is True
        and after_release["checked"] == 1
        and after_release["serving"] == ["green"]
    )


def test_a_migration_that_cannot_be_tried_is_not_a_pass(db: RdsLike):
    found = verdicts(db, sql("ALTER TABLE no_such_table ADD COLUMN x int"))["result"]
    assert found["ok"] is False and found["broken"] == []
    assert "no_such_table" in found["unsimulated"]["error"]


def test_the_refusal_names_the_colour_the_statement_the_migration_and_the_fix(db: RdsLike):
    with pytest.raises(Incompatible) as refused:
        runner.check(
            db.migrator_url,
            manifest=Manifest((*BASE, sql("ALTER TABLE users DROP COLUMN bio"))),
            settings=db.settings,
        )
    message = str(refused.value)
    broken = refused.value.details["compatibility"]["broken"]
    assert {b["statement"] for b in broken} == {sql_of("update_bio"), sql_of("select_star")}
    assert f"0002_case breaks blue: {broken[0]['statement']!r}" in message
    assert f"Fix: {broken[0]['fix']}" in message
    assert "1 more statement(s) break" in message and "ALLOW_INCOMPATIBLE=1" in message
