"""The ``sql`` action's own database role: least privilege on the server, whatever the parser lets through.

The action never runs a user's statement as the migrator. It logs in as a dedicated role that:

* owns nothing and is a member of nothing (so it cannot signal other roles' backends: that needs
  ``pg_signal_backend`` or the same role; nor read server files: ``pg_read_server_files``; nor see other
  roles' query text: ``pg_read_all_stats``);
* has SELECT on the application's schemas (granted on the tables and sequences that exist when it is created,
  and on every later one through ``ALTER DEFAULT PRIVILEGES`` of the migrator), and nothing else: SELECT on a
  sequence reads ``last_value`` and cannot advance it (nextval needs USAGE or UPDATE);
* is read-only by default (``default_transaction_read_only``), with a statement timeout, small work_mem,
  no parallel workers and no JIT, and ``temp_file_limit`` where the migrator may set it.

Its password is derived from the migrator's (HMAC-SHA-256), so no extra secret is needed and it changes when
the migrator's password is rotated. The migrator sets it as a SCRAM-SHA-256 verifier computed here: the
plain password never reaches the server, its statement log, or ``pg_stat_activity``. ``ensure_reader`` is
idempotent and serialised by an advisory lock; the migrator needs CREATEROLE (the RDS master user has it).

The setup runs nothing it did not choose: its transaction's search_path is ``pg_catalog, pg_temp`` and its
queries name every function, operator and type with its schema, so nothing planted in ``public`` (an
``=(name, text)`` there, say) can run inside it with the migrator's rights.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql as pgsql

from migrator import logs
from migrator.errors import ConfigurationError, DatabaseError
from migrator.scram import scram_sha256_verifier

__all__ = ["READER_SETTINGS", "ensure_reader", "reader_password"]

_EQ = "OPERATOR(pg_catalog.=)"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOCK_KEY = int.from_bytes(b"rksqlrol", "big") & 0x7FFF_FFFF_FFFF_FFFF

# Set on the role, so they hold for any session it opens, whatever the client does first.
READER_SETTINGS: dict[str, str] = {
    "default_transaction_read_only": "on",
    "statement_timeout": "30s",
    "lock_timeout": "2s",
    "idle_in_transaction_session_timeout": "60s",
    "work_mem": "4MB",
    "hash_mem_multiplier": "1",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    # PostgreSQL 15 never spills a hashed INTERSECT or EXCEPT; sorts spill (readonly sets it per transaction)
    "enable_hashagg": "off",
    "enable_hashjoin": "off",  # nor a hash join whose rows all share one key
}
# Superuser-only settings: set where the migrator may (a superuser, or GRANT SET ON PARAMETER), reported
# as not set otherwise (RDS: set them in the DB parameter group).
# track_activities off: every caller shares this role, so one caller could otherwise read another's query
# text in pg_stat_activity (the two checks refuse that column; this keeps it empty for the role too).
_PRIVILEGED_SETTINGS: dict[str, str] = {"temp_file_limit": "64MB", "track_activities": "off"}


def reader_password(migrator_password: str, role: str) -> str:
    """The reader's password: an HMAC of the migrator's, so it needs no secret of its own."""
    digest = hmac.new(migrator_password.encode(), f"release-kit/sql-reader/{role}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def validate_role_name(role: str) -> str:
    if not _ROLE_NAME.match(role or ""):
        raise ConfigurationError(
            f"MIGRATOR_SQL_ROLE={role[:70]!r} is not a plain role name; use lower-case letters, digits and _"
        )
    return role


def ensure_reader(
    conn: psycopg.Connection, *, role: str, password: str, schemas: Sequence[str] = ("public",)
) -> dict[str, Any]:
    """Create or repair the reader role (idempotent). ``conn`` is the migrator's autocommit connection.

    Returns what was done: ``{"role", "created", "schemas", "settings", "not_set"}``.
    """
    validate_role_name(role)
    logs.register_secret(password)
    ident = pgsql.Identifier(role)
    # A deterministic salt: the verifier (and so the catalog row) only changes when the password does.
    salt = hmac.new(password.encode(), b"salt", hashlib.sha256).digest()[:16]
    verifier = pgsql.Literal(scram_sha256_verifier(password, salt=salt))
    not_set: list[str] = []
    try:
        with conn.transaction():
            conn.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)")
            exists = _role_exists(conn, role)
            # Any login may take an advisory lock: one held by someone else must not stop the action. With
            # the role in place, a setup already under way elsewhere is as good as this one.
            locked = conn.execute(
                "SELECT pg_catalog.pg_try_advisory_xact_lock(%s::pg_catalog.int8)", (_LOCK_KEY,)
            ).fetchone()[0]
            if not locked and exists:
                return {"role": role, "created": False, "schemas": [], "settings": {}, "not_set": [],
                        "skipped": "another session holds the setup lock"}  # fmt: skip
            if not locked:
                # bounded by lock_timeout
                conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(%s::pg_catalog.int8)", (_LOCK_KEY,))
                exists = _role_exists(conn, role)
            _refuse_if_privileged(conn, role, exists)
            # SUPERUSER, REPLICATION and BYPASSRLS are off by default and only a superuser may name them:
            # an existing role that has one is refused above.
            attributes = pgsql.SQL(
                "LOGIN NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT 8 PASSWORD {}"
            ).format(verifier)
            verb = "ALTER" if exists else "CREATE"
            conn.execute(pgsql.SQL(verb + " ROLE {} {}").format(ident, attributes))
            conn.execute(
                pgsql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                    pgsql.Identifier(conn.info.dbname), ident
                )
            )
            granted = _grant_schemas(conn, role, schemas)
            for name, value in READER_SETTINGS.items():
                conn.execute(_set_role_setting(ident, name, value))
            conn.execute(
                pgsql.SQL("ALTER ROLE {} SET search_path TO {}").format(
                    ident, pgsql.SQL(", ").join(pgsql.Identifier(s) for s in ["pg_catalog", *granted])
                )
            )
            for name, value in _PRIVILEGED_SETTINGS.items():
                try:
                    with conn.transaction():
                        conn.execute(_set_role_setting(ident, name, value))
                except psycopg.errors.InsufficientPrivilege:
                    not_set.append(
                        f"{name}={value}: the migrator may not set it (needs superuser or GRANT SET ON "
                        f"PARAMETER {name}); on RDS set it in the DB parameter group"
                    )
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseError(
            f"could not set up the sql action's role {role!r}: {exc.diag.message_primary}. "
            "The migrator's user needs CREATEROLE (the RDS master user has it)"
        ) from None
    return {
        "role": role,
        "created": not exists,
        "schemas": granted,
        "settings": {
            **READER_SETTINGS,
            **{name: value for name, value in _PRIVILEGED_SETTINGS.items() if not _mentions(not_set, name)},
        },
        "not_set": not_set,
    }


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    row = conn.execute(f"SELECT FROM pg_catalog.pg_roles WHERE rolname {_EQ} %s::pg_catalog.name", (role,))
    return row.fetchone() is not None


def _set_role_setting(ident: pgsql.Identifier, name: str, value: str) -> pgsql.Composed:
    return pgsql.SQL("ALTER ROLE {} SET {} TO {}").format(ident, pgsql.Identifier(name), pgsql.Literal(value))


def _mentions(lines: list[str], name: str) -> bool:
    return any(line.startswith(f"{name}=") for line in lines)


def _refuse_if_privileged(conn: psycopg.Connection, role: str, exists: bool) -> None:
    """An existing role of that name must be one we can trust to hold nothing: fail closed otherwise."""
    if not exists:
        return
    row = conn.execute(
        "SELECT r.rolsuper OR r.rolreplication OR r.rolbypassrls,"
        "       (SELECT pg_catalog.string_agg(g.rolname::pg_catalog.text, ', ')"
        "          FROM pg_catalog.pg_auth_members m"
        f"          JOIN pg_catalog.pg_roles g ON g.oid {_EQ} m.roleid WHERE m.member {_EQ} r.oid),"
        f"       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class WHERE relowner {_EQ} r.oid)"
        "     OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc"
        f"                             WHERE proowner {_EQ} r.oid)"
        "     OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_namespace"
        f"                             WHERE nspowner {_EQ} r.oid)"
        "     OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type"
        f"                             WHERE typowner {_EQ} r.oid AND typrelid {_EQ} 0::pg_catalog.oid)"
        f"  FROM pg_catalog.pg_roles r WHERE r.rolname {_EQ} %s::pg_catalog.name",
        (role,),
    ).fetchone()
    privileged, memberships, owned = row
    problems = ["it is a superuser or may replicate or bypass row-level security"] if privileged else []
    if memberships:
        problems.append(f"it is a member of {memberships}")
    if owned:
        problems.append(f"it owns {owned} objects")
    if problems:
        raise ConfigurationError(
            f"role {role!r} exists and {' and '.join(problems)}: the sql action's role must hold nothing. "
            f"Revoke the memberships and reassign its objects (REASSIGN OWNED BY {role} TO ...), or set "
            "MIGRATOR_SQL_ROLE to another name"
        )


def _grant_schemas(conn: psycopg.Connection, role: str, schemas: Sequence[str]) -> list[str]:
    ident = pgsql.Identifier(role)
    granted = []
    for schema in schemas:
        if not conn.execute(
            f"SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname {_EQ} %s::pg_catalog.name", (schema,)
        ).fetchone():
            continue
        schema_ident = pgsql.Identifier(schema)
        conn.execute(pgsql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema_ident, ident))
        for kind, objtype, relkinds in (("TABLES", "r", "{r,p,v,m}"), ("SEQUENCES", "S", "{S}")):
            # The first setup in this database and schema grants what exists; later ones rely on the default
            # privileges (so an operator's REVOKE on one table is respected). Roles are per cluster, grants
            # per database: the role may already exist from another database on the same server.
            grant_existing = not conn.execute(
                "SELECT 1 FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) a"
                f" WHERE d.defaclrole {_EQ} (SELECT oid FROM pg_catalog.pg_roles"
                f"                         WHERE rolname {_EQ} CURRENT_USER)"
                f"   AND d.defaclnamespace {_EQ} %s::pg_catalog.regnamespace::pg_catalog.oid"
                f'   AND d.defaclobjtype {_EQ} %s::pg_catalog."char"'
                f"   AND a.grantee {_EQ} (SELECT oid FROM pg_catalog.pg_roles"
                f"                      WHERE rolname {_EQ} %s::pg_catalog.name)",
                (schema, objtype, role),
            ).fetchone()
            # Tables and sequences the migrator creates later: SELECT reaches the reader by itself.
            conn.execute(
                pgsql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON " + kind + " TO {}").format(
                    schema_ident, ident
                )
            )
            if not grant_existing:
                continue
            # Only what the migrator may grant (it owns them); an operator's later REVOKE is respected.
            for (relation,) in conn.execute(
                "SELECT c.oid::pg_catalog.regclass::pg_catalog.text FROM pg_catalog.pg_class c"
                f" WHERE c.relnamespace {_EQ} %s::pg_catalog.regnamespace::pg_catalog.oid"
                f'   AND c.relkind {_EQ} ANY (%s::pg_catalog."char"[])'
                "   AND pg_catalog.pg_has_role(c.relowner, 'USAGE')",
                (schema, relkinds),
            ).fetchall():
                conn.execute(pgsql.SQL("GRANT SELECT ON {} TO {}").format(pgsql.SQL(relation), ident))
        granted.append(schema)
    return granted


def random_password() -> str:
    """For a migrator that logs in without a password (peer or trust): a fresh one per setup."""
    return secrets.token_urlsafe(24)
