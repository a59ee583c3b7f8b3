"""The application's roles (lambda/migrator/runner/app_role.py) on a real PostgreSQL, their secrets on moto.

The migrator is what it is on RDS: a non-superuser with CREATEROLE, CREATEDB and pg_read_all_stats, owning
the database. Each colour logs in as its own role with its own secret's password; both are members of one
NOLOGIN group that holds the DML grants. They can read and write the application's tables (including one a
later migration creates), cannot change the schema or touch the runner's tables, and rotating one colour's
password leaves the other colour's connections alone. Passwords never reach the server's statement log, a
log line or a result."""

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
from migrator_support import manifest, numbered
from psycopg import sql

from scripts.localdefault import localenv
from tests.integration.colour_support import RdsLike, rds_like_database


@dataclass
class Colours:
    db: RdsLike
    secrets: dict[str, str]  # colour -> secret ARN
    passwords: dict[str, str]

    def url(self, color: str, password: str | None = None) -> str:
        secret = password or self.passwords[color]
        return f"postgresql://{self.db.role(color)}:{secret}@127.0.0.1:{self.db.port}/{self.db.database}"

    def settings(self, **changes):
        return self.db.with_settings(color_secret_ids=tuple(self.secrets.items()), **changes)

    def rotate(self, color: str) -> str:
        client = boto3.client("secretsmanager")
        value = json.loads(client.get_secret_value(SecretId=self.secrets[color])["SecretString"])
        value["password"] = secrets.token_hex(20)
        client.put_secret_value(SecretId=self.secrets[color], SecretString=json.dumps(value))
        return value["password"]


def _secret(name: str, username: str, password: str, db: RdsLike) -> str:
    return boto3.client("secretsmanager").create_secret(
        Name=name,
        SecretString=json.dumps(
            {
                "username": username,
                "password": password,
                "host": "127.0.0.1",
                "port": db.port,
                "dbname": db.database,
            }
        ),
    )["ARN"]


@pytest.fixture
def colours(local_default: localenv.State, aws_env) -> Iterator[Colours]:
    with rds_like_database(local_default.admin_url, local_default.pg_port) as db:
        with db.admin() as admin:
            # Statement logging on for the migrator's sessions, to prove passwords never reach the log
            admin.execute(
                sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(sql.Identifier(db.migrator))
            )
        tag = uuid.uuid4().hex[:8]
        passwords = {color: secrets.token_hex(20) for color in ("blue", "green")}
        arns = {
            color: _secret(f"colour-roles/{tag}/{color}", db.role(color), passwords[color], db)
            for color in ("blue", "green")
        }
        yield Colours(db, arns, passwords)
        for arn in arns.values():
            boto3.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def _migrate(colours: Colours, count: int = 2, **settings):
    return runner.migrate(
        colours.db.migrator_url, manifest=manifest(*numbered(count)), settings=colours.settings(**settings)
    )


def test_each_colour_logs_in_as_its_own_role_which_may_write_but_not_change_the_schema(
    colours: Colours, capsys
):
    result = _migrate(colours)
    db = colours.db
    roles = result["roles"]
    assert roles["group"] == {"name": db.group, "created": True, "login": False}
    for color in ("blue", "green"):
        assert roles["colors"][color] == {
            "name": db.role(color),
            "created": True,
            "login": True,
            "password": "set",
        }
    assert roles["tables"] == 2 and roles["ddl_refused"] is True

    for color in ("blue", "green"):
        with psycopg.connect(colours.url(color), autocommit=True) as app:
            assert app.execute("SELECT current_user").fetchone()[0] == db.role(color)
            app.execute("INSERT INTO t1 (id, note) VALUES (%s, 'a')", (1 if color == "blue" else 2,))
            app.execute("UPDATE t1 SET note = 'c' WHERE id = 1")
            assert app.execute("SELECT count(*) FROM t1").fetchone()[0] >= 1
            for statement in (
                "CREATE TABLE t9 (id int)",
                "ALTER TABLE t1 ADD COLUMN extra int",
                "DROP TABLE t2",
                "TRUNCATE t1",
                "SELECT * FROM release_kit_migrations",
                "SELECT * FROM release_kit_roles",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute(statement)
    # The group itself cannot log in
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://{db.group}:x@127.0.0.1:{db.port}/{db.database}")

    out = capsys.readouterr()
    for password in colours.passwords.values():
        assert password not in out.err + out.out + json.dumps(result)


def test_a_table_a_later_migration_creates_reaches_both_colours(colours: Colours):
    _migrate(colours, count=1)
    second = _migrate(colours, count=2)
    assert [m["id"] for m in second["applied"]] == ["0002"]
    assert second["roles"]["colors"]["blue"]["password"] == "unchanged"
    for color in ("blue", "green"):
        with psycopg.connect(colours.url(color), autocommit=True) as app:
            app.execute("INSERT INTO t2 (id) VALUES (%s)", (1 if color == "blue" else 2,))


def test_a_revoke_in_a_migration_is_respected(colours: Colours):
    _migrate(colours, count=2)
    revoke = numbered(1, prefix="r", start=3)[0].__class__(
        "0003", "revoke", f"REVOKE INSERT ON t1 FROM {colours.db.group}", None
    )
    runner.migrate(
        colours.db.migrator_url, manifest=manifest(*numbered(2), revoke), settings=colours.settings()
    )
    # WHEN migrate runs again, THEN the role setup does not grant it back
    runner.migrate(
        colours.db.migrator_url, manifest=manifest(*numbered(2), revoke), settings=colours.settings()
    )
    with psycopg.connect(colours.url("blue"), autocommit=True) as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("INSERT INTO t1 (id) VALUES (7)")
        app.execute("INSERT INTO t2 (id) VALUES (7)")


def test_rotating_one_colour_leaves_the_other_colours_connections_alone(colours: Colours):
    _migrate(colours)
    blue_before = app_role_set_at(colours, "blue")
    # GIVEN both colours connected, as their running tasks are
    with (
        psycopg.connect(colours.url("blue"), autocommit=True) as blue,
        psycopg.connect(colours.url("green"), autocommit=True) as green,
    ):
        # WHEN green's secret is rotated (green is the idle colour) and migrate runs
        new_green = colours.rotate("green")
        again = _migrate(colours)
        assert again["roles"]["colors"]["green"]["password"] == "set"
        assert again["roles"]["colors"]["blue"]["password"] == "unchanged"
        # THEN blue's open session and blue's password are untouched, and so is its record
        assert blue.execute("SELECT current_user").fetchone()[0] == colours.db.role("blue")
        with psycopg.connect(colours.url("blue")) as fresh_blue:
            fresh_blue.execute("SELECT 1")
        assert app_role_set_at(colours, "blue") == blue_before
        # AND green's open session goes on (PostgreSQL checks a password at login only) ...
        green.execute("SELECT 1")
    # ... while a new green login needs the new password
    with psycopg.connect(colours.url("green", new_green)) as fresh_green:
        fresh_green.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(colours.url("green"))
    # AND what the release compares with the secret says which version the password came from
    recorded = runner.capture(colours.db.migrator_url, settings=colours.settings())["roles"]
    current = boto3.client("secretsmanager").get_secret_value(SecretId=colours.secrets["green"])["VersionId"]
    assert recorded["green"]["secret_version"] == current
    assert recorded["green"]["password_set_at"] > recorded["blue"]["password_set_at"]


def app_role_set_at(colours: Colours, color: str) -> str:
    return runner.capture(colours.db.migrator_url, settings=colours.settings())["roles"][color][
        "password_set_at"
    ]


def test_without_secrets_the_roles_are_created_nologin_under_names_the_settings_choose(colours: Colours):
    db = colours.db
    renamed = (("blue", f"{db.group}_b"), ("green", f"{db.group}_g"))
    db.extra_roles += [name for _, name in renamed]
    result = runner.migrate(
        db.migrator_url, manifest=manifest(*numbered(1)), settings=db.with_settings(color_roles=renamed)
    )
    assert result["roles"]["colors"] == {
        "blue": {"name": f"{db.group}_b", "created": True, "login": False, "password": "none"},
        "green": {"name": f"{db.group}_g", "created": True, "login": False, "password": "none"},
    }
    with db.admin() as admin:
        rows = admin.execute(
            "SELECT r.rolname, r.rolcanlogin, pg_has_role(r.rolname, %s, 'USAGE') FROM pg_roles r "
            "WHERE r.rolname = ANY(%s) ORDER BY 1",
            (db.group, [f"{db.group}_b", f"{db.group}_g"]),
        ).fetchall()
    assert rows == [(f"{db.group}_b", False, True), (f"{db.group}_g", False, True)]


def test_the_move_from_one_shared_role_causes_no_outage(colours: Colours):
    """Today's single role becomes the group: its sessions and logins go on through the move."""
    db = colours.db
    client = boto3.client("secretsmanager")
    shared_password = secrets.token_hex(20)
    shared = _secret(f"colour-roles/{uuid.uuid4().hex[:8]}/shared", db.group, shared_password, db)
    shared_url = f"postgresql://{db.group}:{shared_password}@127.0.0.1:{db.port}/{db.database}"
    try:
        # GIVEN the single-role layout: both colours log in as the group role, with its secret
        runner.migrate(db.migrator_url, manifest=manifest(*numbered(1)), settings=db.with_settings(
            app_secret_id=shared))  # fmt: skip
        with psycopg.connect(shared_url, autocommit=True) as legacy:
            legacy.execute("INSERT INTO t1 (id) VALUES (1)")
            # WHEN the colour secrets are added (both layouts configured) and migrate runs
            both = runner.migrate(
                db.migrator_url,
                manifest=manifest(*numbered(1)),
                settings=colours.settings(app_secret_id=shared),
            )
            # THEN the shared role still logs in, and its open session goes on
            assert both["roles"]["group"]["login"] is True
            with psycopg.connect(shared_url) as another:
                another.execute("SELECT count(*) FROM t1")
            legacy.execute("INSERT INTO t1 (id) VALUES (2)")
            # AND each colour can already log in as its own role (members of the group: same grants)
            with psycopg.connect(colours.url("green"), autocommit=True) as green:
                green.execute("INSERT INTO t1 (id) VALUES (3)")
            # WHEN both colours have moved and the shared secret is gone, while a session of it is still open
            moved = runner.migrate(
                db.migrator_url, manifest=manifest(*numbered(1)), settings=colours.settings()
            )
            # THEN the group stays LOGIN until that session is gone, and says why
            assert moved["roles"]["group"]["login"] is True
            assert "1 session(s)" in moved["roles"]["group"]["login_kept"]
            legacy.execute("INSERT INTO t1 (id) VALUES (4)")
        # WHEN it has closed, THEN the next migrate makes the group NOLOGIN, and the colours go on
        done = runner.migrate(db.migrator_url, manifest=manifest(*numbered(1)), settings=colours.settings())
        assert done["roles"]["group"] == {"name": db.group, "created": False, "login": False}
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(shared_url)
        with psycopg.connect(colours.url("blue"), autocommit=True) as blue:
            assert blue.execute("SELECT count(*) FROM t1").fetchone()[0] == 4
    finally:
        client.delete_secret(SecretId=shared, ForceDeleteWithoutRecovery=True)


def test_a_secret_naming_another_role_than_the_settings_is_refused(colours: Colours):
    client = boto3.client("secretsmanager")
    value = json.loads(client.get_secret_value(SecretId=colours.secrets["blue"])["SecretString"])
    client.put_secret_value(
        SecretId=colours.secrets["blue"], SecretString=json.dumps({**value, "username": "someone_else"})
    )
    with pytest.raises(app_role.AppRoleFailed, match="names role 'someone_else'") as refused:
        _migrate(colours)
    assert [m["id"] for m in refused.value.details["applied"]] == ["0001", "0002"]


def test_the_server_stores_and_logs_only_the_verifier(colours: Colours, local_default: localenv.State):
    _migrate(colours)
    with psycopg.connect(local_default.admin_url) as admin:
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (colours.db.role("blue"),)
        ).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$4096:")
    server_log = (Path(local_default.pg_data) / "server.log").read_text(errors="replace")
    assert stored in server_log  # the statement log (log_statement = all) did record the role statement ...
    assert colours.passwords["blue"] not in server_log  # ... with the verifier, never the password


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
def test_an_existing_privileged_role_is_refused(
    colours: Colours, local_default: localenv.State, attribute: str
):
    with psycopg.connect(local_default.admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL(f"CREATE ROLE {{}} {attribute}").format(sql.Identifier(colours.db.role("green")))
        )
    with pytest.raises(app_role.AppRoleFailed, match="administrative attributes") as refused:
        _migrate(colours)
    # The migrations themselves are applied and reported
    assert [m["id"] for m in refused.value.details["applied"]] == ["0001", "0002"]


def test_a_role_must_not_be_the_migrators_own_user(colours: Colours):
    db = colours.db
    with pytest.raises(app_role.AppRoleFailed, match="is the migrator's own user"):
        runner.migrate(
            db.migrator_url,
            manifest=manifest(*numbered(1)),
            settings=db.with_settings(color_roles=(("blue", db.migrator), ("green", db.role("green")))),
        )
