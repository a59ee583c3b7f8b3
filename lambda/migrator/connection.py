"""The migrator's own database connection, shared by the runner and the sql action.

``Database`` is what every command takes: a connection string / URL, or resolved
:class:`~migrator.credentials.Credentials`. :func:`connect` opens an autocommit session with the migration
timeouts set; :func:`connection` is the same as a context manager that turns a lost or refusing server into
a :class:`~migrator.errors.DatabaseError`; :func:`pg_reason` is the one-line reason of a PostgreSQL error
(its primary message and SQLSTATE, never the statement or a value).

It imports only the top-level modules (credentials, errors, settings): never ``migrator.runner`` or
``migrator.sqlaction``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from migrator.credentials import Credentials, from_url
from migrator.errors import DatabaseError, DatabaseUnavailable
from migrator.settings import Settings

__all__ = ["Database", "connect", "connection", "credentials_of", "pg_reason"]

Database = str | Credentials


def connect(credentials: Credentials, settings: Settings) -> psycopg.Connection:
    """An autocommit connection with the migration timeouts set for the session."""
    try:
        conn = psycopg.connect(
            credentials.conninfo,
            autocommit=True,
            connect_timeout=settings.connect_timeout,
            application_name="release-kit-migrator",
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(
            f"could not connect to the {credentials.description}: {reason}. "
            "Check the host, port, credentials and that the database is reachable from here"
        ) from None
    try:
        # set_config() takes the values as parameters: no quoting of configuration into SQL text.
        conn.execute(
            "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
            (settings.lock_timeout, settings.statement_timeout),
        )
        if conn.info.server_version >= 140000:
            conn.execute("SET client_connection_check_interval = 1000")
    except psycopg.Error as exc:
        conn.close()
        raise DatabaseError(
            f"could not set the migration timeouts ({type(exc).__name__}): check MIGRATOR_LOCK_TIMEOUT and "
            "MIGRATOR_STATEMENT_TIMEOUT"
        ) from None
    return conn


def credentials_of(database: Database) -> Credentials:
    return database if isinstance(database, Credentials) else from_url(database)


@contextmanager
def connection(database: Database, settings: Settings) -> Iterator[psycopg.Connection]:
    conn = connect(credentials_of(database), settings)
    try:
        yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"lost the database connection: {pg_reason(exc)}. Run again") from None
    except psycopg.Error as exc:
        raise DatabaseError(f"the database rejected a runner statement: {pg_reason(exc)}") from None
    finally:
        conn.close()


def pg_reason(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    code = getattr(exc, "sqlstate", None)
    return f"{text} (SQLSTATE {code})" if code else text
