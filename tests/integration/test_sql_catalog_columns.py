"""Catalog columns that hold table data, stored expressions or secrets, found from pg_attribute rather than
from memory: every built-in column of a data-holding type (anyarray, pg_node_tree, bytea, statistics) is
refused by both checks, and every text column of a catalog table is either refused or reviewed as harmless."""

from __future__ import annotations

import psycopg
import pytest
from migrator.errors import UnsafeSQL
from migrator.sqlaction import policy
from migrator.sqlaction.guard import check_sql
from migrator.sqlaction.readonly import run_readonly

# Text-like columns of catalog tables that hold names, options or labels, not data: reviewed one by one.
HARMLESS_TEXT = {
    "pg_attribute": {"attoptions"}, "pg_class": {"reloptions"},
    "pg_collation": {"collcollate", "collctype", "colliculocale", "collversion"},
    "pg_database": {"datcollate", "datctype", "daticulocale", "datcollversion"},
    "pg_description": {"description"}, "pg_shdescription": {"description"}, "pg_event_trigger": {"evttags"},
    "pg_extension": {"extversion"}, "pg_foreign_server": {"srvtype", "srvversion"},
    "pg_parameter_acl": {"parname"}, "pg_proc": {"proargnames"}, "pg_replication_origin": {"roname"},
    "pg_seclabel": {"provider", "label"}, "pg_shseclabel": {"provider", "label"},
    "pg_subscription": {"subsynccommit", "subpublications"}, "pg_tablespace": {"spcoptions"},
    "pg_ts_dict": {"dictinitoption"},
}  # fmt: skip

DATA_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, NULL)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
   AND c.relkind IN ('r', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
   AND format_type(a.atttypid, NULL) = ANY (%s)
 ORDER BY 1, 2
"""

TEXT_COLUMNS = """
SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
   AND a.atttypid IN ('text'::regtype, 'text[]'::regtype)
 ORDER BY 1, 2
"""


@pytest.fixture(scope="module")
def catalog_database(pg_admin_url: str):
    from scripts.localdefault import localenv

    with localenv.scratch_database(pg_admin_url, prefix="t") as url:
        yield url


def test_every_data_holding_catalog_column_is_refused_by_both_checks(catalog_database: str) -> None:
    with psycopg.connect(catalog_database, autocommit=True) as conn:
        columns = conn.execute(DATA_COLUMNS, (sorted(policy.DATA_TYPES),)).fetchall()
        # attmissingval (the value older rows get for a column added later), sampled values, expressions
        assert ("pg_attribute", "attmissingval", "anyarray") in columns
        assert len(columns) >= 30, columns
        let_through = []
        for relation, column, kind in columns:
            sql = f"SELECT {column} FROM pg_catalog.{relation}"
            if relation in ("columns", "attributes", "domains", "parameters") or relation.startswith("_pg"):
                sql = f"SELECT {column} FROM information_schema.{relation}"
            for layer, switched_off in (("guard", {"resolve": False}), ("check", {"guard": False})):
                try:
                    run_readonly(conn, sql, **switched_off)
                    let_through.append((layer, relation, column, kind))
                except UnsafeSQL:
                    pass
        assert let_through == []


def test_every_text_column_of_a_catalog_table_is_refused_or_reviewed(catalog_database: str) -> None:
    with psycopg.connect(catalog_database, autocommit=True) as conn:
        columns = conn.execute(TEXT_COLUMNS).fetchall()
    unreviewed = []
    for relation, column in columns:
        refused = relation in policy.DENIED_RELATIONS or column in policy.DENIED_COLUMNS.get(relation, ())
        if not refused and column not in HARMLESS_TEXT.get(relation, ()):
            unreviewed.append(f"{relation}.{column}")
        if refused:
            with pytest.raises(UnsafeSQL):
                check_sql(f"SELECT {column} FROM pg_catalog.{relation}")
    assert unreviewed == [], (
        "a catalog column holding text is neither denied nor reviewed (a new PostgreSQL?)"
    )
