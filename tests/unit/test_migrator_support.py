"""Settings, log redaction and Secrets Manager access denied (stubbed): no services needed."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from migrator import credentials, logs
from migrator.errors import ConfigurationError, SecretAccessDenied, SecretNotFound
from migrator.settings import Settings


def test_settings_defaults_and_overrides():
    assert Settings.from_env({}) == Settings()
    s = Settings.from_env(
        {
            "MIGRATOR_LOCK_WAIT_SECONDS": "0.5",
            "MIGRATOR_LOCK_TIMEOUT": "200ms",
            "MIGRATOR_STATEMENT_TIMEOUT": "2 min",
            "MIGRATOR_ENVIRONMENT": "Production",
        }
    )
    assert (s.lock_wait_seconds, s.lock_timeout, s.statement_timeout) == (0.5, "200ms", "2min")
    assert s.is_production


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MIGRATOR_LOCK_WAIT_SECONDS", "soon"),
        ("MIGRATOR_LOCK_WAIT_SECONDS", "-1"),
        ("MIGRATOR_LOCK_TIMEOUT", "5 s; DROP TABLE x"),
        ("MIGRATOR_STATEMENT_TIMEOUT", "forever"),
    ],
)
def test_bad_settings_name_the_variable(key, value):
    with pytest.raises(ConfigurationError, match=key):
        Settings.from_env({key: value})


def test_redaction_removes_registered_secrets_and_urls():
    logs.register_secret("s3cr3t-value")
    text = "failed for postgresql://u:s3cr3t-value@h:5432/db password=abc and s3cr3t-value"
    cleaned = logs.redact(text)
    assert "s3cr3t-value" not in cleaned and "postgresql://u" not in cleaned and "abc" not in cleaned


def test_log_lines_are_json_with_bound_context(capsys):
    token = logs.bind(request_id="r-1", action="list", cold_start=True)
    try:
        logs.log("hello", extra=1)
    finally:
        logs.unbind(token)
    line = json.loads(capsys.readouterr().err.strip())
    assert line["request_id"] == "r-1" and line["cold_start"] is True and line["message"] == "hello"


def _stubbed(error_code: str):
    client = boto3.client(
        "secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(client)
    stubber.add_client_error("get_secret_value", service_error_code=error_code, http_status_code=400)
    stubber.activate()
    return client


def test_access_denied_is_its_own_error():
    # moto does not enforce IAM by default, so the denial is stubbed at the botocore level.
    credentials.forget_cached()
    with pytest.raises(SecretAccessDenied, match="secretsmanager:GetSecretValue"):
        credentials.from_secret("db-secret", client=_stubbed("AccessDeniedException"))
    with pytest.raises(SecretAccessDenied, match="kms:Decrypt"):
        credentials.from_secret("db-secret", client=_stubbed("DecryptionFailure"))
    with pytest.raises(SecretNotFound):
        credentials.from_secret("db-secret", client=_stubbed("ResourceNotFoundException"))


def test_credentials_repr_hides_the_password():
    creds = credentials.from_url("postgresql://u:hidden-pw@localhost:5432/db")
    assert "hidden-pw" not in repr(creds)


def test_the_facade_exports_what_it_lists():
    import migrator

    assert all(hasattr(migrator, name) for name in migrator.__all__)


def test_cold_start_is_logged_once_per_container(monkeypatch, capsys):
    from migrator import handler as handler_module

    monkeypatch.setattr(handler_module, "_cold_start", True)

    class Context:
        aws_request_id = "req-1"

    for _ in range(2):
        result = handler_module.handler({"action": "nope"}, Context())
        assert result["ok"] is False and result["error"]["type"] == "InvalidEvent"
    finished = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if '"invocation finished"' in line
    ]
    assert [line["cold_start"] for line in finished] == [True, False]
    assert all(line["request_id"] == "req-1" and line["error_type"] == "InvalidEvent" for line in finished)


def test_a_command_loaded_beside_another_never_turns_it_into_a_module():
    # `check` lives in migrate.py: loading it first bound runner.migrate to the module, so a warm container
    # that ran a check failed its next migrate with "'module' object is not callable"
    import subprocess
    import sys

    probe = (
        "from migrator import runner\n"
        "runner.check; runner.statements; runner.list_migrations\n"
        "assert all(callable(getattr(runner, n)) for n in runner.__all__), "
        "[n for n in runner.__all__ if not callable(getattr(runner, n))]\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
