"""Credentials in Lambda: the secret in Secrets Manager (moto), in both shapes (the full RDS JSON the kit
writes, and RDS's own username/password secret with the location from DB_HOST/DB_PORT/DB_NAME), each failure
with its own error."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from migrator import credentials
from migrator import handler as handler_module
from psycopg.conninfo import conninfo_to_dict


@pytest.fixture
def in_lambda(aws_env, monkeypatch):
    """The handler sees a Lambda environment; the secret cache starts (and ends) empty."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "release-kit-migrator")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    credentials.forget_cached()
    yield boto3.client("secretsmanager")
    credentials.forget_cached()


def _rds_secret(url: str) -> dict:
    parts = conninfo_to_dict(url)
    return {
        "engine": "postgres",
        "username": parts["user"],
        "password": parts["password"],
        "host": parts["host"],
        "port": int(parts["port"]),
        "dbname": parts["dbname"],
    }


def _create(client, value: str) -> str:
    name = f"release-kit/test/{uuid.uuid4().hex[:10]}"
    client.create_secret(Name=name, SecretString=value)
    return name


def test_migrate_with_credentials_from_secrets_manager_cached_while_warm(
    in_lambda, fresh_database, lambda_context, monkeypatch
):
    secret_id = _create(in_lambda, json.dumps(_rds_secret(fresh_database)))
    monkeypatch.setenv("DB_SECRET_ID", secret_id)

    first = handler_module.handler({"action": "migrate", "target": "0002"}, lambda_context)
    assert first["ok"], first
    assert [a["id"] for a in first["applied"]] == ["0001", "0002"]

    # the secret is read once per container: deleting it does not affect a warm container
    in_lambda.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
    second = handler_module.handler({"action": "list"}, lambda_context)
    assert second["ok"] and second["counts"]["applied"] == 2
    password = _rds_secret(fresh_database)["password"]
    assert password not in json.dumps(first) + json.dumps(second)


def test_unset_secret_id(in_lambda, lambda_context, monkeypatch):
    monkeypatch.delenv("DB_SECRET_ID", raising=False)
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "SecretNotConfigured"
    assert "DB_SECRET_ID" in result["error"]["message"]


def test_missing_secret(in_lambda, lambda_context, monkeypatch):
    monkeypatch.setenv("DB_SECRET_ID", "release-kit/test/does-not-exist")
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "SecretNotFound"
    assert "release-kit/test/does-not-exist" in result["error"]["message"]


def test_secret_that_is_not_json(in_lambda, lambda_context, monkeypatch):
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, "hunter2-not-json"))
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "SecretMalformed" and "not JSON" in result["error"]["message"]
    assert "hunter2-not-json" not in json.dumps(result)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("password", "lacks password"),
        ("username", "lacks username"),
        ("host", "no host (DB_HOST): set them on the function, or add them to secret"),
        ("dbname", "no dbname (DB_NAME)"),
    ],
)
def test_secret_missing_keys(in_lambda, fresh_database, lambda_context, monkeypatch, missing, message):
    for setting in ("DB_HOST", "DB_PORT", "DB_NAME"):
        monkeypatch.delenv(setting, raising=False)
    secret = _rds_secret(fresh_database)
    del secret[missing]
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, json.dumps(secret)))
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "SecretMalformed"
    assert message in result["error"]["message"]
    if missing != "password":
        assert secret["password"] not in json.dumps(result)


def test_the_rds_managed_secret_holds_only_username_and_password(
    in_lambda, fresh_database, lambda_context, monkeypatch
):
    # GIVEN the secret RDS keeps for a master password it manages: {"username", "password"}, nothing else
    full = _rds_secret(fresh_database)
    managed = {"username": full["username"], "password": full["password"]}
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, json.dumps(managed)))
    # AND the location in the function's configuration, as Terraform sets it
    monkeypatch.setenv("DB_HOST", full["host"])
    monkeypatch.setenv("DB_PORT", str(full["port"]))
    monkeypatch.setenv("DB_NAME", full["dbname"])
    # WHEN migrate runs THEN it connects with them
    result = handler_module.handler({"action": "migrate", "target": "0001"}, lambda_context)
    assert result["ok"], result
    assert full["password"] not in json.dumps(result)


def test_the_configuration_says_where_the_secret_only_fills_in(
    in_lambda, fresh_database, lambda_context, monkeypatch
):
    # GIVEN a full RDS-shaped secret whose host is stale (an instance replaced since it was written)
    stale = {**_rds_secret(fresh_database), "host": "db-replaced.invalid"}
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, json.dumps(stale)))
    monkeypatch.setenv("DB_HOST", _rds_secret(fresh_database)["host"])
    monkeypatch.delenv("DB_PORT", raising=False)
    monkeypatch.delenv("DB_NAME", raising=False)
    # THEN the configuration's host wins, and the secret supplies the port and database it leaves out
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["ok"], result


def test_a_port_that_is_not_a_number_is_refused(in_lambda, fresh_database, lambda_context, monkeypatch):
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, json.dumps(_rds_secret(fresh_database))))
    monkeypatch.setenv("DB_PORT", "fivefourthreetwo")
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "ConfigurationError" and "DB_PORT" in result["error"]["message"]


def test_secret_that_is_a_json_array(in_lambda, lambda_context, monkeypatch):
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, "[1, 2]"))
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "SecretMalformed"


def test_wrong_password_in_the_secret_is_reported_without_it(
    in_lambda, fresh_database, lambda_context, monkeypatch
):
    secret = {**_rds_secret(fresh_database), "password": "Rotated-Away-Pa55"}
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, json.dumps(secret)))
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "DatabaseUnavailable"
    assert "Rotated-Away-Pa55" not in json.dumps(result)
    assert credentials._cache == {}  # dropped: the next invocation re-reads a possibly rotated secret
