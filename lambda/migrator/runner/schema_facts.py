"""What the schema says at one state, for the compatibility check (:mod:`.compat`): each table's columns in
order and which an INSERT must write, each role's privileges, the sequences behind column defaults, and
the tables each role sees through row-level security. The check compares two states: before and after one
migration.

Imports nothing of the kit; must never import :mod:`.compat`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

__all__ = ["Facts", "read"]


_COLUMNS = """
SELECT n.nspname, c.relname, a.attname,
       (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AND NOT a.atthasdef AND t.typdefault IS NULL
       AND a.attidentity = '' AND a.attgenerated = ''
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY n.nspname, c.relname, a.attnum
"""
_PRIVILEGES = """
SELECT r.rolname, 'table ' || n.nspname || '.' || c.relname || ' ' || p.priv
FROM unnest(%(roles)s::text[]) AS r (rolname)
CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p (priv)
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND (has_table_privilege(r.rolname, c.oid, p.priv)
       OR (p.priv <> 'DELETE' AND has_any_column_privilege(r.rolname, c.oid, p.priv)))
UNION ALL
SELECT r.rolname, 'sequence ' || n.nspname || '.' || c.relname
FROM unnest(%(roles)s::text[]) AS r (rolname)
CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind = 'S'
  AND has_sequence_privilege(r.rolname, c.oid, 'USAGE, UPDATE')
UNION ALL
SELECT r.rolname,
       'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
FROM unnest(%(roles)s::text[]) AS r (rolname)
CROSS JOIN pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY(%(schemas)s) AND has_function_privilege(r.rolname, p.oid, 'EXECUTE')
UNION ALL
SELECT r.rolname, 'schema ' || n.nspname
FROM unnest(%(roles)s::text[]) AS r (rolname) CROSS JOIN pg_namespace n
WHERE n.nspname = ANY(%(schemas)s) AND has_schema_privilege(r.rolname, n.oid, 'USAGE')
"""

# The sequences behind column defaults (serial, nextval(...)): an INSERT that leaves the column out calls
# nextval, which checks the sequence's privileges only when it runs. Identity columns need none.
_SEQUENCE_DEFAULTS = """
SELECT n.nspname, c.relname, a.attname, sn.nspname || '.' || s.relname
FROM pg_attrdef d
JOIN pg_depend dep ON dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND dep.objid = d.oid
     AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE n.nspname = ANY(%(schemas)s)
"""
# Tables whose rows each role sees through row-level security policies (the owner is exempt unless FORCE,
# as is a role with BYPASSRLS: PostgreSQL's check_enable_rls)
_ROW_SECURITY = """
SELECT r.rolname, n.nspname, c.relname
FROM unnest(%(roles)s::text[]) AS r (rolname)
JOIN pg_roles ro ON ro.rolname = r.rolname
CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p') AND c.relrowsecurity AND NOT ro.rolbypassrls
  AND (c.relforcerowsecurity OR NOT pg_has_role(r.rolname, c.relowner, 'USAGE'))
"""


@dataclass
class Facts:
    """What the schema says at one state: each table's columns in order (and which must be written), each
    role's privileges, the sequences behind column defaults, and the tables each role sees through
    row-level security. Tables are keyed as ``schema.table`` and as ``table``."""

    columns: dict[str, list[tuple[str, bool]]]
    privileges: dict[str, set[str]]
    sequences: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> sequence
    row_security: dict[str, set[str]] = field(default_factory=dict)  # role -> tables

    @property
    def required(self) -> set[tuple[str, str]]:
        """(table, column) pairs an INSERT must write: NOT NULL without a default, identity or generation."""
        return {(table, column) for table, cols in self.columns.items() for column, needed in cols if needed}


def read(conn: psycopg.Connection, roles: list[str], schemas: tuple[str, ...]) -> Facts:
    columns: dict[str, list[tuple[str, bool]]] = {}
    for schema, table, column, required in conn.execute(_COLUMNS, {"schemas": list(schemas)}).fetchall():
        for key in (f"{schema}.{table}", table):
            columns.setdefault(key, []).append((column, required))
    privileges: dict[str, set[str]] = {role: set() for role in roles}
    for role, privilege in conn.execute(_PRIVILEGES, {"roles": roles, "schemas": list(schemas)}).fetchall():
        privileges[role].add(privilege)
    sequences: dict[str, dict[str, str]] = {}
    for schema, table, column, sequence in conn.execute(_SEQUENCE_DEFAULTS, {"schemas": list(schemas)}):
        for key in (f"{schema}.{table}", table):
            sequences.setdefault(key, {})[column] = sequence
    row_security: dict[str, set[str]] = {role: set() for role in roles}
    for role, schema, table in conn.execute(_ROW_SECURITY, {"roles": roles, "schemas": list(schemas)}):
        row_security[role] |= {f"{schema}.{table}", table}
    return Facts(columns, privileges, sequences, row_security)
