"""The sql action's reader role on a real PostgreSQL: set up idempotently by a non-superuser migrator (like
the RDS master user), refused when it would not be least-privileged, rotated with the migrator's password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from migrator import scram, sqlaction
from migrator.errors import ConfigurationError
from migrator.settings import Settings
from migrator.sqlaction import reader_role

from scripts.localdefault import localenv


@pytest.fixture
def cluster(local_default: localenv.State) -> Iterator[dict[str, str]]:
    """A database owned by a fresh CREATEROLE migrator (no superuser), and a reader name of its own."""
    tag = uuid.uuid4().hex[:8]
    migrator, reader, database = f"t_mig_{tag}", f"t_reader_{tag}", f"t_roles_{tag}"
    password = uuid.uuid4().hex
    admin = local_default.admin_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {migrator} LOGIN CREATEROLE PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {database} OWNER {migrator}")
    base = admin.rsplit("@", 1)[1].rsplit("/", 1)[0]
    url = f"postgresql://{migrator}:{password}@{base}/{database}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL)")
        conn.execute("INSERT INTO orders (total) VALUES (9.50)")
    try:
        yield {"url": url, "migrator": migrator, "reader": reader, "database": database, "admin": admin}
    finally:
        sqlaction.command._readers_ready.clear()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            for role in (reader, migrator):
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def settings_for(cluster: dict[str, str]) -> Settings:
    return Settings(sql_role=cluster["reader"])


def test_a_createrole_migrator_sets_up_the_reader_and_the_reader_reads(cluster) -> None:
    result = sqlaction.sql(cluster["url"], "SELECT id, total FROM orders", settings=settings_for(cluster))
    assert result["rows"] == [[1, "9.50"]]
    assert result["role"] == cluster["reader"]
    setup = result["role_setup"]
    assert setup["created"] is True and setup["schemas"] == ["public"]
    # temp_file_limit is superuser-only: this migrator (like the RDS master user) may not set it, and says so
    assert any(line.startswith("temp_file_limit=") for line in setup["not_set"])


def test_setup_is_idempotent_and_new_tables_reach_the_reader(cluster) -> None:
    settings = settings_for(cluster)
    with psycopg.connect(cluster["url"], autocommit=True) as conn:
        first = reader_role.ensure_reader(conn, role=cluster["reader"], password="pw-1", schemas=["public"])
        again = reader_role.ensure_reader(conn, role=cluster["reader"], password="pw-1", schemas=["public"])
        # a table the migrator creates after the setup: default privileges grant it
        conn.execute("CREATE TABLE refunds (id int)")
    assert first["created"] is True and again["created"] is False
    sqlaction.command._readers_ready.clear()
    assert sqlaction.sql(cluster["url"], "SELECT count(*) FROM refunds", settings=settings)["rows"] == [[0]]


def test_the_reader_cannot_write_or_run_ddl_even_without_any_check(cluster) -> None:
    password = reader_role.reader_password("migrator-secret", cluster["reader"])
    with psycopg.connect(cluster["url"], autocommit=True) as conn:
        reader_role.ensure_reader(conn, role=cluster["reader"], password=password, schemas=["public"])
    reader_url = f"postgresql://{cluster['reader']}:{password}@" + cluster["url"].rsplit("@", 1)[1]
    with psycopg.connect(reader_url, autocommit=True) as reader:
        for statement in (
            "INSERT INTO orders (total) VALUES (1)",  # read-only by default
            "CREATE TABLE stolen (x int)",
        ):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                reader.execute(statement)
        reader.execute("SET default_transaction_read_only = off")  # a session can undo its own default...
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("INSERT INTO orders (total) VALUES (1)")  # ...but holds no write privilege
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("CREATE TABLE public.stolen (x int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT pg_read_file('/etc/hostname')")


def test_a_reader_name_that_holds_something_is_refused(cluster) -> None:
    with psycopg.connect(cluster["admin"], autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {cluster['reader']} LOGIN")
        admin.execute(f"GRANT pg_signal_backend TO {cluster['reader']}")
    with (
        psycopg.connect(cluster["url"], autocommit=True) as conn,
        pytest.raises(ConfigurationError, match="is a member of pg_signal_backend"),
    ):
        reader_role.ensure_reader(conn, role=cluster["reader"], password="x", schemas=["public"])


def test_rotating_the_migrator_password_rotates_the_reader(cluster) -> None:
    settings = settings_for(cluster)
    assert sqlaction.sql(cluster["url"], "SELECT 1", settings=settings)["rows"] == [[1]]
    new_password = uuid.uuid4().hex
    with psycopg.connect(cluster["admin"], autocommit=True) as admin:
        admin.execute(f"ALTER ROLE {cluster['migrator']} PASSWORD '{new_password}'")
    old = cluster["url"].split("@")[0].rsplit(":", 1)[1]
    rotated = cluster["url"].replace(f":{old}@", f":{new_password}@")
    # the cached "ready" mark is for the old credentials; the new ones set the reader up again
    result = sqlaction.sql(rotated, "SELECT 2", settings=settings)
    assert result["rows"] == [[2]]


def test_scram_verifier_is_what_postgresql_accepts(cluster) -> None:
    salt = b"0123456789abcdef"
    verifier = scram.scram_sha256_verifier("pencil", salt=salt)
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    # the migrator never sends the plain password: it is not in the statement PostgreSQL logs
    with psycopg.connect(cluster["url"], autocommit=True) as conn:
        reader_role.ensure_reader(conn, role=cluster["reader"], password="pencil", schemas=["public"])
    reader_url = f"postgresql://{cluster['reader']}:pencil@" + cluster["url"].rsplit("@", 1)[1]
    with psycopg.connect(reader_url) as reader:
        assert reader.execute("SELECT current_user").fetchone() == (cluster["reader"],)


def test_someone_holding_the_setup_lock_does_not_stop_the_action(cluster) -> None:
    # GIVEN the reader set up once, and any login holding the setup's advisory lock key
    settings = settings_for(cluster)
    assert sqlaction.sql(cluster["url"], "SELECT 1", settings=settings)["rows"] == [[1]]
    sqlaction.command._readers_ready.clear()  # a new container: it sets the role up again
    with psycopg.connect(cluster["admin"], autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (reader_role._LOCK_KEY,))
        # WHEN the action runs THEN it proceeds with the role as it is
        result = sqlaction.sql(cluster["url"], "SELECT 2", settings=settings)
    assert result["rows"] == [[2]]
