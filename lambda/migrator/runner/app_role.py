"""The application's database roles: one per colour, and one group role that holds their privileges.

    app          NOLOGIN group role: SELECT, INSERT, UPDATE, DELETE on the application's tables and the
                 sequences behind them; later tables reach it through the migrator's default privileges
    app_blue     blue's role: LOGIN with the password of its own secret (APP_BLUE_SECRET_ID), NOLOGIN without
                 one; a member of ``app``; owns nothing and may not change the schema
    app_green    the same for green

The names come from settings (``MIGRATOR_APP_GROUP``, ``MIGRATOR_COLOR_ROLES``). Each colour logs in as its
own role so the database can tell the colours apart: the statement inventory (:mod:`.inventory`) attributes
what ``pg_stat_statements`` records by role, and the contract gate asks whether the old colour still has a
session. One group keeps one set of privileges.

``migrate`` sets them up after every successful run, holding the migration lock, in one transaction:

* the group is created NOLOGIN when missing and then gets DML on the tables that exist; every later table
  reaches it through ``ALTER DEFAULT PRIVILEGES``. Grants are not renewed on later runs, so a ``REVOKE`` in a
  migration is respected (and the compatibility check sees it);
* each colour's role is created when missing, LOGIN with its secret's password or NOLOGIN without a secret:
  a LOGIN password only ever comes from the role's own secret. Its password is set again only when its secret
  has a new version (a rotation), recorded in ``release_kit_roles``, so rotating one colour never touches the
  other colour's role or connections;
* the single-role layout (``APP_DB_SECRET_ID``: one role for both colours, as before colour roles) keeps
  working during the move: that role is the group, and it keeps LOGIN with its secret's password while the
  secret is configured. Once it is not and colour secrets are, and no session of it is left, it becomes
  NOLOGIN (see docs/runbook.md, "Moving to a role per colour").

Passwords never reach the server in plain text: the statement carries a SCRAM-SHA-256 verifier computed here
(PostgreSQL stores a verifier it is given as it is), so the statement log cannot show it. Passwords and
verifiers are registered with :mod:`migrator.logs`, which keeps them out of every log line and result.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from migrator import logs
from migrator.credentials import read_secret_versioned
from migrator.errors import MigratorError, SecretMalformed
from migrator.runner import store
from migrator.scram import scram_sha256_verifier
from migrator.settings import Settings

__all__ = [
    "ROLES_TABLE",
    "AppRole",
    "AppRoleFailed",
    "allow_set_role",
    "ensure",
    "ensure_configured",
    "from_secret",
]

SCHEMA = "public"
ROLES_TABLE = store.ROLES_TABLE
DML = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT, UPDATE"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]{8,}$")
_ADMIN = "rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls"
_CREATE_ROLES_TABLE = f"""
CREATE TABLE IF NOT EXISTS {ROLES_TABLE} (
    role            text PRIMARY KEY,
    color           text,
    secret_version  text,
    password_set_at timestamptz,
    granted_at      timestamptz
)
"""


class AppRoleFailed(MigratorError):
    """The application's roles could not be set up (a secret, or a statement the database refused)."""


@dataclass(frozen=True)
class AppRole:
    """A role's name and password as its secret holds them (repr never shows the password)."""

    name: str
    password: str = field(repr=False)
    version: str | None = None


def from_secret(secret_id: str, client: Any = None, *, setting: str = "APP_DB_SECRET_ID") -> AppRole:
    """The role named by an RDS-shaped secret (``username``, ``password``), with the secret's version."""
    data, version = read_secret_versioned(secret_id, client, setting=setting)
    name, password = str(data["username"]), str(data["password"])
    if not _ROLE_NAME.match(name):
        raise SecretMalformed(
            f"secret {secret_id!r} names the role {name[:70]!r}: use a lower-case name of letters, digits "
            "and underscores, e.g. app_blue"
        )
    if not _PRINTABLE_ASCII.match(password):
        raise SecretMalformed(
            f"the password in secret {secret_id!r} must be at least 8 printable ASCII characters without "
            "spaces (the verifier is computed here, and SASLprep would change other characters)"
        )
    logs.register_secret(password)
    return AppRole(name=name, password=password, version=version)


@dataclass(frozen=True)
class _Wanted:
    """What the settings and secrets ask for: the group, each colour's role, and their passwords."""

    group: str
    colors: dict[str, str]
    passwords: dict[str, AppRole]  # role name -> its secret (a colour's, or the single-role layout's)
    colour_secrets: bool  # whether any colour's role has a secret (the managed, per-colour layout)


def _wanted(settings: Settings, client: Any) -> _Wanted:
    colors = settings.roles_by_color
    passwords: dict[str, AppRole] = {}
    for color, secret_id in settings.secrets_by_color.items():
        role = from_secret(secret_id, client, setting=f"APP_{color.upper()}_SECRET_ID")
        if role.name != colors[color]:
            raise AppRoleFailed(
                f"secret {secret_id!r} (APP_{color.upper()}_SECRET_ID) names role {role.name!r}, but "
                f"{color}'s role is {colors[color]!r} (MIGRATOR_COLOR_ROLES): the inventory attributes "
                "statements by that name, so the two must agree. Fix the secret or the setting"
            )
        passwords[role.name] = role
    if settings.app_secret_id:
        shared = from_secret(settings.app_secret_id, client)
        if shared.name != settings.app_group:
            raise AppRoleFailed(
                f"the single-role secret (APP_DB_SECRET_ID) names role {shared.name!r}, but the group role "
                f"is {settings.app_group!r} (MIGRATOR_APP_GROUP): in the move to a role per colour, today's "
                "role becomes the group, so the two must agree"
            )
        passwords[shared.name] = shared
    return _Wanted(settings.app_group, colors, passwords, bool(settings.secrets_by_color))


def ensure(conn: psycopg.Connection, settings: Settings, *, client: Any = None) -> dict[str, Any]:
    """Create or update the group and colour roles and their grants in one transaction on ``conn`` (the
    migrator's connection, which owns the tables). Returns ``{group, colors, tables, ddl_refused}``.

    Roles are cluster-wide while the migration lock is per database, so two databases' runs can race on the
    same role: a conflict is tried again, up to three times."""
    wanted = _wanted(settings, client)
    for attempt in range(3):
        try:
            with conn.transaction():
                result = _ensure(conn, wanted)
            break
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject, psycopg.errors.InternalError):
            if attempt == 2:
                raise
            time.sleep(0.1 * (attempt + 1))
    if not result["ddl_refused"]:
        # PostgreSQL before 15 grants CREATE on public to everyone; the kit requires 15 or later for RDS.
        logs.log(
            "the application's roles can create objects: revoke CREATE on schema public from PUBLIC",
            level="WARNING",
            role=wanted.group,
        )
    logs.log("application roles ready", **result)
    return result


def _ensure(conn: psycopg.Connection, wanted: _Wanted) -> dict[str, Any]:
    me = conn.execute("SELECT current_user").fetchone()[0]
    names = [wanted.group, *wanted.colors.values()]
    if me in names:
        raise AppRoleFailed(
            f"the application role {me!r} is the migrator's own user: give the application's roles their own "
            "names (database.app_username) so that the containers cannot change the schema"
        )
    existing = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            f"SELECT rolname, {_ADMIN}, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)", (names,)
        ).fetchall()
    }
    privileged = [name for name, (admin, _) in existing.items() if admin]
    if privileged:
        name = privileged[0]
        raise AppRoleFailed(
            f"role {name!r} exists with administrative attributes (superuser, createrole, createdb, "
            "replication or bypassrls): the application's roles must have none. Remove them (ALTER ROLE "
            f"{name} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS) and run migrate again"
        )
    _ensure_roles_table(conn)
    recorded = {
        row[0]: (row[1], row[2])
        for row in conn.execute(f"SELECT role, secret_version, granted_at FROM {ROLES_TABLE}").fetchall()
    }
    group = _ensure_group(conn, wanted, existing, recorded)
    colors = {
        color: _ensure_color(conn, wanted, color, name, existing, recorded)
        for color, name in wanted.colors.items()
    }
    tables = conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename <> ALL(%s) "
        "AND has_table_privilege(%s, format('%%I.%%I', schemaname, tablename), 'INSERT')",
        (SCHEMA, [t.split(".")[1] for t in store.RUNNER_TABLES], wanted.group),
    ).fetchone()[0]
    can_create = conn.execute(
        "SELECT has_schema_privilege(%s, %s, 'CREATE') OR has_database_privilege(%s, current_database(), "
        "'CREATE')",
        (wanted.group, SCHEMA, wanted.group),
    ).fetchone()[0]
    return {"group": group, "colors": colors, "tables": tables, "ddl_refused": not can_create}


def _ensure_roles_table(conn: psycopg.Connection) -> None:
    if conn.execute("SELECT to_regclass(%s) IS NULL", (ROLES_TABLE,)).fetchone()[0]:
        conn.execute(_CREATE_ROLES_TABLE)
        store.keep_private(conn, ROLES_TABLE)


def _set_password(conn: psycopg.Connection, role: AppRole, verb: str, color: str | None) -> None:
    verifier = scram_sha256_verifier(role.password)
    logs.register_secret(verifier)
    conn.execute(
        sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.Identifier(role.name), sql.Literal(verifier)
        )
    )
    conn.execute(
        f"INSERT INTO {ROLES_TABLE} (role, color, secret_version, password_set_at) "
        "VALUES (%s, %s, %s, now()) "
        "ON CONFLICT (role) DO UPDATE SET color = EXCLUDED.color, secret_version = EXCLUDED.secret_version, "
        "password_set_at = EXCLUDED.password_set_at",
        (role.name, color, role.version),
    )


def _needs_password(role: AppRole, existing: dict, recorded: dict) -> bool:
    can_login = existing.get(role.name, (False, False))[1]
    version = recorded.get(role.name, (None, None))[0]
    return not can_login or role.version is None or version != role.version


def _ensure_group(
    conn: psycopg.Connection, wanted: _Wanted, existing: dict, recorded: dict
) -> dict[str, Any]:
    name = wanted.group
    ident = sql.Identifier(name)
    created = name not in existing
    login = existing.get(name, (False, False))[1]
    result: dict[str, Any] = {"name": name, "created": created}
    shared = wanted.passwords.get(name)
    if shared is not None:
        # The single-role layout: the colours still log in as the group itself.
        if created or _needs_password(shared, existing, recorded):
            _set_password(conn, shared, "CREATE" if created else "ALTER", None)
        login = True
    elif created:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
    elif login and wanted.colour_secrets:
        # The move to colour roles is done (no single-role secret any more): close the group's own door,
        # but only once nothing still uses it (NOLOGIN stops new logins, so a pool would fail to reconnect).
        sessions = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (name,)
        ).fetchone()[0]
        if sessions:
            result["login_kept"] = (
                f"{sessions} session(s) of {name} are still open: it stays LOGIN until they close (a later "
                "migrate makes it NOLOGIN)"
            )
        else:
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(ident))
            login = False
    result["login"] = login
    database = sql.Identifier(conn.execute("SELECT current_database()").fetchone()[0])
    schema = sql.Identifier(SCHEMA)
    statements = [
        "GRANT CONNECT ON DATABASE {database} TO {role}",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        # Tables and sequences that later migrations create (as this user) reach the group at once.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {{schema}} GRANT {DML} ON TABLES TO {{role}}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {{schema}} GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {{role}}",
    ]
    first_grant = recorded.get(name, (None, None))[1] is None
    if first_grant:
        # Once: what exists now. Later tables come through the default privileges, and a REVOKE that a
        # migration makes stays made.
        statements += [
            f"GRANT {DML} ON ALL TABLES IN SCHEMA {{schema}} TO {{role}}",
            f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {{schema}} TO {{role}}",
        ]
    for text in statements:
        conn.execute(sql.SQL(text).format(database=database, schema=schema, role=ident))
    for table in store.RUNNER_TABLES:  # the runner's own tables are not the application's
        if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.SQL(table), ident))
    if first_grant:
        conn.execute(
            f"INSERT INTO {ROLES_TABLE} (role, granted_at) VALUES (%s, now()) "
            "ON CONFLICT (role) DO UPDATE SET granted_at = now()",
            (name,),
        )
    return result


def _ensure_color(
    conn: psycopg.Connection, wanted: _Wanted, color: str, name: str, existing: dict, recorded: dict
) -> dict[str, Any]:
    ident = sql.Identifier(name)
    created = name not in existing
    secret = wanted.passwords.get(name)
    password = "none"  # noqa: S105 - what happened to the password, not a password
    if secret is not None and (created or _needs_password(secret, existing, recorded)):
        _set_password(conn, secret, "CREATE" if created else "ALTER", color)
        password = "set"  # noqa: S105
    elif secret is not None:
        password = "unchanged"  # noqa: S105
    elif created:
        # No secret: the role exists for the inventory and the check (a LOGIN password only ever comes from
        # the role's own secret).
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
    member = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (name, wanted.group)).fetchone()[0]
    if not member:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(wanted.group), ident))
    login = secret is not None or existing.get(name, (False, False))[1]
    return {"name": name, "created": created, "login": login, "password": password}


def allow_set_role(conn: psycopg.Connection, role: str) -> None:
    """Let the migrator ``SET ROLE`` to ``role`` (the compatibility check compiles each colour's statements
    as that colour). A superuser may already; otherwise the migrator (CREATEROLE) grants itself membership,
    without inheriting the role's privileges where PostgreSQL can say so (16 and later)."""
    may = conn.execute(
        "SELECT rolsuper OR pg_has_role(current_user, %s, 'MEMBER') FROM pg_roles "
        "WHERE rolname = current_user",
        (role,),
    ).fetchone()[0]
    if may:
        return
    grant = "GRANT {} TO CURRENT_USER"
    if conn.info.server_version >= 160000:
        grant += " WITH INHERIT FALSE, SET TRUE"
    conn.execute(sql.SQL(grant).format(sql.Identifier(role)))


def ensure_configured(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    details: dict[str, Any] | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """:func:`ensure`; any failure becomes :class:`AppRoleFailed` saying what to do, carrying ``details``
    (what was applied)."""
    try:
        return ensure(conn, settings, client=client)
    except AppRoleFailed as exc:
        raise AppRoleFailed(str(exc), details=details) from None
    except MigratorError as exc:
        raise AppRoleFailed(f"the application's roles were not set up: {exc}", details=details) from None
    except psycopg.Error as exc:
        diag = getattr(exc, "diag", None)
        reason = getattr(diag, "message_primary", None) or type(exc).__name__
        raise AppRoleFailed(
            f"the application's roles were not set up: the database refused ({reason}). The migrator's user "
            "needs CREATEROLE (the RDS master user has it) and must own the application's tables. Fix that "
            "and run migrate again (the migrations themselves are applied)",
            details=details,
        ) from None


def recorded(conn: psycopg.Connection, settings: Settings) -> dict[str, dict[str, Any]]:
    """Per colour: its role, whether it may log in, and the secret version its current password came from
    and when the migrator set it (what a release compares with the secret and the colour's tasks)."""
    roles = settings.roles_by_color
    logins = dict(
        conn.execute(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)", (list(roles.values()),)
        ).fetchall()
    )
    versions: dict[str, tuple] = {}
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (ROLES_TABLE,)).fetchone()[0]:
        versions = {
            row[0]: row[1:]
            for row in conn.execute(
                f"SELECT role, secret_version, password_set_at FROM {ROLES_TABLE} WHERE role = ANY(%s)",
                (list(roles.values()),),
            ).fetchall()
        }
    result: dict[str, dict[str, Any]] = {}
    for color, role in roles.items():
        version, set_at = versions.get(role, (None, None))
        result[color] = {
            "role": role,
            "exists": role in logins,
            "login": bool(logins.get(role)),
            "secret_version": version,
            "password_set_at": set_at.isoformat() if set_at else None,
        }
    return result
