"""The application role: what the colours' containers log in as.

It is not the migrator's user. It may read and write the application's tables (SELECT, INSERT, UPDATE,
DELETE, and the sequences behind serial columns) but owns nothing and holds no CREATE privilege, so it cannot
change the schema. ``migrate`` sets it up after every successful run, holding the migration lock:

* the role is created if missing (``LOGIN``, nothing else) and its password is (re)set from its own Secrets
  Manager secret (``APP_DB_SECRET_ID``), so rotating the secret and running ``migrate`` rotates the role;
* it gets DML on every table and sequence of the ``public`` schema except the runner's history table;
* ``ALTER DEFAULT PRIVILEGES`` on the migrator's user makes every table a later migration creates reach the
  role at once, with no grant in the migration itself.

The password never reaches the server in plain text: the statement carries a SCRAM-SHA-256 verifier computed
here (PostgreSQL stores a verifier it is given as it is), so the server's statement log (``log_statement``)
cannot show it. The password and the verifier are registered with :mod:`migrator.logs`, which keeps them out
of every log line and result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from migrator import logs
from migrator.credentials import read_secret
from migrator.errors import MigratorError, SecretMalformed
from migrator.scram import scram_sha256_verifier

__all__ = ["AppRole", "AppRoleFailed", "ensure", "ensure_configured", "from_secret"]

SCHEMA = "public"
HISTORY_TABLE = "release_kit_migrations"
DML = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT, UPDATE"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]{8,}$")


class AppRoleFailed(MigratorError):
    """The application role could not be set up (its secret, or a statement the database refused)."""


@dataclass(frozen=True)
class AppRole:
    """The role's name and password (repr never shows the password)."""

    name: str
    password: str = field(repr=False)


def from_secret(secret_id: str, client: Any = None) -> AppRole:
    """The role named by an RDS-shaped secret (``username``, ``password``)."""
    data = read_secret(secret_id, client, setting="APP_DB_SECRET_ID")
    name, password = str(data["username"]), str(data["password"])
    if not _ROLE_NAME.match(name):
        raise SecretMalformed(
            f"secret {secret_id!r} names the application role {name[:70]!r}: use a lower-case name of "
            "letters, digits and underscores, e.g. app"
        )
    if not _PRINTABLE_ASCII.match(password):
        raise SecretMalformed(
            f"the password in secret {secret_id!r} must be at least 8 printable ASCII characters without "
            "spaces (the verifier is computed here, and SASLprep would change other characters)"
        )
    logs.register_secret(password)
    return AppRole(name=name, password=password)


def ensure(conn: psycopg.Connection, role: AppRole) -> dict[str, Any]:
    """Create or update ``role`` and its grants in one transaction on ``conn`` (the migrator's connection,
    which owns the tables). Returns ``{name, created, tables, ddl_refused}``."""
    verifier = scram_sha256_verifier(role.password)
    logs.register_secret(verifier)
    ident = sql.Identifier(role.name)
    with conn.transaction():
        me = conn.execute("SELECT current_user").fetchone()[0]
        if role.name == me:
            raise AppRoleFailed(
                f"the application role {role.name!r} is the migrator's own user: give the application "
                "role its own name (database.app_username) so that the containers cannot change the schema"
            )
        existing = conn.execute(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls "
            "FROM pg_roles WHERE rolname = %s",
            (role.name,),
        ).fetchone()
        if existing and existing[0]:
            raise AppRoleFailed(
                f"role {role.name!r} exists with administrative attributes (superuser, createrole, "
                "createdb, replication or bypassrls): the application role must have none. Remove them "
                f"(ALTER ROLE {role.name} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS) "
                "and run migrate again"
            )
        statement = (
            "ALTER ROLE {} WITH LOGIN PASSWORD {}" if existing else "CREATE ROLE {} WITH LOGIN PASSWORD {}"
        )
        conn.execute(sql.SQL(statement).format(ident, sql.Literal(verifier)))
        database = sql.Identifier(conn.execute("SELECT current_database()").fetchone()[0])
        schema = sql.Identifier(SCHEMA)
        for text in (
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"GRANT {DML} ON ALL TABLES IN SCHEMA {{schema}} TO {{role}}",
            f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {{schema}} TO {{role}}",
            # The runner's own history is not the application's.
            "REVOKE ALL ON {history} FROM {role}",
            # Tables and sequences that later migrations create (as this user) reach the role at once.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {{schema}} GRANT {DML} ON TABLES TO {{role}}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {{role}}",
        ):
            if "{history}" in text and not _history_exists(conn):
                continue
            conn.execute(
                sql.SQL(text).format(
                    database=database,
                    schema=schema,
                    role=ident,
                    history=sql.Identifier(SCHEMA, HISTORY_TABLE),
                )
            )
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename <> %s "
            "AND has_table_privilege(%s, format('%%I.%%I', schemaname, tablename), 'INSERT')",
            (SCHEMA, HISTORY_TABLE, role.name),
        ).fetchone()[0]
        can_create = conn.execute(
            "SELECT has_schema_privilege(%s, %s, 'CREATE') "
            "OR has_database_privilege(%s, current_database(), 'CREATE')",
            (role.name, SCHEMA, role.name),
        ).fetchone()[0]
    if can_create:
        # PostgreSQL before 15 grants CREATE on public to everyone; the kit requires 15 or later for RDS.
        logs.log(
            "the application role can create objects: revoke CREATE on schema public from PUBLIC",
            level="WARNING",
            role=role.name,
        )
    result = {"name": role.name, "created": not existing, "tables": tables, "ddl_refused": not can_create}
    logs.log("application role ready", **result)
    return result


def _history_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{HISTORY_TABLE}",)).fetchone()[0]


def ensure_configured(
    conn: psycopg.Connection, secret_id: str | None, *, details: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """:func:`ensure` for the role in ``secret_id`` (APP_DB_SECRET_ID); None when no secret is configured.
    Any failure becomes :class:`AppRoleFailed` saying what to do, carrying ``details`` (what was applied)."""
    if not secret_id:
        return None
    try:
        return ensure(conn, from_secret(secret_id))
    except AppRoleFailed as exc:
        raise AppRoleFailed(str(exc), details=details) from None
    except MigratorError as exc:
        raise AppRoleFailed(f"the application role was not set up: {exc}", details=details) from None
    except psycopg.Error as exc:
        diag = getattr(exc, "diag", None)
        reason = getattr(diag, "message_primary", None) or type(exc).__name__
        raise AppRoleFailed(
            f"the application role was not set up: the database refused ({reason}). The migrator's user "
            "needs CREATEROLE (the RDS master user has it) and must own the application's tables. Fix that "
            "and run migrate again (the migrations themselves are applied)",
            details=details,
        ) from None
