"""The migrator's TLS against a real PostgreSQL serving a certificate for ``localhost`` signed by the local
test CA (scripts/localdefault/). Credentials come from a secret on the local moto server, as in Lambda.

verify-full with the right CA and host name connects (encrypted); another CA, or a host name the
certificate does not name, fails with a clear error; modes that may skip encryption are refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from migrator import connection, credentials
from migrator.errors import ConfigurationError, DatabaseUnavailable
from migrator.settings import Settings

from scripts.localdefault import localenv
from scripts.localdefault.testca import LocalCA


@pytest.fixture
def secret_for(aws_env, local_default: localenv.State):
    """Make a migrator secret on moto pointing at the local PostgreSQL under a given host name."""
    client = boto3.client("secretsmanager")
    made: list[str] = []

    def make(host: str) -> str:
        name = f"tls-test/{uuid.uuid4().hex[:8]}"
        value = {
            "username": "migrator",
            "password": local_default.app_password,
            "host": host,
            "port": local_default.pg_port,
            "dbname": "app",
            "engine": "postgres",
        }
        made.append(client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])
        return made[-1]

    yield make
    for arn in made:
        client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    credentials.forget_cached()


def _lambda_env(secret_arn: str, **tls: str) -> dict[str, str]:
    return {"AWS_LAMBDA_FUNCTION_NAME": "release-kit-local-migrator", "DB_SECRET_ID": secret_arn, **tls}


def _ssl_in_use(creds: credentials.Credentials) -> bool:
    conn = connection.connect(creds, Settings())
    try:
        return conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]
    finally:
        conn.close()


def test_verify_full_with_the_servers_ca_and_name_connects_encrypted(secret_for):
    ca = localenv.local_ca_file()
    creds = credentials.resolve(_lambda_env(secret_for("localhost"), MIGRATOR_SSLROOTCERT=str(ca)))
    assert "TLS verify-full with CA ca.pem" in creds.description
    assert _ssl_in_use(creds) is True


def test_the_default_from_a_secret_requires_tls(secret_for):
    creds = credentials.resolve(_lambda_env(secret_for("127.0.0.1")))
    assert "sslmode=require" in creds.conninfo
    assert _ssl_in_use(creds) is True


def test_another_ca_is_refused_with_a_clear_error(secret_for, tmp_path: Path):
    other = tmp_path / "other-ca.pem"
    other.write_bytes(LocalCA.create("some other CA").certificate_pem)
    creds = credentials.resolve(_lambda_env(secret_for("localhost"), MIGRATOR_SSLROOTCERT=str(other)))
    with pytest.raises(DatabaseUnavailable) as refused:
        connection.connect(creds, Settings())
    message = str(refused.value)
    assert "TLS verify-full with CA other-ca.pem" in message
    assert "certificate verify failed" in message


def test_a_host_name_the_certificate_does_not_name_is_refused(secret_for):
    ca = localenv.local_ca_file()
    creds = credentials.resolve(_lambda_env(secret_for("127.0.0.1"), MIGRATOR_SSLROOTCERT=str(ca)))
    with pytest.raises(DatabaseUnavailable) as refused:
        connection.connect(creds, Settings())
    message = str(refused.value)
    assert 'server certificate for "localhost"' in message
    assert 'does not match host name "127.0.0.1"' in message


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"MIGRATOR_SSLMODE": "prefer"}, "MIGRATOR_SSLMODE='prefer' is not allowed"),
        ({"MIGRATOR_SSLMODE": "disable"}, "MIGRATOR_SSLMODE='disable' is not allowed"),
        ({"MIGRATOR_SSLMODE": "verify-full"}, "MIGRATOR_SSLMODE=verify-full needs MIGRATOR_SSLROOTCERT"),
        ({"MIGRATOR_SSLROOTCERT": "migrator/certs/missing.pem"}, "which is not in the package"),
    ],
)
def test_unsafe_or_incomplete_tls_settings_are_refused(tls, message):
    # Refused before any secret is read or any connection made
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        credentials.resolve(_lambda_env("arn:aws:secretsmanager:us-east-1:123456789012:secret:x", **tls))


def test_the_bundle_is_found_relative_to_the_task_root(tmp_path: Path):
    (tmp_path / "migrator" / "certs").mkdir(parents=True)
    (tmp_path / "migrator" / "certs" / "global-bundle.pem").write_bytes(localenv.local_ca_file().read_bytes())
    tls = credentials.tls_from_env(
        {"MIGRATOR_SSLROOTCERT": "migrator/certs/global-bundle.pem", "LAMBDA_TASK_ROOT": str(tmp_path)},
        required=True,
    )
    assert tls == credentials.Tls("verify-full", str(tmp_path / "migrator" / "certs" / "global-bundle.pem"))
