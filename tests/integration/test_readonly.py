"""run_readonly against a real PostgreSQL: the queries the sql action exists for keep working, return the
right rows as JSON-safe values, and stay bounded (row cap, statement and lock timeouts)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import psycopg
import pytest
from migrator.errors import InvalidEvent, QueryFailed, UnsafeSQL
from migrator.sqlaction.readonly import run_readonly
from psycopg import pq

SEED = """
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);
INSERT INTO users VALUES (1, 'ada@example.com'), (2, 'grace@example.com'), (3, 'linus@example.com');
CREATE TABLE posts (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users, title text NOT NULL,
                    score numeric(6, 2) NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO posts VALUES
  (10, 1, 'Notes on the engine', 9.50, '2024-01-02 03:04:05+00'),
  (11, 1, 'Bernoulli numbers', 7.25, '2024-02-01 00:00:00+00'),
  (12, 2, 'COBOL', 8.00, '2024-03-01 12:00:00+00');
"""


@pytest.fixture
def database(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(SEED)
    return fresh_database


@pytest.fixture(params=[True, False], ids=["autocommit", "transactional"])
def conn(request: pytest.FixtureRequest, database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database, autocommit=request.param) as connection:
        yield connection


def users(conn: psycopg.Connection) -> list[tuple]:
    rows = conn.execute("SELECT * FROM users ORDER BY id").fetchall()
    if not conn.autocommit:
        conn.rollback()
    return rows


READ_QUERIES = [
    pytest.param(
        "SELECT u.email, p.title FROM users u JOIN posts p ON p.user_id = u.id ORDER BY p.id",
        ["email", "title"],
        [
            ["ada@example.com", "Notes on the engine"],
            ["ada@example.com", "Bernoulli numbers"],
            ["grace@example.com", "COBOL"],
        ],
        id="join",
    ),
    pytest.param(
        "SELECT u.email FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE p.id IS NULL",
        ["email"],
        [["linus@example.com"]],
        id="left-join",
    ),
    pytest.param(
        "WITH prolific AS (SELECT user_id, count(*) AS n FROM posts GROUP BY user_id)"
        " SELECT u.email, prolific.n FROM prolific JOIN users u ON u.id = prolific.user_id ORDER BY n DESC",
        ["email", "n"],
        [["ada@example.com", 2], ["grace@example.com", 1]],
        id="read-only-cte",
    ),
    pytest.param(
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) SELECT sum(n) FROM r",
        ["sum"],
        [[10]],
        id="recursive-cte",
    ),
    pytest.param(
        "SELECT count(*), sum(score), max(created_at), min(title) FROM posts",
        ["count", "sum", "max", "min"],
        [[3, "24.75", "2024-03-01T12:00:00+00:00", "Bernoulli numbers"]],
        id="aggregates",
    ),
    pytest.param(
        "SELECT title, row_number() OVER w, rank() OVER w, lag(title) OVER w"
        " FROM posts WINDOW w AS (PARTITION BY user_id ORDER BY created_at) ORDER BY id",
        ["title", "row_number", "rank", "lag"],
        [
            ["Notes on the engine", 1, 1, None],
            ["Bernoulli numbers", 2, 2, "Notes on the engine"],
            ["COBOL", 1, 1, None],
        ],
        id="window-functions",
    ),
    pytest.param(
        "SELECT id FROM users WHERE id IN (SELECT user_id FROM posts WHERE score > 8) ORDER BY id",
        ["id"],
        [[1]],
        id="subquery",
    ),
    pytest.param(
        "SELECT id FROM users UNION SELECT user_id FROM posts EXCEPT SELECT 3 ORDER BY 1",
        ["id"],
        [[1], [2]],
        id="set-operations",
    ),
    pytest.param("TABLE users ORDER BY id LIMIT 1", ["id", "email"], [[1, "ada@example.com"]], id="table"),
    pytest.param("VALUES (1, 'a'), (2, 'b')", ["column1", "column2"], [[1, "a"], [2, "b"]], id="values"),
    pytest.param(
        "SELECT date_trunc('month', created_at) AS month, upper(left(title, 3)) FROM posts WHERE id = 10",
        ["month", "upper"],
        [["2024-01-01T00:00:00+00:00", "NOT"]],
        id="allowed-functions",
    ),
    pytest.param(
        "SELECT coalesce(NULL, 'x'), nullif(1, 1), greatest(1, 3), extract(year FROM date '2024-05-06')",
        ["coalesce", "nullif", "greatest", "extract"],
        [["x", None, 3, "2024"]],
        id="special-forms",
    ),
    pytest.param(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        ["count"],
        [[1]],
        id="system-view",
    ),
    pytest.param("SHOW transaction_read_only", ["transaction_read_only"], [["on"]], id="show-read-only"),
    # sqlparse sees a DELETE here; PostgreSQL (and pglast) see one SELECT with a nested comment.
    pytest.param("SELECT 1 AS one /* /* */ ; DELETE FROM users; */", ["one"], [[1]], id="nested-comment"),
    # A dollar-quoted string that merely contains SQL is a string.
    pytest.param(
        "SELECT $$; DELETE FROM users; $$ AS s", ["s"], [["; DELETE FROM users; "]], id="dollar-string"
    ),
]


@pytest.mark.parametrize(("sql", "columns", "rows"), READ_QUERIES)
def test_read_queries_return_the_right_rows(
    conn: psycopg.Connection, sql: str, columns: list[str], rows: list[list]
) -> None:
    before = users(conn)

    result = run_readonly(conn, sql)

    result.pop("bytes")
    assert result == {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": False}
    assert json.loads(json.dumps(result)) == result
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    assert users(conn) == before


def test_explain_without_analyze_returns_the_plan_without_running_it(conn: psycopg.Connection) -> None:
    result = run_readonly(conn, "EXPLAIN (COSTS false) SELECT * FROM users WHERE id = 1")
    assert result["columns"] == ["QUERY PLAN"]
    plan = "\n".join(row[0] for row in result["rows"])
    assert "users" in plan
    assert "actual time" not in plan


def test_row_cap_truncates(conn: psycopg.Connection) -> None:
    result = run_readonly(conn, "SELECT n FROM generate_series(1, 100000) AS n", row_limit=5)
    assert result == {
        "columns": ["n"],
        "rows": [[1], [2], [3], [4], [5]],
        "row_count": 5,
        "truncated": True,
        "truncated_reason": "more than 5 rows",
        "bytes": 35,
    }

    exact = run_readonly(conn, "SELECT n FROM generate_series(1, 5) AS n", row_limit=5)
    assert exact["row_count"] == 5
    assert exact["truncated"] is False


def test_row_cap_applies_to_explain_output(conn: psycopg.Connection) -> None:
    result = run_readonly(
        conn, "EXPLAIN VERBOSE SELECT * FROM users u JOIN posts p ON p.user_id = u.id", row_limit=1
    )
    assert result["row_count"] == 1
    assert result["truncated"] is True
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE


def test_statement_timeout_becomes_query_failed_and_the_connection_stays_usable(
    conn: psycopg.Connection,
) -> None:
    started = time.monotonic()
    with pytest.raises(QueryFailed, match="statement timeout"):
        run_readonly(
            conn,
            "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b",
            statement_timeout_ms=100,
        )
    assert time.monotonic() - started < 5
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    assert run_readonly(conn, "SELECT 1 AS ok")["rows"] == [[1]]


def test_lock_timeout_bounds_waiting_behind_a_migration(database: str, conn: psycopg.Connection) -> None:
    # GIVEN a migration holding an ACCESS EXCLUSIVE lock on users
    with psycopg.connect(database) as migration:
        migration.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        # WHEN a read-only query needs the table THEN it gives up after the lock timeout, not the statement
        # timeout
        with pytest.raises(QueryFailed, match="lock timeout"):
            run_readonly(conn, "SELECT * FROM users", statement_timeout_ms=60_000)
        assert time.monotonic() - started < 10
        migration.rollback()


def test_postgres_errors_carry_postgres_message_and_no_connection_string(
    database: str, conn: psycopg.Connection
) -> None:
    with pytest.raises(QueryFailed) as failed:
        run_readonly(conn, "SELECT no_such_column FROM users")
    message = str(failed.value)
    assert 'column "no_such_column" does not exist' in message
    assert "42703" in message
    password = psycopg.conninfo.conninfo_to_dict(database).get("password") or "<none>"
    assert password not in message
    assert "postgresql://" not in message
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE


def test_the_transaction_is_read_only_with_the_limits_set(conn: psycopg.Connection) -> None:
    result = run_readonly(
        conn,
        "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),"
        " current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')",
        statement_timeout_ms=3000,
    )
    # One deadline for the whole action: each statement's timeout is the time left of the 3 s, and the server
    # ends an idle transaction within a second of it.
    read_only, statement, lock, idle = result["rows"][0]
    assert (read_only, lock) == ("on", "2s")
    assert 0 < _ms(statement) <= 3000 and 0 < _ms(idle) <= 4000
    # SET LOCAL: nothing leaks into the session
    assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)


def _ms(setting: str) -> int:
    return (
        int(setting.removesuffix("ms")) if setting.endswith("ms") else int(setting.removesuffix("s")) * 1000
    )


def test_json_safe_values(conn: psycopg.Connection) -> None:
    result = run_readonly(
        conn,
        "SELECT 1.50::numeric AS num, 'NaN'::float8 AS nan, 'infinity'::float8 AS inf,"
        " date '2024-01-02' AS d, time '03:04:05' AS t, timestamptz '2024-01-02 03:04:05+00' AS ts,"
        " 'infinity'::timestamptz AS ts_inf, interval '1 year 2 hours' AS i,"
        " '00000000-0000-0000-0000-000000000001'::uuid AS u, '\\xdeadbeef'::bytea AS b,"
        " ARRAY[1, 2] AS arr, '{\"a\": [1, null]}'::jsonb AS j, '10.0.0.1/8'::inet AS ip,"
        " int4range(1, 5) AS r, ROW(1, 'x') AS rec, true AS flag, NULL::text AS nothing",
    )
    assert dict(zip(result["columns"], result["rows"][0], strict=True)) == {
        "num": "1.50",
        "nan": "NaN",
        "inf": "Infinity",
        "d": "2024-01-02",
        "t": "03:04:05",
        "ts": "2024-01-02T03:04:05+00:00",
        "ts_inf": "infinity",
        "i": "1 year 02:00:00",
        "u": "00000000-0000-0000-0000-000000000001",
        "b": "\\xdeadbeef",
        "arr": [1, 2],
        "j": {"a": [1, None]},
        "ip": "10.0.0.1/8",
        "r": "[1,5)",
        "rec": {"f1": 1, "f2": "x"},
        "flag": True,
        "nothing": None,
    }
    json.dumps(result, allow_nan=False)


def test_unsafe_sql_never_reaches_the_database(conn: psycopg.Connection) -> None:
    before = users(conn)
    with pytest.raises(UnsafeSQL, match="found DELETE"):
        run_readonly(conn, "DELETE FROM users")
    assert users(conn) == before


def test_a_connection_with_an_open_transaction_is_refused(database: str) -> None:
    with psycopg.connect(database) as busy:
        busy.execute("SELECT 1")  # psycopg opened a transaction
        with pytest.raises(QueryFailed, match="not idle"):
            run_readonly(busy, "SELECT 1")
        assert busy.info.transaction_status == pq.TransactionStatus.INTRANS  # not ours to end


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"row_limit": -1}, "row_limit"),
        ({"row_limit": True}, "row_limit"),
        ({"statement_timeout_ms": 0}, "statement_timeout_ms"),
        ({"statement_timeout_ms": "5000"}, "statement_timeout_ms"),
    ],
    ids=["negative-row-limit", "bool-row-limit", "zero-timeout-means-none", "string-timeout"],
)
def test_out_of_range_limits_are_refused(conn: psycopg.Connection, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidEvent, match=match):
        run_readonly(conn, "SELECT 1", **kwargs)


def test_backslash_quote_lexer_differential_is_closed(database: str) -> None:
    # GIVEN a database where a backslash escapes a quote (standard_conforming_strings = off): there the
    # server would read "SELECT '\' , '; DELETE FROM users; --'" as a SELECT, a DELETE and a comment, while
    # pglast (standard strings) reads one SELECT of two string literals.
    with psycopg.connect(database, autocommit=True) as admin:
        name = admin.info.dbname
        admin.execute(f'ALTER DATABASE "{name}" SET standard_conforming_strings = off')
        admin.execute(f'ALTER DATABASE "{name}" SET escape_string_warning = off')
    with psycopg.connect(database, autocommit=True) as conn:
        assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("off",)

        result = run_readonly(conn, "SELECT '\\' AS a, '; DELETE FROM users; --' AS b")

        # THEN the transaction reads it as pglast did: one SELECT, two strings, nothing deleted
        assert result["rows"] == [["\\", "; DELETE FROM users; --"]]
        assert len(conn.execute("SELECT * FROM users").fetchall()) == 3


def test_allow_listed_names_mean_the_built_in_functions(database: str) -> None:
    # GIVEN a function in public that shadows lower() for a search_path that puts public first
    with psycopg.connect(database, autocommit=True) as admin:
        admin.execute(
            "CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'shadowed' $$"
        )
        admin.execute(f'ALTER DATABASE "{admin.info.dbname}" SET search_path = public, pg_catalog')
    with psycopg.connect(database, autocommit=True) as conn:
        assert conn.execute("SELECT lower('ABC')").fetchone() == ("shadowed",)
        # WHEN the sql action calls lower() THEN it is pg_catalog.lower
        assert run_readonly(conn, "SELECT lower('ABC') AS l")["rows"] == [["abc"]]
        # AND the session's search_path is untouched afterwards
        assert conn.execute("SHOW search_path").fetchone() == ("public, pg_catalog",)


def test_every_allow_listed_function_exists_in_postgresql(database: str) -> None:
    # A typo in the allow-list would silently allow nothing; a name PostgreSQL does not know is a smell.
    from migrator.sqlaction.guard import ALLOWED_FUNCTIONS

    with psycopg.connect(database) as conn:
        known = {row[0] for row in conn.execute("SELECT DISTINCT proname FROM pg_proc").fetchall()}
    assert sorted(ALLOWED_FUNCTIONS - known) == []


def test_attribute_notation_calls_scalar_functions_too(database: str) -> None:
    # `(x).f` is f(x) for a scalar x as well as for a row: a call the parse tree shows as a column. (An
    # earlier guard assumed it only reached functions taking a row.) Both checks see through it.
    with psycopg.connect(database, autocommit=True) as conn:
        assert conn.execute("SELECT (0.01::float8).pg_sleep").fetchone() == ("",)
        with pytest.raises(UnsafeSQL, match="attribute notation"):
            run_readonly(conn, "SELECT (0.01::float8).pg_sleep")
        with pytest.raises(UnsafeSQL, match=r"pg_catalog.pg_sleep\(double precision\)"):
            run_readonly(conn, "SELECT (0.01::float8).pg_sleep", guard=False)


# ------------------------------------------------------------------------------- bytes and memory


def test_a_row_over_the_byte_cap_never_leaves_the_server(database: str) -> None:
    # GIVEN the checks off (the guard refuses repeat()), so only the byte cap stands
    with psycopg.connect(database, autocommit=True) as conn:
        result = run_readonly(
            conn,
            "SELECT g, repeat('x', 300000) FROM generate_series(1, 3) g",
            max_bytes=100_000,
            guard=False,
            resolve=False,
        )
    assert result["rows"] == [] and result["truncated"] is True
    assert result["truncated_reason"].startswith("row 1 is 300")


def test_rows_stop_at_the_byte_cap(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        result = run_readonly(conn, "SELECT md5(g::text) FROM generate_series(1, 1000) g", max_bytes=4096)
    assert result["truncated"] is True and result["truncated_reason"] == "the rows reach the 4096-byte limit"
    assert result["bytes"] <= 4096 and 0 < result["row_count"] < 1000


@pytest.mark.parametrize("max_bytes", [0, 5 * 1024 * 1024, True])
def test_byte_cap_out_of_range_is_refused(database: str, max_bytes: int) -> None:
    with psycopg.connect(database) as conn, pytest.raises(InvalidEvent, match="max_bytes"):
        run_readonly(conn, "SELECT 1", max_bytes=max_bytes)


MEMORY_PROBE = """
import resource, sys
import psycopg
from migrator.sqlaction.readonly import run_readonly
import os
conn = psycopg.connect(os.environ["PROBE_DATABASE"], autocommit=True)
run_readonly(conn, "SELECT 1", guard=False, resolve=False)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = run_readonly(conn, "SELECT repeat('x', 4000000) FROM generate_series(1, 100)", guard=False,
                      resolve=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(after - before, result["row_count"], result["truncated"])
"""


def test_the_handlers_memory_stays_bounded_whatever_the_query_returns(database: str) -> None:
    # GIVEN a query (checks off) whose rows add up to 400 MB; WHEN it runs in a fresh process
    import os
    import subprocess
    import sys
    from pathlib import Path

    lambda_dir = str(Path(__file__).resolve().parents[2] / "lambda")
    env = {**os.environ, "PROBE_DATABASE": database, "PYTHONPATH": lambda_dir}
    probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, env=env)
    assert probe.returncode == 0, probe.stderr[-2000:]
    out = probe.stdout.split()
    grown_kib, rows, truncated = int(out[0]), int(out[1]), out[2]
    # THEN no row over the cap crossed the wire, and the process grew by a few MB at most
    assert (rows, truncated) == (0, "True")
    assert grown_kib < 32 * 1024, f"the process grew by {grown_kib} KiB"


def test_grammar_differences_between_pglast_and_the_server_are_harmless(database: str) -> None:
    # pglast 8 parses PostgreSQL 17; the local server is 15. `0x1F` is an integer to PostgreSQL 16+ (and to
    # pglast), a syntax error to 15. The guard allows it; the server-side check analyses the text with the
    # server's own parser, so what runs (or is refused) is what the server read.
    with psycopg.connect(database, autocommit=True) as conn:
        if conn.info.server_version < 160000:
            with pytest.raises(QueryFailed, match="trailing junk"):
                run_readonly(conn, "SELECT 0x1F")
        else:
            assert run_readonly(conn, "SELECT 0x1F")["rows"] == [[31]]
