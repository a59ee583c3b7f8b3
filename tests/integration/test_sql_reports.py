"""Named reports through the real handler, as the reader role (a member of nothing, like on RDS): each one
answers, shows what operators need (who blocks whom, definitions, defaults, headroom), never shows query text,
respects a REVOKE, and runs nothing planted in the application's schema."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sql_database
from migrator import handler as handler_module
from migrator.sqlaction.reports import REPORTS

from scripts.localdefault import localenv

SECRET = "query-text-" + uuid.uuid4().hex[:8]

SCHEMA = """
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL DEFAULT 'nobody@example.com',
                    created timestamptz NOT NULL DEFAULT now());
INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 50) g;
CREATE TABLE orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint, total numeric(10, 2));
ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0);
CREATE INDEX orders_total_big ON orders (total) WHERE total > 100;
CREATE TABLE hidden (id int, note text DEFAULT 'hidden-default');
CREATE INDEX hidden_note ON hidden (note);
"""

# Objects in the application's schema named like what the reports call: a report runs with search_path
# pg_catalog, pg_temp, so none of them is ever chosen.
PLANTED = """
CREATE FUNCTION public.format_type(oid, integer) RETURNS text LANGUAGE sql AS $$ SELECT 'planted' $$;
CREATE FUNCTION public.pg_get_indexdef(oid) RETURNS text LANGUAGE sql AS $$ SELECT 'planted' $$;
CREATE FUNCTION public.pg_size_pretty(bigint) RETURNS text LANGUAGE sql AS $$ SELECT 'planted' $$;
CREATE FUNCTION public.planted_eq(name, text) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
CREATE OPERATOR public.= (LEFTARG = name, RIGHTARG = text, FUNCTION = public.planted_eq);
"""


@pytest.fixture(scope="module")
def database(local_default: localenv.State) -> Iterator[dict[str, str]]:
    with sql_database.migrator_owned(local_default, "t_reports") as urls:
        with psycopg.connect(urls["migrator"], autocommit=True) as conn:
            conn.execute(SCHEMA)
            conn.execute("SELECT nextval('users_id_seq') FROM generate_series(1, 7)")
        yield urls


@pytest.fixture
def report(database: dict[str, str], monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> Any:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("DATABASE_URL", database["migrator"])

    def run(name: str) -> dict[str, Any]:
        result = handler_module.handler({"action": "report", "name": name}, lambda_context)
        assert result["ok"], result
        assert result["role"] == "migrator_sql_reader"
        json.dumps(result)
        return result

    return run


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]


def test_every_report_answers_as_the_reader_role(report) -> None:
    for name in REPORTS:
        result = report(name)
        assert result["report"] == name and result["description"]
        assert "planted" not in json.dumps(result)


def test_locks_shows_who_blocks_whom_without_query_text(report, database: dict[str, str]) -> None:
    # GIVEN a migration holding users in ACCESS EXCLUSIVE mode (after a query naming a secret), and a session
    # queued behind it
    with (
        psycopg.connect(database["migrator"], autocommit=True, application_name="migration") as holder,
        psycopg.connect(database["migrator"], autocommit=True, application_name="app") as waiter,
    ):
        holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
        holder.execute(f"BEGIN; SELECT '{SECRET}'; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        blocked = threading.Thread(target=lambda: waiter.execute("SELECT count(*) FROM users"))
        blocked.start()
        time.sleep(0.5)
        # WHEN the locks report runs
        result = report("locks")
        holder.execute("ROLLBACK")
        blocked.join(10)
    # THEN it names the waiting and the blocking sessions, the relation, the modes and the wait
    (row,) = [r for r in _rows(result) if r["waiting_pid"] == waiter_pid]
    assert row["blocking_pid"] == holder_pid
    assert row["relation"] == "public.users" and row["wants"] == "AccessShareLock"
    assert "AccessExclusiveLock" in row["blocker_holds"]
    assert row["waiting_application"] == "app" and row["blocking_application"] == "migration"
    assert row["waiting_for"] is not None
    # AND never the query text
    assert SECRET not in json.dumps(result)


def test_definitions_defaults_and_validity(report) -> None:
    indexes = {r["index_name"]: r for r in _rows(report("indexes"))}
    assert indexes["orders_total_big"]["definition"] == (
        "CREATE INDEX orders_total_big ON public.orders USING btree (total) WHERE (total > (100)::numeric)"
    )
    assert indexes["orders_pkey"]["primary"] is True and indexes["orders_pkey"]["valid"] is True
    constraints = {r["constraint_name"]: r for r in _rows(report("constraints"))}
    assert (
        constraints["orders_user"]["validated"] is False
        and constraints["orders_user"]["kind"] == "foreign key"
    )
    assert constraints["orders_total"]["definition"] == "CHECK ((total >= (0)::numeric))"
    columns = {(r["table_name"], r["column_name"]): r for r in _rows(report("columns"))}
    assert columns[("users", "email")]["default"] == "'nobody@example.com'::text"
    assert columns[("users", "id")]["default"] == "nextval('public.users_id_seq'::regclass)"
    assert columns[("orders", "id")]["identity"] == "always"
    assert columns[("orders", "total")]["type"] == "numeric(10,2)"
    sizes = {r["table_name"]: r for r in _rows(report("sizes"))}
    assert sizes["users"]["total_bytes"] > 0


def test_sequences_show_last_value_and_headroom(report) -> None:
    sequences = {r["sequence"]: r for r in _rows(report("sequences"))}
    users = sequences["users_id_seq"]
    assert users["last_value"] == 57 and users["values_left"] == 9223372036854775807 - 57


def test_a_revoke_hides_a_table_from_the_reports(report, database: dict[str, str]) -> None:
    with psycopg.connect(database["migrator"], autocommit=True) as conn:
        report("columns")  # the reader exists, with SELECT on every table
        conn.execute("REVOKE SELECT ON hidden FROM migrator_sql_reader")
    for name in ("columns", "indexes", "sizes"):
        assert "hidden" not in json.dumps(report(name)), name


def test_activity_counts_sessions_it_may_not_see_in_detail(report, database: dict[str, str]) -> None:
    with psycopg.connect(database["migrator"], autocommit=True, application_name="busy-app") as busy:
        busy.execute("BEGIN; SELECT 1")
        rows = [r for r in _rows(report("activity")) if r["application_name"] == "busy-app"]
        busy.execute("ROLLBACK")
    # another role's session: counted, its state hidden without pg_read_all_stats (the note says so)
    assert rows and rows[0]["role"] == "migrator" and rows[0]["state"] == "not visible"
    assert "pg_read_all_stats" in report("activity")["note"]


def test_nothing_planted_runs_in_a_report(report, database: dict[str, str]) -> None:
    with psycopg.connect(database["superuser"], autocommit=True) as conn:
        conn.execute(PLANTED)
    for name in ("columns", "indexes", "sizes", "locks", "activity"):
        assert "planted" not in json.dumps(report(name)), name


def test_an_unknown_report_is_refused_with_the_list(database, monkeypatch, lambda_context) -> None:
    monkeypatch.setenv("DATABASE_URL", database["migrator"])
    result = handler_module.handler({"action": "report", "name": "everything"}, lambda_context)
    assert result["ok"] is False and result["error"]["type"] == "InvalidEvent"
    assert "locks, activity, indexes" in result["error"]["message"]
