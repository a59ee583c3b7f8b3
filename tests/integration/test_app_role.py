"""The application role (lambda/migrator/runner/app_role.py) against a real PostgreSQL, its secret on moto.

The migrator here is what it is on RDS: a non-superuser with CREATEROLE that owns the database. After
``migrate``, the role named in the secret logs in with the secret's password, can read and write the
application's tables (including one a later migration creates), and cannot change the schema or touch the
runner's history. Its password never reaches the server's statement log, a log line or a result."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import pytest
from migrator import runner, scram
from migrator.runner import app_role
from migrator.settings import Settings
from migrator_support import manifest, numbered
from psycopg import sql

from scripts.localdefault import localenv


@dataclass
class Setup:
    migrator_url: str
    admin_db_url: str
    role: str
    secret_arn: str
    password: str
    port: int
    database: str

    def app_url(self, password: str | None = None) -> str:
        return f"postgresql://{self.role}:{password or self.password}@127.0.0.1:{self.port}/{self.database}"


@pytest.fixture
def setup(local_default: localenv.State, aws_env) -> Iterator[Setup]:
    tag = uuid.uuid4().hex[:8]
    migrator, role, database = f"mig_{tag}", f"app_{tag}", f"approle_{tag}"
    migrator_password = secrets.token_urlsafe(16)
    with psycopg.connect(local_default.admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(migrator), sql.Literal(migrator_password)
            )
        )
        # Statement logging on for the migrator's sessions, to prove the password never reaches the log
        admin.execute(sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(sql.Identifier(migrator)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(migrator))
        )
    password = secrets.token_hex(20)
    client = boto3.client("secretsmanager")
    arn = client.create_secret(
        Name=f"app-role-test/{tag}",
        SecretString=json.dumps(
            {
                "username": role,
                "password": password,
                "host": "127.0.0.1",
                "port": local_default.pg_port,
                "dbname": database,
            }
        ),
    )["ARN"]
    base = f"127.0.0.1:{local_default.pg_port}/{database}"
    admin_db_url = local_default.admin_url.rsplit("/", 1)[0] + f"/{database}"
    yield Setup(
        f"postgresql://{migrator}:{migrator_password}@{base}",
        admin_db_url,
        role,
        arn,
        password,
        local_default.pg_port,
        database,
    )
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with psycopg.connect(local_default.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        for name in (role, migrator):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _migrate(setup: Setup, count: int = 2):
    return runner.migrate(
        setup.migrator_url,
        manifest=manifest(*numbered(count)),
        settings=Settings(app_secret_id=setup.secret_arn),
    )


def test_the_application_role_can_read_and_write_but_not_change_the_schema(setup: Setup, capsys):
    # GIVEN a migrate run with the application role's secret configured
    result = _migrate(setup)
    # THEN it reports the role, created, with DML on both tables and no CREATE privilege
    assert result["app_role"] == {"name": setup.role, "created": True, "tables": 2, "ddl_refused": True}

    with psycopg.connect(setup.app_url(), autocommit=True) as app:
        # DML works
        app.execute("INSERT INTO t1 (id, note) VALUES (1, 'a'), (2, 'b')")
        app.execute("UPDATE t1 SET note = 'c' WHERE id = 2")
        app.execute("DELETE FROM t1 WHERE id = 1")
        assert app.execute("SELECT id, note FROM t1").fetchall() == [(2, "c")]
        # DDL is refused, and so is the runner's history
        for statement in (
            "CREATE TABLE t9 (id int)",
            "ALTER TABLE t1 ADD COLUMN extra int",
            "DROP TABLE t2",
            "CREATE SCHEMA other",
            "TRUNCATE t1",
            "SELECT * FROM release_kit_migrations",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)

    # AND the password appears in no log line or result
    out = capsys.readouterr()
    assert setup.password not in out.err + out.out + json.dumps(result)


def test_a_table_a_later_migration_creates_reaches_the_role(setup: Setup):
    _migrate(setup, count=1)
    # WHEN a later run creates t2 (no grant in the migration itself)
    second = _migrate(setup, count=2)
    assert [m["id"] for m in second["applied"]] == ["0002"]
    assert second["app_role"]["created"] is False
    # THEN the default privileges give the role DML on it at once
    with psycopg.connect(setup.app_url(), autocommit=True) as app:
        app.execute("INSERT INTO t2 (id) VALUES (1)")
        assert app.execute("SELECT count(*) FROM t2").fetchone()[0] == 1


def test_rotating_the_secret_and_migrating_rotates_the_password(setup: Setup):
    _migrate(setup)
    new_password = secrets.token_hex(20)
    value = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=setup.secret_arn)["SecretString"]
    )
    boto3.client("secretsmanager").put_secret_value(
        SecretId=setup.secret_arn, SecretString=json.dumps({**value, "password": new_password})
    )
    again = _migrate(setup)
    assert again["applied"] == [] and again["app_role"]["created"] is False
    with psycopg.connect(setup.app_url(new_password)) as app:
        assert app.execute("SELECT current_user").fetchone()[0] == setup.role
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(setup.app_url(setup.password))


def test_the_server_stores_and_logs_only_the_verifier(setup: Setup, local_default: localenv.State):
    _migrate(setup)
    with psycopg.connect(local_default.admin_url) as admin:
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (setup.role,)
        ).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$4096:")
    server_log = (Path(local_default.pg_data) / "server.log").read_text(errors="replace")
    assert stored in server_log  # the statement log (log_statement = all) did record the role statement ...
    assert setup.password not in server_log  # ... with the verifier, never the password


def test_the_verifier_is_what_postgresql_computes(local_default: localenv.State):
    # GIVEN a verifier PostgreSQL computed itself from a plain password (throwaway role, never logged in)
    role, password = f"scram_{uuid.uuid4().hex[:8]}", "pencil-" + secrets.token_hex(8)
    with psycopg.connect(local_default.admin_url, autocommit=True) as admin:
        admin.execute("SET password_encryption = 'scram-sha-256'")
        admin.execute(
            sql.SQL("CREATE ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
        try:
            stored = admin.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
            ).fetchone()[0]
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    # WHEN ours is computed with the same salt and iterations THEN it is the same string
    iterations, salt = stored.split("$")[1].split(":")
    ours = scram.scram_sha256_verifier(password, salt=base64.b64decode(salt), iterations=int(iterations))
    assert ours == stored


@pytest.mark.parametrize("attribute", ["CREATEDB", "CREATEROLE"])
def test_an_existing_privileged_role_is_refused(setup: Setup, local_default: localenv.State, attribute: str):
    with psycopg.connect(local_default.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL(f"CREATE ROLE {{}} {attribute}").format(sql.Identifier(setup.role)))
    with pytest.raises(app_role.AppRoleFailed, match="administrative attributes") as refused:
        _migrate(setup)
    # The migrations themselves are applied and reported
    assert [m["id"] for m in refused.value.details["applied"]] == ["0001", "0002"]


def test_the_role_must_not_be_the_migrators_own_user(setup: Setup):
    migrator = setup.migrator_url.split("//")[1].split(":")[0]
    client = boto3.client("secretsmanager")
    value = json.loads(client.get_secret_value(SecretId=setup.secret_arn)["SecretString"])
    client.put_secret_value(
        SecretId=setup.secret_arn, SecretString=json.dumps({**value, "username": migrator})
    )
    with pytest.raises(app_role.AppRoleFailed, match="is the migrator's own user"):
        _migrate(setup)


def test_without_a_secret_no_role_is_set_up(fresh_database: str):
    result = runner.migrate(fresh_database, manifest=manifest(*numbered(1)), settings=Settings())
    assert result["app_role"] is None
