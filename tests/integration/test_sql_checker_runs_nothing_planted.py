"""The defence must not be the way in: the server-side check and the reader-role setup run nothing they did
not choose, and trust only what a superuser installed.

1. *Planted names.* The test first records every query the check and the role setup send (through a
   connection that asks PostgreSQL for each query's analysis), and reads from those analyses every function,
   aggregate and operator they call, with the argument types they pass (before and after implicit casts).
   Then it plants, in ``public``, a function, aggregate or operator of each of those names for every
   combination of those argument types (and of the common integer, oid, name and text types), each writing a
   marker through dblink (a write no READ ONLY transaction stops), and temporary views named like every
   catalog the check reads, in the session under test. Then it runs the check (on that session), the role
   setup and the whole action again: no marker may be written, and the answers must not change.
   Against the first versions (``search_path = pg_catalog, public``, ``oid < 16384``, ``= ANY(%s::oid[])``
   with int2 parameters, ``string_agg(name, ...)``) planted operators ran inside the check.
2. *Laundered extension members.* A trusted extension the migrator installed (so it owns it), plus ``ALTER
   EXTENSION ... ADD FUNCTION``, made the migrator's own function "trusted". Now a member counts only when a
   superuser (or the bootstrap role) owns it; and one path of the old rule shadowed an alias and trusted no
   extension at all. Both directions are tested.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sql_database
from migrator import sqlaction
from migrator.errors import UnsafeSQL
from migrator.sqlaction import reader_role
from migrator.sqlaction.nodetree import Node, oids, parse_node_tree, undo_line_breaks, walk
from migrator.sqlaction.readonly import run_readonly

from scripts.localdefault import localenv

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, email varchar(100) NOT NULL, tags int[]);
CREATE INDEX users_email ON users (lower(email));
INSERT INTO users VALUES (1, 'ada@example.com', '{1}'), (2, 'grace@example.com', '{2}');
CREATE VIEW v_users AS SELECT id, upper(email) AS email FROM users WHERE id > 0;
CREATE TABLE t_rls (note text); ALTER TABLE t_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY see ON t_rls USING (note <> 'hidden');
CREATE TABLE t_parent (id int); CREATE TABLE t_child () INHERITS (t_parent);
CREATE TABLE t_part (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE t_part_1 PARTITION OF t_part FOR VALUES FROM ('2020-01-01') TO ('2030-01-01');
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b positive);
CREATE TABLE t_types (m mood, p pair, r int4range, d positive);
CREATE SEQUENCE s_plain;
"""

# What the planted code does: write once per session through dblink, which no READ ONLY transaction stops.
MARKER = """
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TABLE plant_audit (note text);
CREATE SCHEMA plant;
CREATE FUNCTION plant.mark(note text) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF current_setting('plant.hit', true) IS NULL THEN
    PERFORM set_config('plant.hit', 'yes', false);
    PERFORM dblink_exec('{dblink}', format('INSERT INTO plant_audit VALUES (%L)', note));
  END IF;
  RETURN true;
END $$;
GRANT USAGE ON SCHEMA plant TO PUBLIC;
"""

# The action's queries that reach every path of the check: relations with indexes, views, row-level
# security, inheritance, partitions, user types (enum, composite, domain, range), catalogs with denied
# columns, functions, operators, EXPLAIN and SHOW.
QUERIES = (
    "SELECT id, lower(email) FROM users WHERE id = 1 AND email LIKE 'a%' ORDER BY email",
    "SELECT email FROM v_users",
    "SELECT note FROM t_rls",
    "SELECT count(*) FROM t_parent",
    "SELECT count(*) FROM t_part WHERE at > date '2024-01-01'",
    "SELECT m, p, r, d FROM t_types",
    "SELECT relname, relkind FROM pg_class WHERE relname = 'users'",
    "SELECT id FROM users u WHERE u.id IN (SELECT id FROM users WHERE tags[1] > 0) UNION ALL SELECT 1",
    "SELECT last_value FROM s_plain",
    "EXPLAIN SELECT * FROM users WHERE id = 2",
    "SHOW work_mem",
)

# Types every planted name is also tried with, at every position.
COMMON_TYPES = ("smallint", "integer", "bigint", "oid", "text", "name", "regclass")


class Recording(psycopg.Connection):
    """A connection that asks PostgreSQL for the analysis of every query sent through ``execute``."""

    trees: list[Node]

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        text = query if isinstance(query, str) else query.as_string(self)
        shown = text + repr(params)  # setting names may be bound parameters
        own_debugging = "debug_print_parse" in shown or "client_min_messages" in shown
        if own_debugging or not text.lstrip().upper().startswith(("SELECT", "WITH")):
            return super().execute(query, params, **kwargs)
        captured: list[str] = []

        def receive(diag: psycopg.errors.Diagnostic) -> None:
            if diag.message_primary == "parse tree:" and diag.message_detail:
                captured.append(diag.message_detail)

        saved = (
            super()
            .execute(
                "SELECT pg_catalog.current_setting('debug_print_parse'),"
                " pg_catalog.current_setting('client_min_messages'),"
                " pg_catalog.set_config('debug_print_parse', 'on', true),"
                " pg_catalog.set_config('debug_pretty_print', 'off', true),"
                " pg_catalog.set_config('client_min_messages', 'log', true)"
            )
            .fetchone()
        )
        self.add_notice_handler(receive)
        try:
            cursor = super().execute(query, params, **kwargs)
            rows = cursor.fetchall() if cursor.description is not None else None
        finally:
            self.remove_notice_handler(receive)
        super().execute(
            "SELECT pg_catalog.set_config('debug_print_parse', %s, true),"
            " pg_catalog.set_config('client_min_messages', %s, true)",
            saved[:2],
        )
        self.trees += [parse_node_tree(undo_line_breaks(tree)) for tree in captured]
        return _Replayed(rows)


class _Replayed:
    def __init__(self, rows: list[tuple] | None) -> None:
        self.rows = rows or []

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return self.rows

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)


# ----------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def database(local_default: localenv.State) -> Iterator[dict[str, str]]:
    with sql_database.migrator_owned(local_default, "t_plant") as urls:
        with psycopg.connect(urls["migrator"], autocommit=True) as conn:
            conn.execute(SCHEMA)
        dblink = sql_database.dblink_conninfo(urls["superuser"])
        with psycopg.connect(urls["superuser"], autocommit=True) as conn:
            conn.execute(MARKER.replace("{dblink}", dblink))
        sqlaction.sql(urls["migrator"], "SELECT 1")  # the reader role exists before anything is planted
        yield urls


def _type_of(node: Any) -> int | None:
    """PostgreSQL's exprType for the nodes the check's own queries use."""
    if not isinstance(node, Node):
        return None
    fields = {
        "VAR": "vartype", "CONST": "consttype", "PARAM": "paramtype", "FUNCEXPR": "funcresulttype",
        "OPEXPR": "opresulttype", "NULLIFEXPR": "opresulttype", "AGGREF": "aggtype", "WINDOWFUNC": "wintype",
        "RELABELTYPE": "resulttype", "COERCEVIAIO": "resulttype", "ARRAYCOERCEEXPR": "resulttype",
        "FIELDSELECT": "resulttype", "CASEEXPR": "casetype", "COALESCEEXPR": "coalescetype",
        "MINMAXEXPR": "minmaxtype", "ARRAYEXPR": "array_typeid", "ROWEXPR": "row_typeid",
        "SUBSCRIPTINGREF": "refrestype", "SQLVALUEFUNCTION": "type", "COERCETODOMAIN": "resulttype",
    }  # fmt: skip
    if node.name in (
        "BOOLEXPR",
        "NULLTEST",
        "BOOLEANTEST",
        "SCALARARRAYOPEXPR",
        "DISTINCTEXPR",
        "ROWCOMPAREEXPR",
    ):
        return 16
    if node.name == "COLLATEEXPR":
        return _type_of(node.get("arg"))
    if node.name == "SUBLINK":
        return None
    found = oids(node.get(fields.get(node.name, "")))
    return found[0] if found else None


def _before_implicit_casts(node: Any) -> Any:
    while isinstance(node, Node) and (
        (node.name == "FUNCEXPR" and node.get("funcformat") == "2")
        or (node.name == "RELABELTYPE" and node.get("relabelformat") == "2")
        or (node.name in ("COERCEVIAIO", "ARRAYCOERCEEXPR") and node.get("coerceformat") == "2")
    ):
        node = node.get("arg") if node.name != "FUNCEXPR" else (node.get("args") or [None])[0]
    return node


_KINDS = {
    "FUNCEXPR": "function", "AGGREF": "aggregate", "OPEXPR": "operator", "SCALARARRAYOPEXPR": "operator",
    "DISTINCTEXPR": "operator", "NULLIFEXPR": "operator",
}  # fmt: skip


def _call_sites(trees: list[Node]) -> list[tuple[str, int, list[set[int]], int, str]]:
    """(kind, function or operator oid, argument types per position, result type, node) of every call that
    PostgreSQL resolved by name."""
    sites = []
    for tree in trees:
        for node in walk(tree):
            kind = _KINDS.get(node.name)
            if kind is None or (kind == "function" and node.get("funcformat") != "0"):
                continue
            key = {"function": "funcid", "aggregate": "aggfnoid", "operator": "opno"}[kind]
            args = [a.get("expr") if isinstance(a, Node) and a.name == "TARGETENTRY" else a
                    for a in node.get("args") or []]  # fmt: skip
            types = [{t for t in (_type_of(a), _type_of(_before_implicit_casts(a))) if t} for a in args]
            if node.name == "SCALARARRAYOPEXPR" and len(types) == 2:
                types[1] = set()  # the element type of the array: filled from the operator below
            result = _type_of(node) or 16
            sites.append((kind, oids(node.get(key))[0], types, result, node.get("aggstar") or "false"))
    return sites


def _plants(conn: psycopg.Connection, sites: list) -> list[str]:
    """CREATE statements for a marker-writing overload in public of every name, for every type combination."""
    names: dict[tuple[str, str, int], dict[str, Any]] = {}
    for kind, oid, types, result, star in sites:
        if star == "true":
            continue  # count(*): nothing but count(*) itself matches, and pg_catalog comes first
        if kind == "operator":
            name, _left, right, code_result = conn.execute(
                "SELECT oprname, oprleft, oprright, oprresult FROM pg_operator WHERE oid = %s", (oid,)
            ).fetchone()
            if not types[1]:
                types = [types[0], {right}]
            result = code_result
        else:
            (name,) = conn.execute("SELECT proname FROM pg_proc WHERE oid = %s", (oid,)).fetchone()
        entry = names.setdefault(
            (kind, name, len(types)), {"types": [set() for _ in types], "results": set()}
        )
        for position, seen in enumerate(types):
            entry["types"][position] |= seen
        entry["results"].add(result)
    statements: list[str] = []
    shown = {row[0]: row[1] for row in conn.execute(
        "SELECT oid, format_type(oid, NULL) FROM pg_type WHERE typtype <> 'p' OR oid = 'anyarray'::regtype"
    )}  # fmt: skip
    common = set(COMMON_TYPES)
    for number, ((kind, name, arity), entry) in enumerate(sorted(names.items(), key=str)):
        positions = [sorted({shown[t] for t in seen if t in shown} | common) for seen in entry["types"]]
        result = next(
            (shown[r] for r in entry["results"] if r in shown and shown[r] != "anyarray"), "boolean"
        )
        for combination_number, combination in enumerate(itertools.product(*positions)):
            if "anyarray" in combination:
                continue
            args = ", ".join(combination)
            helper = f"plant.f_{number}_{combination_number}"
            marker = f"$m${kind} {name}({args})$m$"
            left_argument = f"LEFTARG = {combination[0]}, " if arity == 2 else ""
            if kind == "operator":
                statements.append(
                    f"CREATE FUNCTION {helper}({args}) RETURNS {result} LANGUAGE sql SECURITY DEFINER"
                    f" AS $$ SELECT CASE WHEN plant.mark({marker}) THEN NULL::{result} END $$;"
                    f" CREATE OPERATOR public.{name} ({left_argument}"
                    f"RIGHTARG = {combination[-1]}, FUNCTION = {helper})"
                )
            elif kind == "aggregate":
                statements.append(
                    f"CREATE FUNCTION {helper}({result}, {args}) RETURNS {result}"
                    " LANGUAGE sql SECURITY DEFINER"
                    f" AS $$ SELECT CASE WHEN plant.mark({marker}) THEN $1 END $$;"
                    f" CREATE AGGREGATE public.{name}({args}) (SFUNC = {helper}, STYPE = {result})"
                )
            else:
                returns = f"SETOF {result}" if name in ("unnest", "generate_series", "aclexplode") else result
                statements.append(
                    f"CREATE FUNCTION public.{name}({args}) RETURNS {returns} LANGUAGE sql SECURITY DEFINER"
                    f" AS $$ SELECT CASE WHEN plant.mark({marker}) THEN NULL::{result} END $$"
                )
    return statements


def _catalogs_read(sites_trees: list[Node]) -> set[str]:
    relations = set()
    for tree in sites_trees:
        for node in walk(tree):
            if node.name == "RANGETBLENTRY" and node.get("rtekind") == "0":
                relations.update(oids(node.get("relid")))
    return {r for r in relations if r < 16384}


def _audit(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT note FROM plant_audit ORDER BY note").fetchall()


# ------------------------------------------------------------------------------------------- tests


def test_the_planted_marker_really_writes(database: dict[str, str]) -> None:
    # Without this, "no marker" below would prove nothing: a write through dblink survives READ ONLY.
    with psycopg.connect(database["superuser"], autocommit=True) as admin:
        admin.execute("BEGIN READ ONLY")
        admin.execute("SELECT plant.mark('read-only transaction')")
        admin.execute("ROLLBACK")
        assert _audit(admin) == [("read-only transaction",)]
        admin.execute("DELETE FROM plant_audit")


LAUNDER = """
CREATE EXTENSION citext;  -- trusted: the migrator may install it, and then owns it
CREATE FUNCTION public.launder_imm() RETURNS int LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER
  AS $$ BEGIN PERFORM plant.mark('laundered immutable'); RETURN 0; END $$;
CREATE FUNCTION public.launder_check(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER
  AS $$ BEGIN RETURN plant.mark('laundered domain check'); END $$;
CREATE TYPE public.tag AS ENUM ('a', 'b');
CREATE FUNCTION public.launder_json(tag) RETURNS json LANGUAGE plpgsql SECURITY DEFINER
  AS $$ BEGIN PERFORM plant.mark('laundered cast to json'); RETURN '"x"'; END $$;
ALTER EXTENSION citext ADD FUNCTION public.launder_imm();
ALTER EXTENSION citext ADD FUNCTION public.launder_check(int);
ALTER EXTENSION citext ADD FUNCTION public.launder_json(tag);
CREATE CAST (tag AS json) WITH FUNCTION public.launder_json(tag);
CREATE TABLE t_launder_index (id int);
CREATE INDEX t_launder_index_expr ON t_launder_index ((id + launder_imm()));
CREATE DOMAIN laundered_int AS int CHECK (launder_check(VALUE));
CREATE TABLE t_launder_domain (d laundered_int);
CREATE TABLE t_launder_cast (t tag);
INSERT INTO t_launder_cast VALUES ('a');
-- the other direction: what a trusted extension really installed
CREATE TABLE t_citext (c citext);
INSERT INTO t_citext VALUES ('Ada');
CREATE INDEX t_citext_c ON t_citext (c);
CREATE DOMAIN short_citext AS citext CHECK (citext_ne(VALUE, 'forbidden'));
CREATE TABLE t_citext_domain (d short_citext);
"""


@pytest.fixture(scope="module")
def laundered(database: dict[str, str]) -> dict[str, str]:
    # GIVEN, as the migrator: a trusted extension it installed (so it owns it), and its own functions added to
    # it, used by an index expression, a domain's CHECK and a cast to json
    with psycopg.connect(database["migrator"], autocommit=True) as migrator:
        migrator.execute(LAUNDER)
    with psycopg.connect(database["superuser"], autocommit=True) as admin:
        admin.execute("DELETE FROM plant_audit")  # building the index ran launder_imm()
    return database


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("SELECT count(*) FROM t_launder_index", "launder_imm"),
        ("SELECT d FROM t_launder_domain", "laundered_int"),
        ("SELECT t FROM t_launder_cast", "cast to json"),
    ],
    ids=["index-expression", "domain-check", "cast-to-json"],
)
def test_a_member_the_migrator_added_to_an_extension_is_not_trusted(
    laundered: dict[str, str], query: str, refusal: str
) -> None:
    # WHEN the action reads them THEN it refuses, and the laundered code never ran
    result_error = None
    try:
        sqlaction.sql(laundered["migrator"], query)
    except UnsafeSQL as exc:
        result_error = str(exc)
    assert result_error is not None and refusal in result_error
    with psycopg.connect(laundered["superuser"], autocommit=True) as admin:
        assert _audit(admin) == []
        # AND the laundered function is a real payload when called directly
        admin.execute("SELECT launder_imm()")
        assert _audit(admin) == [("laundered immutable",)]
        admin.execute("DELETE FROM plant_audit")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT c FROM t_citext",
        "SELECT d FROM t_citext_domain",
    ],
    ids=["citext-column-and-index", "domain-check-calling-an-extension-function"],
)
def test_what_a_trusted_extension_installed_is_trusted(laundered: dict[str, str], query: str) -> None:
    # The members citext's own script created are owned by the bootstrap superuser, and are C functions. The
    # domain's CHECK calls citext's = (citext_eq): the first rule shadowed an alias in exactly this path and
    # trusted no extension at all there.
    result = sqlaction.sql(laundered["migrator"], query)
    assert result["rows"] in ([["Ada"]], [])


def test_the_check_and_the_role_setup_run_nothing_planted(database: dict[str, str]) -> None:
    with psycopg.connect(database["superuser"], autocommit=True) as admin:
        admin.execute("DELETE FROM plant_audit")
    # GIVEN what the check and the role setup send, read back from PostgreSQL's own analysis of each query
    with Recording.connect(database["superuser"], autocommit=True) as recorder:
        recorder.trees = []
        answers_before = [_answer(recorder, query) for query in QUERIES]
        with Recording.connect(database["migrator"], autocommit=True) as migrator:
            migrator.trees = []
            reader_role.ensure_reader(migrator, role="migrator_sql_reader", password="x" * 24)
        trees = recorder.trees + migrator.trees
    with psycopg.connect(database["superuser"], autocommit=True) as admin:
        sites = _call_sites(trees)
        statements = _plants(admin, sites)
        # (computed before anything is planted: the planted operators would answer this test's queries too)
        catalogs = admin.execute(
            "SELECT c.oid::regclass::text, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)"
            " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE c.oid = ANY (%s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped"
            " AND a.atttypid <> 'anyarray'::regtype GROUP BY c.oid",
            (sorted(_catalogs_read(trees)),),
        ).fetchall()
        assert len(sites) >= 20 and len(statements) >= 200, (len(sites), len(statements))
        # AND, in public, an overload of every one of those names for every type combination, each writing a
        # marker through dblink
        failed = []
        for statement in statements:
            try:
                admin.execute(statement)
            except psycopg.Error as exc:  # a combination PostgreSQL itself refuses (a duplicate, say)
                failed.append((statement[:120], exc.diag.message_primary))
        assert len(failed) < len(statements) / 4, failed[:5]
        assert _audit(admin) == []

        # WHEN the check runs on a session that also has temporary views named like every catalog it reads,
        # the role setup runs, and the whole action runs as the reader role
        errors: list[BaseException] = []
        answers_after: list[Any] = []
        reader_rows: list[Any] = []
        with psycopg.connect(database["superuser"], autocommit=True) as session:
            for catalog, columns in catalogs:
                session.execute(
                    f"CREATE TEMPORARY VIEW {catalog.split('.')[-1]} AS"
                    f" SELECT {columns} FROM {catalog} WHERE plant.mark('temporary view {catalog}')"
                )
            for query in QUERIES:
                _collect_errors(errors, lambda q=query: answers_after.append(_answer(session, q)))
        with psycopg.connect(database["migrator"], autocommit=True) as migrator:
            _collect_errors(errors, lambda: reader_role.ensure_reader(migrator, role="migrator_sql_reader",
                                                                       password="x" * 24))  # fmt: skip
        for query in QUERIES[:3]:
            _collect_errors(
                errors, lambda q=query: reader_rows.append(sqlaction.sql(database["migrator"], q)["rows"])
            )

        # THEN none of the planted code ran (the marker names what did), and the answers are the same
        ran = [note for (note,) in _audit(admin)]
        assert not ran, "planted code ran: " + "; ".join(ran)
        assert errors == []
        assert answers_after == answers_before
        assert reader_rows[0] == [[1, "ada@example.com"]]
        # (the planted objects stay: this is the module's last test, and its database is dropped after it)


def _collect_errors(errors: list[BaseException], step: Any) -> None:
    try:
        step()
    except Exception as exc:
        errors.append(exc)


def _answer(conn: psycopg.Connection, query: str) -> Any:
    try:
        result = run_readonly(conn, query)
        return result["rows"] if not query.startswith("EXPLAIN") else len(result["rows"])
    except UnsafeSQL as exc:
        return f"refused: {exc}"
