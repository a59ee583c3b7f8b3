"""Attacks on the ``sql`` action, family by family, through the real handler and layer by layer.

The defence has four layers (see migrator.sqlaction.readonly): the parser guard, the server-side check of what
the query resolves to, the least-privileged reader role (with the READ ONLY transaction), and the limits
(timeouts, temp_file_limit, row and byte caps). Each attack below states which layers stop it, and the tests
prove each claim with the other layers switched off:

* through the handler, with every layer on: refused, and nothing changed (before/after snapshot);
* the guard alone (server-side check off, as a superuser): UnsafeSQL naming the reason;
* the server-side check alone (guard off, as a superuser): UnsafeSQL naming the object;
* the reader role alone (guard and check off, through the handler): PostgreSQL refuses, or the answer hides
  the secret, or the caps bound it. Attacks no privilege can stop (uncancellable or memory-hungry
  functions, planted SECURITY DEFINER code, settings every role may read) say so and are not run unguarded.

The database is owned by the local default's migrator role (non-superuser, CREATEROLE, like the RDS master
user); a superuser plants the attacker's objects: dblink, overloads, operators with an operator class, a
domain, a cast, a view, a large object, a user mapping with a password, and custom settings.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from migrator import handler as handler_module
from migrator import sqlaction
from migrator.errors import UnsafeSQL
from migrator.sqlaction import reader_role, readonly, resolver
from migrator.sqlaction.readonly import run_readonly

from scripts.localdefault import localenv

SECRET = "s3cr3t-" + uuid.uuid4().hex[:8]


def _columns(count: int) -> str:
    return ", ".join(f"c{number}" for number in range(1, count + 1))


@dataclass(frozen=True)
class Attack:
    id: str
    sql: str
    guard: str | None  # a fragment of the guard's refusal, or None: the guard cannot see it
    resolver: str | None  # a fragment of the server-side check's refusal, or None
    # With only the reader role and the limits: "denied" (PostgreSQL refuses), "hidden" (it runs but the
    # secret is not in the answer), "capped" (it runs and the byte cap truncates it), "bounded" (the
    # statement or temp-file limit stops it), or "not run: <why>" when no privilege can stop it.
    reader: str


ATTACKS: tuple[Attack, ...] = (
    # 1. attribute notation calls any one-argument function
    Attack("attr-terminate-backend",
           "SELECT (pid).pg_terminate_backend FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
           "attribute notation", "pg_terminate_backend", "denied"),
    Attack("attr-lo-get", "SELECT oid, (oid).lo_get FROM pg_largeobject_metadata", "lo_get", "lo_get",
           "denied"),
    Attack("attr-advisory-lock", "SELECT (7::bigint).pg_try_advisory_lock", "pg_try_advisory_lock",
           "pg_try_advisory_lock", "hidden"),  # a session lock, gone when the action's connection closes
    Attack("attr-sleep", "SELECT (0.1::float8).pg_sleep", "pg_sleep", "pg_sleep", "hidden"),
    Attack("attr-ts-stat", "SELECT ('SELECT to_tsvector(email) FROM users'::text).ts_stat", "ts_stat",
           "ts_stat", "hidden"),  # runs its query as the reader, which reads only what it may
    Attack("attr-read-file", "SELECT ('/etc/hostname'::text).pg_read_file", "pg_read_file", "pg_read_file",
           "denied"),
    Attack("attr-ls-dir", "SELECT ('.'::text).pg_ls_dir", "pg_ls_dir", "pg_ls_dir", "denied"),
    Attack("attr-stat-file", "SELECT ('.'::text).pg_stat_file", "pg_stat_file", "pg_stat_file", "denied"),
    Attack("attr-lo-import", "SELECT ('/etc/hostname'::text).lo_import", "lo_import", "lo_import", "denied"),
    Attack("attr-dblink-exec",
           "SELECT (c).dblink_connect, ('INSERT INTO audit VALUES (''dblink'')'::text).dblink_exec"
           " FROM (SELECT 'dbname=' || current_database() AS c) s",
           "dblink", "dblink", "denied"),  # a non-superuser's dblink needs a password
    # 2. time: quadratic work that the statement timeout cannot cancel
    Attack("translate-quadratic",
           "SELECT length(translate(format('%40000s', ''), replace(format('%40000s', ''), ' ', 'z'), 'y'))",
           "quadratic", "quadratic", "not run: uncancellable for 15 s and more"),
    Attack("strpos-quadratic", "SELECT strpos(a.email, b.email) FROM users a, users b", "quadratic",
           "strpos", "not run: uncancellable on long values"),
    Attack("replace-quadratic", "SELECT replace(email, 'a', email) FROM users", "quadratic", "replace",
           "not run: uncancellable and amplifying"),
    Attack("split-part-quadratic", "SELECT split_part(email, email, 2) FROM users", "quadratic",
           "split_part", "not run: uncancellable on long values"),
    Attack("like-column-pattern", "SELECT count(*) FROM users a, users b WHERE a.email LIKE b.email",
           "literal pattern", "literal pattern", "not run: LIKE backtracking is uncancellable"),
    Attack("array-containment", "SELECT count(*) FROM users WHERE tags @> tags", None, "arraycontains",
           "not run: containment loops are uncancellable"),
    Attack("jsonb-containment", "SELECT count(*) FROM users WHERE doc @> doc", None, "jsonb_contains",
           "not run: containment loops are uncancellable"),
    # 3. bytes and memory
    Attack("format-padding", "SELECT format('%4000000s', g) FROM generate_series(1, 10) g", "format()",
           "format", "capped"),
    Attack("string-agg", "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100000) g",
           "unbounded size", "string_agg", "capped"),
    Attack("array-subquery", "SELECT ARRAY(SELECT md5(g::text) FROM generate_series(1, 100000) g)",
           "ARRAY(subquery)", "ARRAY(subquery)", "capped"),
    Attack("char-padding", "SELECT 'x'::char(10485760)", "over the limit", "over the limit", "capped"),
    Attack("derived-doubling",
           "SELECT length(s || s) FROM (SELECT s || s AS s FROM (SELECT s || s AS s FROM (SELECT s || s AS s"
           " FROM (SELECT s || s AS s FROM (SELECT s || s AS s FROM (SELECT s || s AS s FROM"
           " (SELECT 'x' AS s) a) b) c) d) e) f) g",
           "copies of its inputs", None, "not run: PostgreSQL has no per-query memory limit"),
    Attack("recursive-doubling",
           "WITH RECURSIVE r(s, n) AS (SELECT 'x'::text, 1 UNION ALL SELECT s || s, n + 1 FROM r"
           " WHERE n < 40) SELECT length(s) FROM r",
           "bigger on each iteration", None, "not run: PostgreSQL has no per-query memory limit"),
    Attack("huge-series", "SELECT count(*) FROM generate_series(1, 1000000000)", "1000000000 rows",
           "1000000000 rows", "bounded"),
    Attack("temp-file-spill",
           "SELECT a.g, b.g FROM generate_series(1, 100000) a(g), generate_series(1, 100000) b(g)"
           " ORDER BY a.g DESC, b.g DESC",
           None, None, "bounded"),  # allowed by both checks: temp_file_limit (or the timeout) stops it
    # 4. objects someone else created
    Attack("planted-overload", "SELECT lower(email) FROM users", None, "public.lower(character varying)",
           "not run: a planted SECURITY DEFINER function runs as its owner"),
    Attack("planted-immutable-under-explain", "EXPLAIN SELECT lower('x'::varchar)", None, "public.lower",
           "not run: planning folds the planted IMMUTABLE function"),
    Attack("planted-operator-any", "SELECT count(*) FROM users WHERE id === ANY (SELECT id FROM users)",
           None, "operator public.===", "not run: a planted SECURITY DEFINER function runs as its owner"),
    Attack("planted-operator-qualified",
           "SELECT count(*) FROM users WHERE id OPERATOR(util.===) ALL (SELECT id FROM users)",
           "OPERATOR(util.===)", "operator util.===", "not run: planted code"),
    Attack("planted-order-by-using", "SELECT id FROM users ORDER BY id USING OPERATOR(util.<<<)",
           "ORDER BY ... USING", "operator util.<<<", "not run: planted code"),
    Attack("planted-order-by-using-unqualified", "SELECT id FROM users ORDER BY id USING <<<", None,
           "operator public.<<<", "not run: planted code"),
    Attack("planted-domain", "SELECT 1::util.checked_int", "type util.checked_int", "domain util.checked_int",
           "not run: planted code"),
    Attack("planted-domain-unqualified", "SELECT 7::checked_int", None, "domain public.checked_int",
           "not run: planted code"),
    Attack("planted-cast", "SELECT CAST(7 AS util.money2)", "type util.money2", "util.int_to_money2",
           "not run: planted code"),
    Attack("planted-view", "SELECT * FROM v_evil", None, "util.evil", "denied"),  # not granted to the reader
    # 5. leaks
    Attack("user-mapping-options", "SELECT * FROM information_schema.user_mapping_options",
           "FDW credentials", "FDW credentials", "hidden"),
    Attack("custom-setting", "SELECT current_setting('app.secret')", "custom setting", "custom setting",
           "not run: every role reads database-level settings"),
    Attack("show-custom-setting", "SHOW app.secret", "custom setting", "custom setting",
           "not run: every role reads database-level settings"),
    Attack("db-role-setting", "SELECT setconfig FROM pg_db_role_setting", "pg_db_role_setting",
           "pg_db_role_setting", "not run: pg_db_role_setting is readable by every role"),
    Attack("rolconfig", "SELECT rolname, rolconfig FROM pg_roles", "rolconfig", "rolconfig",
           "not run: pg_roles is readable by every role"),
    Attack("prosrc", "SELECT prosrc FROM pg_proc WHERE proname = 'evil'", "prosrc", "prosrc",
           "not run: pg_proc is readable by every role"),
    Attack("viewdef-unreadable-view", "SELECT pg_get_viewdef('v_secret'::regclass)", "pg_get_viewdef",
           "pg_get_viewdef", "not run: pg_get_viewdef ignores privileges"),
    Attack("view-definition-column", "SELECT definition FROM pg_views WHERE viewname = 'v_secret'",
           "pg_views.definition", "pg_views.definition", "not run: pg_views is readable by every role"),
    Attack("activity-query-text", "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
           "pg_stat_activity.query", "pg_stat_activity.query", "hidden"),
    Attack("subconninfo-masking", "SELECT replace(subconninfo, 'password=', 'pw ') FROM pg_subscription",
           "replace", "subconninfo", "denied"),
    Attack("unreadable-table", "SELECT * FROM secret_table", None, None, "denied"),
    # 6. found by the red team against the first version of the two checks
    Attack("quote-in-alias-hides-a-call",
           'SELECT "a""" FROM (SELECT (0.1::float8).pg_sleep AS x) AS s("a""")', "pg_sleep", "pg_sleep",
           "hidden"),
    Attack("quote-in-alias-hides-an-overload",
           'SELECT "a""" FROM (SELECT lower(email) FROM users) AS s("a""")',
           None, "public.lower", "not run: planted code"),
    Attack("quote-in-alias-custom-setting",
           'SELECT "a""" FROM (SELECT ($$app.secret$$::text).current_setting) AS s("a""")',
           "current_setting", "custom setting", "not run: every role reads database-level settings"),
    Attack("alias-list-renames-prosrc", f"SELECT c26 FROM pg_proc AS p({_columns(26)}) WHERE c2 = 'evil'",
           "column list", "prosrc", "not run: pg_proc is readable by every role"),
    Attack("alias-list-renames-query-text",
           f"SELECT c21 FROM pg_stat_activity AS a({_columns(21)})"
           " WHERE c3 <> pg_backend_pid()",
           "column list", "query", "hidden"),
    Attack("attr-function-sqlbody", "SELECT (oid).pg_get_function_sqlbody FROM pg_proc LIMIT 1",
           "pg_get_function_sqlbody", "pg_get_function_sqlbody", "hidden"),
    Attack("attr-backend-activity",
           "SELECT (s).pg_stat_get_backend_activity FROM pg_stat_get_backend_idset() s",
           "pg_stat_get_backend", "pg_stat_get_backend", "hidden"),
    Attack("like-any-subquery", "SELECT 1 WHERE 'a' LIKE ANY (SELECT email FROM users)", "literal pattern",
           "IN (subquery)", "not run: LIKE backtracking is uncancellable"),
    Attack("like-any-subquery-as-a-join",
           "SELECT count(*) FROM users u WHERE u.email LIKE ANY (SELECT email FROM users)", "literal pattern",
           "literal pattern", "not run: LIKE backtracking is uncancellable"),
    Attack("domain-array-literal", "SELECT '{7}'::checked_int[] AS x", "not a built-in type", None,
           "not run: the domain's CHECK runs while the query is analysed"),
    Attack("composite-with-domain-literal", "SELECT '(7)'::wrap AS x", "not a built-in type", None,
           "not run: the domain's CHECK runs while the query is analysed"),
    Attack("range-with-planted-opclass", "SELECT '[1,5)'::erange AS x", "not a built-in type", None,
           "not run: the opclass runs while the query is analysed"),
    Attack("domain-array-at-run-time", "SELECT '{7}'::text::checked_int[] AS x", "not a built-in type",
           "domain", "not run: planted code"),
    Attack("planted-index-opclass", "SELECT note FROM orders WHERE id = 42", None, "has an index",
           "not run: planted code"),
    Attack("row-cast-doubling",
           "SELECT length(s) FROM (SELECT ROW(s)::text AS s FROM (SELECT ROW(s)::text AS s FROM"
           " (SELECT ROW(s)::text AS s FROM (SELECT ROW(s)::text AS s FROM (SELECT ROW(s)::text AS s FROM"
           " (SELECT ROW(s)::text AS s FROM"
           " (SELECT ROW(s)::text AS s FROM (SELECT $$\\$$ AS s) t0) t1) t2) t3) t4) t5) t6) t7",
           "copies of its inputs", None, "not run: PostgreSQL has no per-query memory limit"),
    Attack("regexp-capture-groups",
           "SELECT length(regexp_match(regexp_match(regexp_match('ab', '((((((((.*))))))))')::text,"
           " '((((((((.*))))))))')::text, '((((((((.*))))))))')::text)",
           "copies of its inputs", None, "not run: PostgreSQL has no per-query memory limit"),
    Attack("path-addition-concatenates",
           "SELECT s + s FROM (SELECT s + s AS s FROM (SELECT s + s AS s FROM (SELECT s + s AS s FROM"
           " (SELECT s + s AS s FROM (SELECT s + s AS s FROM (SELECT s + s AS s FROM"
           " (SELECT '[(0,0),(1,1)]'::path AS s) a) b) c) d) e) f) g",
           "copies of its inputs", None, "not run: PostgreSQL has no per-query memory limit"),
    Attack("numeric-power", "SELECT octet_length((x * x)::text) FROM (SELECT 10::numeric ^ 60000 - 1 AS x) s",
           "exponent", "exponent", "not run: numeric multiplication is uncancellable"),
    # 7. found by the red team's second round
    Attack("index-expression-folded-by-the-planner", "SELECT count(*) FROM t_idx", None, "calls util.imm()",
           "not run: planted code"),
    Attack("partition-key-expression", "SELECT count(*) FROM t_pk", None, "calls util.imm()",
           "not run: planted code"),
    Attack("statistics-expression", "SELECT count(*) FROM t_stx", None, "calls util.imm()",
           "not run: planted code"),
    Attack("child-check-constraint", "SELECT count(*) FROM t_chk_parent WHERE id = 5", None,
           "calls util.imm()", "not run: planted code"),
    Attack("inheritance-child-index", "SELECT note FROM t_parent WHERE id = 42", None, "has an index",
           "not run: planted code"),
    Attack("stored-range-with-planted-opclass", "SELECT r FROM t_range ORDER BY r", None, "range type",
           "not run: planted code"),
    Attack("typmod-in-through-to-regtype", "SELECT to_regtype('hstore(7)')", "modifier", "modifier",
           "not run: a planted typmod_in runs"),
    Attack("format-type-modifier", "SELECT format_type(atttypid, atttypmod) FROM pg_attribute LIMIT 1",
           "format_type", "format_type", "hidden"),
    Attack("numeric-from-computed-text",
           "SELECT octet_length((x * x)::text) FROM (SELECT ('1e' || '60000')::numeric - 1 AS x) s",
           "computed from text", "computed from text", "not run: numeric multiplication is uncancellable"),
    Attack("numeric-from-json-literal",
           "SELECT octet_length((x * x)::text)"
           " FROM (SELECT ('{\"a\": 1e60000}'::jsonb -> 'a')::numeric - 1 AS x) s",
           "computed from text", "computed from text", "not run: numeric multiplication is uncancellable"),
    Attack("sampled-values-of-a-catalog",
           "SELECT attname, histogram_bounds::text FROM pg_stats WHERE tablename = 'pg_db_role_setting'",
           "histogram_bounds", "histogram_bounds", "not run: pg_stats shows catalogs to every role"),
    Attack("explain-prints-a-policy", "EXPLAIN SELECT * FROM t_rls", None, "row-level security",
           "not run: EXPLAIN prints the policy"),
    Attack("index-definitions", "SELECT pg_get_indexdef(indexrelid) FROM pg_index", "pg_get_indexdef",
           "pg_get_indexdef", "not run: pg_get_indexdef ignores privileges"),
    Attack("rule-definitions", "SELECT definition FROM pg_rules", "pg_rules.definition", "definition",
           "not run: pg_rules is readable by every role"),
    Attack("trigger-arguments", "SELECT encode(tgargs, 'escape') FROM pg_trigger", "tgargs", "tgargs",
           "not run: pg_trigger is readable by every role"),
    # 8. found by the red team's third round
    Attack("default-opclass-through-array-equality", "SELECT ARRAY[m] = ARRAY[m] FROM t_enum", None,
           "operator class", "not run: planted code"),
    Attack("default-opclass-through-greatest", "SELECT greatest(m, 'ok') = 'ok' FROM t_enum", None,
           "operator class", "not run: planted code"),
    Attack("default-opclass-through-record-equality", "SELECT t = t FROM t_enum t", None, "operator class",
           "not run: planted code"),
    Attack("cast-to-json-run-by-the-row-wrapper", "SELECT l FROM t_level", None, "cast to json",
           "not run: the migrator's own cast"),
    Attack("index-definitions-through-a-view", "SELECT indexdef FROM pg_indexes", "indexdef", "indexdef",
           "not run: pg_indexes is readable by every role"),
    Attack("domain-defaults", "SELECT domain_default FROM information_schema.domains", "domain_default",
           "domain_default", "not run: information_schema shows them"),
    Attack("explain-prints-a-view", "EXPLAIN SELECT * FROM v_filtered", None, "user view",
           "not run: EXPLAIN prints the view's definition"),
    Attack("generic-plan-parameter-typed-by-context",
           "EXPLAIN (GENERIC_PLAN) SELECT lower($1) FROM users u"
           " JOIN users v ON COALESCE($1, v.email) IS NOT NULL",
           None, "public.lower(character varying)", "not run: planted code"),
    Attack("numeric-literal", "SELECT octet_length(((1e60000 - 1) * (1e60000 - 1))::text)",
           "numeric literal", None, "not run: numeric multiplication is uncancellable"),
)  # fmt: skip


def test_attack_ids_are_unique_and_every_attack_has_two_layers_or_says_why() -> None:
    assert len({attack.id for attack in ATTACKS}) == len(ATTACKS)
    for attack in ATTACKS:
        layers = [
            attack.guard,
            attack.resolver,
            None if attack.reader.startswith("not run") else attack.reader,
        ]
        assert sum(layer is not None for layer in layers) >= 1, attack.id


# ----------------------------------------------------------------------------------------- fixtures

PLANT = """
CREATE EXTENSION dblink;
CREATE EXTENSION postgres_fdw;
CREATE TABLE audit (note text);
CREATE SCHEMA util;
-- the attacker's payload: a write through dblink, which survives a READ ONLY transaction
CREATE FUNCTION util.evil() RETURNS boolean LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT dblink_exec('{dblink}', 'INSERT INTO audit VALUES (''pwned'')') = 'x' $$;
CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql IMMUTABLE SECURITY DEFINER
  AS $$ SELECT CASE WHEN util.evil() THEN 'a' ELSE 'b' END $$;
CREATE FUNCTION util.same(int, int) RETURNS boolean LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT util.evil() OR $1 = $2 $$;
CREATE FUNCTION util.less(int, int) RETURNS boolean LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT util.evil() OR $1 < $2 $$;
CREATE FUNCTION util.cmp(int, int) RETURNS int LANGUAGE sql AS $$ SELECT btint4cmp($1, $2) $$;
CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = util.same);
CREATE OPERATOR util.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = util.same);
CREATE OPERATOR util.<<< (LEFTARG = int, RIGHTARG = int, FUNCTION = util.less);
CREATE OPERATOR public.<<< (LEFTARG = int, RIGHTARG = int, FUNCTION = util.less);
CREATE OPERATOR CLASS util.evil_ops FOR TYPE int USING btree AS
  OPERATOR 1 util.<<<, OPERATOR 3 =, FUNCTION 1 util.cmp(int, int);
CREATE OPERATOR CLASS public.evil_ops FOR TYPE int USING btree AS
  OPERATOR 1 public.<<<, OPERATOR 3 =, FUNCTION 1 util.cmp(int, int);
CREATE FUNCTION util.check(int) RETURNS boolean LANGUAGE sql SECURITY DEFINER AS $$ SELECT util.evil() $$;
CREATE DOMAIN util.checked_int AS int CHECK (util.check(VALUE));
CREATE DOMAIN public.checked_int AS int CHECK (util.check(VALUE));
CREATE TYPE util.money2 AS (amount numeric);
CREATE FUNCTION util.int_to_money2(int) RETURNS util.money2 LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT ROW(CASE WHEN util.evil() THEN 1 ELSE $1 END)::util.money2 $$;
CREATE CAST (int AS util.money2) WITH FUNCTION util.int_to_money2(int);
CREATE VIEW v_evil AS SELECT id, util.evil() FROM users;
CREATE VIEW v_secret AS SELECT id FROM users WHERE email = '{secret}';
CREATE FUNCTION evil() RETURNS text LANGUAGE sql AS $$ SELECT '{secret}' $$;
CREATE TABLE secret_table (note text);
INSERT INTO secret_table VALUES ('{secret}');
SELECT lo_from_bytea(0, '{secret}'::bytea);
CREATE TYPE public.wrap AS (v public.checked_int);
CREATE FUNCTION util.evil_cmp(int, int) RETURNS int LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT CASE WHEN util.evil() THEN btint4cmp($1, $2) ELSE btint4cmp($1, $2) END $$;
CREATE OPERATOR CLASS util.evil_int_ops FOR TYPE int USING btree AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 util.evil_cmp(int, int);
CREATE TYPE public.erange AS RANGE (subtype = int, subtype_opclass = util.evil_int_ops);

CREATE TABLE t_parent (id int, note text);
CREATE TABLE t_child () INHERITS (t_parent);
CREATE TABLE t_range (r erange);
CREATE FUNCTION util.imm() RETURNS int LANGUAGE plpgsql IMMUTABLE
  AS $$ BEGIN PERFORM util.evil(); RETURN 0; END $$;
CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost');
CREATE USER MAPPING FOR PUBLIC SERVER elsewhere OPTIONS (user 'x', password '{secret}');
"""


# Objects of the migrator's own types, given default operator classes by a superuser, and a cast to json
# that the migrator (a type's owner may) created: both run at execution time, outside the query's tree.
PLANT_TYPE_SUPPORT = """
SET ROLE migrator;
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE t_enum (id int, m mood);
INSERT INTO t_enum VALUES (1, 'sad'), (2, 'happy');
CREATE TYPE public.level AS ENUM ('low', 'high');
CREATE TABLE t_level (id int, l level);
INSERT INTO t_level VALUES (1, 'low');
CREATE FUNCTION public.level_to_json(level) RETURNS json LANGUAGE plpgsql SECURITY DEFINER
  AS $$ BEGIN PERFORM util.evil(); RETURN '"x"'; END $$;
CREATE CAST (level AS json) WITH FUNCTION public.level_to_json(level);
RESET ROLE;
CREATE FUNCTION util.evil_mood_cmp(mood, mood) RETURNS int LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT CASE WHEN util.evil() THEN 0 ELSE 0 END
              + (CASE WHEN $1 < $2 THEN -1 WHEN $1 > $2 THEN 1 ELSE 0 END) $$;
CREATE FUNCTION util.evil_mood_eq(mood, mood) RETURNS boolean LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT util.evil() OR $1::text = $2::text $$;
CREATE FUNCTION util.evil_mood_lt(mood, mood) RETURNS boolean LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT util.evil() OR $1 < $2 $$;
CREATE OPERATOR util.= (LEFTARG = mood, RIGHTARG = mood, FUNCTION = util.evil_mood_eq);
CREATE OPERATOR util.< (LEFTARG = mood, RIGHTARG = mood, FUNCTION = util.evil_mood_lt);
CREATE OPERATOR CLASS util.mood_ops DEFAULT FOR TYPE mood USING btree AS
  OPERATOR 1 util.<, OPERATOR 3 util.=, FUNCTION 1 util.evil_mood_cmp(mood, mood);
"""

PLANT_ATTACHED = """
CREATE TABLE t_idx (id int);
CREATE INDEX t_idx_expr ON t_idx ((id + util.imm()));
CREATE TABLE t_pk (id int) PARTITION BY RANGE ((id + util.imm()));
CREATE TABLE t_pk_1 PARTITION OF t_pk FOR VALUES FROM (0) TO (100);
CREATE TABLE t_stx (id int, b int);
CREATE STATISTICS t_stx_expr ON (id + util.imm()), b FROM t_stx;
CREATE TABLE t_chk_parent (id int);
CREATE TABLE t_chk_child (CHECK (id > util.imm())) INHERITS (t_chk_parent);
"""


@pytest.fixture(scope="module")
def attack_database(local_default: localenv.State) -> Iterator[dict[str, str]]:
    """A database the migrator owns (and its tables), with an attacker's objects planted by a superuser."""
    name = f"t_attack_{uuid.uuid4().hex[:10]}"
    admin = local_default.admin_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER {localenv.APP_USER}')
    superuser = admin.rsplit("/", 1)[0] + f"/{name}"
    migrator = local_default.app_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(migrator, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE users (id int PRIMARY KEY, email varchar(100) NOT NULL, tags int[], doc jsonb);"
            "INSERT INTO users VALUES (1, 'ada@example.com', '{1,2}', '{\"a\": 1}'),"
            " (2, 'grace@example.com', '{3}', '{}');"
            "CREATE TABLE sentinel (note text NOT NULL); INSERT INTO sentinel VALUES ('untouched');"
            "CREATE TABLE orders (id int, note text);"
            f"CREATE TABLE t_rls (note text); ALTER TABLE t_rls ENABLE ROW LEVEL SECURITY;"
            f"CREATE POLICY hide ON t_rls USING (note <> '{SECRET}');"
            f"CREATE VIEW v_filtered AS SELECT id FROM users WHERE email <> '{SECRET}';"
            "INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 500) g;"
        )
    # the payload connects over TCP as the superuser, so that it really writes when it runs
    parts = psycopg.conninfo.conninfo_to_dict(superuser)
    dblink = " ".join(f"{key}={parts[key]}" for key in ("host", "port", "dbname", "user", "password"))
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute(PLANT.replace("{dblink}", dblink).replace("{secret}", SECRET))
        # building the index runs the planted comparison (and writes): clear the audit afterwards
        # code stored with tables, created once the audit table is committed (creating it runs it)
        conn.execute(PLANT_ATTACHED)
        conn.execute(PLANT_TYPE_SUPPORT)
        conn.execute("CREATE INDEX orders_evil ON orders (id util.evil_int_ops)")
        conn.execute("CREATE INDEX t_child_evil ON t_child (id util.evil_int_ops)")
        conn.execute("ANALYZE orders")
        conn.execute("DELETE FROM audit")
        conn.execute(f"ALTER DATABASE \"{name}\" SET app.secret = '{SECRET}'")
    sqlaction.sql(migrator, "SELECT 1")  # the reader role is set up here, before any snapshot
    try:
        yield {"superuser": superuser, "migrator": migrator, "name": name}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def env(attack_database: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("DATABASE_URL", attack_database["migrator"])
    monkeypatch.setenv("MIGRATOR_SQL_TIMEOUT_MS", "2000")
    return attack_database


def snapshot(observer: psycopg.Connection) -> dict[str, Any]:
    def rows(query: str) -> list[tuple[Any, ...]]:
        return observer.execute(query).fetchall()

    return {
        "users": rows("SELECT * FROM users ORDER BY id"),
        "sentinel": rows("SELECT * FROM sentinel"),
        "audit": rows("SELECT * FROM audit"),
        "relations": rows(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_t%'"
            " ORDER BY 1, 2"
        ),
        "reader": rows(
            "SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,"
            " (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)"
            " FROM pg_roles r WHERE r.rolname = 'migrator_sql_reader'"
        ),
        "backends": rows(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
            # the action's own connections and the layer tests' superuser ones end as the test does
            " AND application_name NOT IN ('release-kit-sql', 'release-kit-migrator', 'layer-test')"
            " ORDER BY pid"
        ),
        "advisory_locks": rows("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
        "large_objects": rows("SELECT count(*) FROM pg_largeobject_metadata"),
        "settings": rows("SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting ORDER BY 1, 2"),
    }


@pytest.fixture
def observed(env: dict[str, str]) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """A superuser observer, and a migrator session (a migration in progress) that must survive."""
    with (
        psycopg.connect(env["superuser"], autocommit=True) as observer,
        psycopg.connect(env["migrator"], autocommit=True) as bystander,
    ):
        bystander.execute(f"SELECT '{SECRET}' AS bystander_query")
        # The previous test's sessions leave a moment after they close (seconds on a loaded machine): wait
        # until only the bystander remains (the observer does not list itself), or one ending mid-test looks
        # like a killed backend.
        ours = [bystander.info.backend_pid]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and [pid for (pid,) in snapshot(observer)["backends"]] != ours:
            time.sleep(0.05)
        yield observer, bystander


def invoke(sql: str, context: Any) -> dict[str, Any]:
    result = handler_module.handler({"action": "sql", "sql": sql}, context)
    json.dumps(result)
    return result


def _assert_unchanged(before: dict, observer: psycopg.Connection, bystander: psycopg.Connection) -> None:
    assert snapshot(observer) == before
    assert bystander.execute("SELECT 1").fetchone() == (1,)


# ------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.id for attack in ATTACKS])
def test_every_layer_on_through_the_handler(attack: Attack, observed, lambda_context) -> None:
    observer, bystander = observed
    before = snapshot(observer)

    result = invoke(attack.sql, lambda_context)

    if attack.guard or attack.resolver:
        assert result["ok"] is False and result["error"]["type"] == "UnsafeSQL", result
    else:
        assert result["ok"] is False and result["error"]["type"] == "QueryFailed", result
    assert SECRET not in json.dumps(result)
    _assert_unchanged(before, observer, bystander)


ONE_CHECK_ALONE = [(attack, "guard") for attack in ATTACKS if attack.guard] + [
    (attack, "resolver") for attack in ATTACKS if attack.resolver
]


@pytest.mark.parametrize(
    ("attack", "layer"), ONE_CHECK_ALONE, ids=[f"{layer}-{attack.id}" for attack, layer in ONE_CHECK_ALONE]
)
def test_one_check_alone(attack: Attack, layer: str, env, observed) -> None:
    # GIVEN a superuser and one of the two checks switched off: only the other one stands
    observer, bystander = observed
    before = snapshot(observer)
    switched_off = {"resolve": False} if layer == "guard" else {"guard": False}
    with (
        psycopg.connect(env["superuser"], autocommit=True, application_name="layer-test") as conn,
        pytest.raises(UnsafeSQL) as refused,
    ):
        run_readonly(conn, attack.sql, **switched_off)
    assert (attack.guard if layer == "guard" else attack.resolver) in str(refused.value)
    _assert_unchanged(before, observer, bystander)


RUN_AS_READER = [attack for attack in ATTACKS if not attack.reader.startswith("not run")]


@pytest.mark.parametrize("attack", RUN_AS_READER, ids=[attack.id for attack in RUN_AS_READER])
def test_the_reader_role_alone(
    attack: Attack, observed, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the guard and the server-side check switched off: the reader role, the READ ONLY transaction
    # and the limits stand alone
    observer, bystander = observed
    monkeypatch.setattr(resolver, "check", lambda conn, query: None)
    monkeypatch.setattr(readonly, "plan_sql", _unchecked(readonly.plan_sql))
    from migrator.sqlaction import guard

    monkeypatch.setattr(guard, "plan_sql", _unchecked(guard.plan_sql))
    before = snapshot(observer)

    result = invoke(attack.sql, lambda_context)

    text = json.dumps(result)
    assert SECRET not in text
    if attack.reader == "denied":
        assert result["ok"] is False and result["error"]["type"] == "QueryFailed", result
        assert "permission denied" in text or "password" in text or "must be" in text, result
    elif attack.reader == "bounded":
        assert result["ok"] is False and result["error"]["type"] == "QueryFailed", result
        assert "temp_file_limit" in text or "statement timeout" in text, result
    elif attack.reader == "capped":
        assert result["ok"] is True and result["truncated"] is True, result
        assert len(text) < 2 * 1024 * 1024
    else:
        assert attack.reader == "hidden"
    _assert_unchanged(before, observer, bystander)


def test_false_refusals_are_allowed(env, lambda_context) -> None:
    for sql in (
        "SELECT to_regclass('public.users') IS NOT NULL",
        "SELECT pg_get_serial_sequence('users', 'id')",
        "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp()",
        "EXPLAIN ANALYZE SELECT count(*) FROM users",
        "SELECT rolname FROM pg_roles WHERE rolname = current_user",
        "SHOW work_mem",
    ):
        result = invoke(sql, lambda_context)
        assert result["ok"] is True, (sql, result)
    # GENERIC_PLAN is PostgreSQL 16+: both checks allow it, and PostgreSQL 15 answers for itself.
    generic = invoke("EXPLAIN (GENERIC_PLAN) SELECT * FROM users WHERE id = $1", lambda_context)
    assert generic["ok"] or 'unrecognized EXPLAIN option "generic_plan"' in generic["error"]["message"], (
        generic
    )


def test_the_reader_owns_nothing_and_cannot_write_even_with_no_checks(env, lambda_context) -> None:
    invoke("SELECT 1", lambda_context)  # sets the role up
    with psycopg.connect(env["superuser"], autocommit=True) as observer:
        attributes = observer.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit,"
            " (SELECT count(*) FROM pg_auth_members WHERE member = r.oid),"
            " (SELECT count(*) FROM pg_class WHERE relowner = r.oid), rolconfig"
            " FROM pg_roles r WHERE rolname = 'migrator_sql_reader'"
        ).fetchone()
    assert attributes[:8] == (False, False, False, False, False, False, 0, 0)
    assert "default_transaction_read_only=on" in attributes[8]
    assert "temp_file_limit=64MB" in attributes[8]


def _unchecked(plan_sql):
    def plan(sql, **kwargs):
        kwargs["check"] = False
        return plan_sql(sql, **kwargs)

    return plan


def test_queries_through_the_handler_are_refused_before_they_connect(env, lambda_context, monkeypatch):
    # GIVEN a database that cannot be reached
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/nothing")
    # WHEN the guard refuses THEN the refusal comes first: no connection was attempted
    result = invoke("SELECT (pid).pg_terminate_backend FROM pg_stat_activity", lambda_context)
    assert result["error"]["type"] == "UnsafeSQL"


def test_the_planted_payload_really_writes_when_nothing_stops_it(env) -> None:
    # Without this, "audit unchanged" in the snapshots would prove nothing.
    with psycopg.connect(env["superuser"], autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
        conn.execute("SELECT util.evil()")
        assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == before + 1
        conn.execute("DELETE FROM audit")


def test_callers_sharing_the_reader_role_cannot_read_each_others_query_text(env) -> None:
    # GIVEN one caller's session as the reader role, idle after a query that names a secret
    reader = psycopg.conninfo.conninfo_to_dict(env["migrator"])
    password = reader_role.reader_password(reader["password"], "migrator_sql_reader")
    url = psycopg.conninfo.make_conninfo(**{**reader, "user": "migrator_sql_reader", "password": password})
    with psycopg.connect(url, autocommit=True) as first, psycopg.connect(url, autocommit=True) as second:
        first.execute(f"SELECT '{SECRET}' AS another_caller")
        # WHEN another caller (same role, no checks at all) reads pg_stat_activity
        seen = second.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", (first.info.backend_pid,)
        ).fetchall()
    # THEN track_activities = off on the role kept the text out of it
    assert SECRET not in str(seen)


def test_the_check_creates_nothing_so_no_event_trigger_runs_in_it(fresh_database, lambda_context) -> None:
    # GIVEN the reader role set up, then a superuser's event trigger on every DDL command, recording each run
    # (the first version of the check created a temporary view, and such a trigger ran inside it)
    sqlaction.sql(fresh_database, "SELECT 1")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE fired (tag text); GRANT INSERT ON fired TO PUBLIC;"
            "CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER"
            "  AS $$ BEGIN INSERT INTO fired VALUES (tg_tag); END $$;"
            "CREATE EVENT TRIGGER watch ON ddl_command_start EXECUTE FUNCTION on_ddl()"
        )
        # WHEN the sql action checks and runs a query
        result = sqlaction.sql(fresh_database, "SELECT count(*) FROM pg_class WHERE relkind = 'r'")
        # THEN it answers, and no DDL ran: the check reads PostgreSQL's analysis from a prepared statement
        assert result["rows"][0][0] > 0
        assert conn.execute("SELECT count(*) FROM fired").fetchone() == (0,)
