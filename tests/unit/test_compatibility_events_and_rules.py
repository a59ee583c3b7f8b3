"""The compatibility check's events, settings and pure rules, without any service: serving colours, the
check, capture and statements actions, MIGRATOR_COLOR_ROLES, the transaction-safe form of non-transactional
statements, what a statement writes, and the fixes the refusal names."""

from __future__ import annotations

import pytest
from migrator.cli import event_from_env
from migrator.errors import ConfigurationError, InvalidEvent
from migrator.events import CaptureRequest, CheckRequest, MigrateRequest, StatementsRequest, parse_event
from migrator.runner import compat, shadow, shapes
from migrator.settings import Settings


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"action": "check"}, CheckRequest()),
        ({"action": "check", "target": "0007", "serving": ["green"]}, CheckRequest("0007", ("green",))),
        ({"action": "check", "serving": ["green", "blue"]}, CheckRequest(serving=("blue", "green"))),
        ({"action": "check", "serving": "green"}, CheckRequest(serving=("green",))),  # make's SERVING=green
        ({"action": "migrate", "allow_incompatible": True}, MigrateRequest(allow_incompatible=True)),
        ({"action": "migrate", "serving": "blue,green"}, MigrateRequest(serving=("blue", "green"))),
        ({"action": "capture"}, CaptureRequest()),
        ({"action": "statements"}, StatementsRequest()),
        ({"action": "statements", "color": "green"}, StatementsRequest(color="green")),
    ],
)
def test_the_new_events_become_typed_requests(event, expected):
    assert parse_event(event) == expected


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"action": "check", "serving": []}, '"serving" lists the colours'),
        ({"action": "check", "serving": ["purple"]}, '"serving" lists the colours'),
        ({"action": "check", "serving": ["blue", "blue"]}, '"serving" lists the colours'),
        ({"action": "migrate", "serving": 1}, '"serving" lists the colours'),
        ({"action": "migrate", "allow_incompatible": "yes"}, '"allow_incompatible" must be true or false'),
        ({"action": "statements", "color": "red"}, '"color" must be "blue" or "green"'),
        ({"action": "capture", "color": "blue"}, "does not take 'color'"),
        ({"action": "check", "dry_run": True}, "does not take 'dry_run'"),
    ],
)
def test_bad_values_are_refused_by_name(event, fragment):
    with pytest.raises(InvalidEvent, match=fragment):
        parse_event(event)


def test_make_passes_serving_allow_incompatible_and_colour_only_where_they_belong():
    event = event_from_env(
        {"KIT_ACTION": "migrate", "KIT_SERVING": "green", "KIT_ALLOW_INCOMPATIBLE": "1", "KIT_COLOR": "blue"}
    )
    # COLOR means other things to other targets: only the statements action takes it
    assert event == {"action": "migrate", "serving": "green", "allow_incompatible": True}
    assert event_from_env({"KIT_ACTION": "statements", "KIT_COLOR": "blue"}) == {
        "action": "statements",
        "color": "blue",
    }


def test_colour_roles_default_to_the_group_name_and_can_be_named():
    assert Settings.from_env({}).roles_by_color == {"blue": "app_blue", "green": "app_green"}
    assert Settings.from_env({"MIGRATOR_APP_GROUP": "api"}).roles_by_color == {
        "blue": "api_blue",
        "green": "api_green",
    }
    named = Settings.from_env({"MIGRATOR_COLOR_ROLES": "green=svc_g, blue=svc_b"})
    assert named.roles_by_color == {"blue": "svc_b", "green": "svc_g"}
    secrets = Settings.from_env({"APP_GREEN_SECRET_ID": "arn:green"})
    assert secrets.secrets_by_color == {"green": "arn:green"}


@pytest.mark.parametrize(
    "raw",
    ["blue=app_blue", "blue=a,green=a", "blue=app,green=app_green", "blue=App,green=b", "red=a,green=b"],
)
def test_colour_roles_that_cannot_tell_the_colours_apart_are_refused(raw):
    with pytest.raises(ConfigurationError, match="MIGRATOR_COLOR_ROLES"):
        Settings.from_env({"MIGRATOR_COLOR_ROLES": raw})


def test_the_check_mode_is_enforce_warn_or_off():
    assert Settings.from_env({}).compat_check == "enforce"
    assert Settings.from_env({"MIGRATOR_COMPAT_CHECK": "warn"}).compat_check == "warn"
    with pytest.raises(ConfigurationError, match="enforce"):
        Settings.from_env({"MIGRATOR_COMPAT_CHECK": "loud"})


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON posts (author_id, created_at DESC)",
            "CREATE INDEX IF NOT EXISTS i ON posts (author_id, created_at DESC)",
        ),
        ("DROP INDEX CONCURRENTLY IF EXISTS i", "DROP INDEX IF EXISTS i"),
        ("REINDEX INDEX CONCURRENTLY i", "REINDEX INDEX i"),
        ("VACUUM ANALYZE posts", None),
        ("ALTER TABLE users ADD COLUMN x int", "ALTER TABLE users ADD COLUMN x int"),
    ],
)
def test_non_transactional_statements_get_their_transactional_form_in_the_shadow(statement, expected):
    assert shadow.transaction_safe(statement) == expected


@pytest.mark.parametrize(
    ("query", "insert", "star"),
    [
        (
            "INSERT INTO users (username, full_name) VALUES ($1, $2)",
            ("users", ("username", "full_name"), None),
            False,
        ),
        ("INSERT INTO public.users VALUES ($1, $2, $3)", ("public.users", None, 3), False),
        ("INSERT INTO t (a) SELECT x FROM s RETURNING *", ("t", ("a",), None), True),
        ("SELECT * FROM users WHERE id = $1", None, True),
        ("SELECT u.* FROM users u", None, True),
        ("SELECT count(*) FROM users", None, False),
    ],
)
def test_what_a_statement_writes_and_whether_it_selects_star(query, insert, star):
    shape = shapes.of(query)
    assert shape.star is star
    if insert is None:
        assert shape.insert is None
    else:
        assert (shape.insert.table, shape.insert.columns, shape.insert.count) == insert


@pytest.mark.parametrize(
    ("query", "inserts", "compiled"),
    [
        # MERGE's insert branches write too
        (
            "MERGE INTO contacts c USING (SELECT $1::text AS name) s ON c.name = s.name "
            "WHEN NOT MATCHED THEN INSERT (name) VALUES (s.name)",
            [("contacts", ("name",), None)],
            None,
        ),
        # a SELECT * source: neither names nor a count (as many as the table had: compat._written)
        (
            "INSERT INTO orders_archive SELECT * FROM orders WHERE id = $1",
            [("orders_archive", None, None)],
            None,
        ),
        # COPY and DECLARE are compiled as what they run
        (
            "COPY items (name, price) FROM STDIN",
            [("items", ("name", "price"), None)],
            'INSERT INTO "items" ("name", "price") VALUES ($1, $2)',
        ),
        ("COPY public.items TO STDOUT", [], 'SELECT * FROM "public"."items"'),
        ("COPY (SELECT id FROM items WHERE id > $1) TO STDOUT", [], "SELECT id FROM items WHERE id > $1"),
        (
            'DECLARE "export" CURSOR WITHOUT HOLD FOR SELECT id, total FROM reports WHERE id > $1',
            [],
            "SELECT id, total FROM reports WHERE id > $1",
        ),
    ],
)
def test_what_merge_copy_and_declare_write_and_compile_as(query, inserts, compiled):
    shape = shapes.of(query)
    assert [(i.table, i.columns, i.count) for i in shape.inserts] == inserts
    assert shape.compile == compiled


def test_a_copy_without_columns_is_compiled_with_the_tables_width():
    shape = shapes.of("COPY items FROM STDIN")
    assert shape.copy_all == "items" and shape.compile is None
    assert shapes.copy_all("public.items", 2) == 'INSERT INTO "public"."items" VALUES ($1, $2)'
    assert shapes.of("SELECT o.id FROM public.orders o JOIN users u ON true").tables == {
        "public.orders",
        "users",
    }


def test_the_fix_depends_on_what_broke_and_on_the_migration_being_a_contract_step():
    assert compat.fix_for("compile", color="blue", migration="0009").startswith("mark 0009 contract")
    assert "split it: add the new column" in compat.fix_for("compile", color="blue", migration="0009")
    assert "DEFAULT" in compat.fix_for("not_null", color="blue", migration="0009", detail="users.email")
    assert "column of the new type" in compat.fix_for("type", color="blue", migration="0009")
    assert "keep the grant" in compat.fix_for("privilege", color="blue", migration="0009")
    contract = compat.fix_for("compile", color="blue", migration="0007", contract=True)
    assert "is a contract step: run it only once blue is retired" in contract
