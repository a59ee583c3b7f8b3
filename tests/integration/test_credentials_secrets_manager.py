"""Credentials in Lambda: the RDS-shaped secret in Secrets Manager (moto), each failure with its own error."""

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


@pytest.mark.parametrize("missing", ["password", "host", "dbname"])
def test_secret_missing_keys(in_lambda, fresh_database, lambda_context, monkeypatch, missing):
    secret = _rds_secret(fresh_database)
    del secret[missing]
    monkeypatch.setenv("DB_SECRET_ID", _create(in_lambda, json.dumps(secret)))
    result = handler_module.handler({"action": "list"}, lambda_context)
    assert result["error"]["type"] == "SecretMalformed"
    assert f"lacks {missing}" in result["error"]["message"]
    if missing != "password":
        assert secret["password"] not in json.dumps(result)


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
