"""The Lambda handler end to end with the events in tests/events/*.json, on a real PostgreSQL: results are
one JSON object each, logs are JSON lines, and no secret ever leaks."""

from __future__ import annotations

import json

import pytest
from migrator import handler as handler_module

from tests.conftest import load_event
from tests.integration.migrator_support import history_ids


@pytest.fixture
def local_db(fresh_database, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("MIGRATOR_ENVIRONMENT", raising=False)
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    return fresh_database


def invoke(name: str, context) -> dict:
    result = handler_module.handler(load_event(name), context)
    json.dumps(result)  # one JSON object, always
    assert {"ok", "action", "duration_ms"} <= set(result)
    return result


def test_every_action_through_the_handler(local_db, lambda_context, capsys):
    listed = invoke("list", lambda_context)
    assert listed["ok"] and listed["counts"]["pending"] == 7

    dry = invoke("migrate_dry_run", lambda_context)
    assert dry["ok"] and [w["id"] for w in dry["would_apply"]] == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
    ]
    assert "CREATE INDEX CONCURRENTLY" in dry["would_apply"][5]["sql"]
    assert "python function" in dry["would_apply"][4]["sql"]
    assert history_ids(local_db) == []

    refused = invoke("migrate", lambda_context)
    assert refused["ok"] is False and refused["error"]["type"] == "ContractRefused"
    assert "0007_contract_users_display_name" in refused["error"]["message"]

    assert [a["id"] for a in invoke("migrate_target", lambda_context)["applied"]] == [
        "0001",
        "0002",
        "0003",
        "0004",
    ]
    assert [r["id"] for r in invoke("rollback_target", lambda_context)["rolled_back"]] == ["0004"]
    applied = invoke("migrate_allow_contract", lambda_context)
    assert applied["ok"] and [a["id"] for a in applied["applied"]] == ["0004", "0005", "0006", "0007"]

    seeded = invoke("seed", lambda_context)
    assert seeded["ok"] and seeded["seeded"][0]["rows_changed"] == 3

    dry_back = invoke("rollback_dry_run", lambda_context)
    assert [w["id"] for w in dry_back["would_roll_back"]] == ["0007", "0006"]
    back = invoke("rollback_steps", lambda_context)
    assert back["ok"] and [r["id"] for r in back["rolled_back"]] == ["0007"]

    # every log line is one JSON object carrying the request id; the result went to the caller, not stdout
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines and all(line["request_id"] == lambda_context.aws_request_id for line in lines)
    assert {"cold_start", "action", "level", "message"} <= set(lines[-1])
    finished = [line for line in lines if line["message"] == "invocation finished"]
    assert len(finished) == 9 and all("duration_ms" in line for line in finished)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("invalid_unknown_action", "use one of: migrate, list, rollback, seed, sql"),
        ("invalid_rollback_unknown_key", "'step'"),
        ("invalid_rollback_steps_bool", '"steps" must be a whole number'),
        ("invalid_rollback_steps_too_large", "from 1 to 1000"),
        ("invalid_not_object", "must be a JSON object"),
    ],
)
def test_invalid_events_are_refused_with_a_clear_message(local_db, lambda_context, name, fragment):
    result = invoke(name, lambda_context)
    assert result["ok"] is False
    assert result["error"]["type"] == "InvalidEvent"
    assert fragment in result["error"]["message"]
    assert history_ids(local_db) == []


def test_seed_is_refused_in_production_unless_the_event_allows_it(local_db, lambda_context, monkeypatch):
    handler_module.handler({"action": "migrate", "target": "0006"}, lambda_context)
    monkeypatch.setenv("MIGRATOR_ENVIRONMENT", "production")

    refused = invoke("seed", lambda_context)
    assert refused["ok"] is False and refused["error"]["type"] == "ProductionSeedRefused"
    allowed = invoke("seed_allow_production", lambda_context)
    assert allowed["ok"] and allowed["environment"] == "production"


def test_sql_action_returns_columns_and_rows(local_db, lambda_context):
    handler_module.handler({"action": "migrate", "target": "0006"}, lambda_context)
    handler_module.handler({"action": "seed"}, lambda_context)

    result = invoke("sql", lambda_context)

    assert result["ok"], result
    assert result["columns"] == ["username", "display_name"]
    assert result["rows"][0] == ["alice", "Alice Liddell"]
    assert result["row_count"] == 3 and result["truncated"] is False


def test_sql_action_refuses_a_write(local_db, lambda_context):
    result = invoke("sql_unsafe", lambda_context)
    assert result["ok"] is False and result["error"]["type"] == "UnsafeSQL"


def test_a_wrong_password_never_reaches_the_result_or_the_logs(
    fresh_database, lambda_context, monkeypatch, capsys
):
    secret_password = "Sup3r-Secret-Pa55word"
    user_host = fresh_database.split("://", 1)[1].split("@", 1)[1]
    bad_url = f"postgresql://postgres:{secret_password}@{user_host}"
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("DATABASE_URL", bad_url)

    result = invoke("list", lambda_context)

    assert result["ok"] is False and result["error"]["type"] == "DatabaseUnavailable"
    assert "password authentication failed" in result["error"]["message"]
    logs = capsys.readouterr().err
    for text in (json.dumps(result), logs):
        assert secret_password not in text
        assert bad_url not in text
        assert "postgresql://postgres" not in text
        assert "Traceback" not in text


def test_missing_database_url_is_a_clear_configuration_error(lambda_context, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = invoke("list", lambda_context)
    assert result["error"]["type"] == "ConfigurationError" and "DATABASE_URL" in result["error"]["message"]


def test_unreachable_database_is_reported_not_raised(lambda_context, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:pw1234@127.0.0.1:1/nothing")
    monkeypatch.setenv("MIGRATOR_CONNECT_TIMEOUT", "2")
    result = invoke("list", lambda_context)
    assert result["error"]["type"] == "DatabaseUnavailable"
    assert "pw1234" not in json.dumps(result)
