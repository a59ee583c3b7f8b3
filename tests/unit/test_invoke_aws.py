"""`make migrate` against AWS: a synchronous invoke that outlasts the function and is never retried.

The Lambda service cannot run here, so these tests stub its two API calls and check what the invoker asks
of them. The local path (the deployed package run by release/invoke.py) is covered end to end in tests/e2e.
"""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from scripts.release import invoke

NAME = "release-kit-production-migrator"
DEPLOYED = {
    "Configuration": {"FunctionName": NAME, "Timeout": 900, "CodeSha256": "x"},
    "Code": {"RepositoryType": "S3", "Location": "https://example.invalid/code"},
}


@pytest.fixture
def stubbed(monkeypatch):
    """A stubbed Lambda client handed out by the invoker's factory, and the read timeouts it asked for."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(client)
    asked: list[int | None] = []

    def factory(read_timeout=None):
        asked.append(read_timeout)
        return client

    monkeypatch.setattr(invoke, "_lambda_client", factory)
    with stubber:
        yield stubber, asked


def payload(result: dict, **extra) -> dict:
    body = json.dumps(result).encode()
    return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body)), **extra}


def test_the_invoke_outlasts_the_function_and_is_never_retried(stubbed):
    stubber, asked = stubbed
    stubber.add_response("get_function", DEPLOYED, {"FunctionName": NAME})
    stubber.add_response(
        "invoke",
        payload({"ok": True, "action": "list"}),
        {
            "FunctionName": NAME,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps({"action": "list"}).encode(),
        },
    )

    assert invoke.invoke(NAME, {"action": "list"}, local=False) == {"ok": True, "action": "list"}

    assert asked == [None, 960]  # the invoke's read timeout: the function's 900 s plus a margin
    config = invoke._lambda_config(960)
    assert config.read_timeout == 960
    assert config.retries == {"total_max_attempts": 1}


def test_a_function_error_is_reported_not_taken_for_a_result(stubbed):
    stubber, _ = stubbed
    stubber.add_response("get_function", DEPLOYED)
    stubber.add_response(
        "invoke", payload({"errorMessage": "Task timed out after 900.00 seconds"}, FunctionError="Unhandled")
    )
    with pytest.raises(invoke.InvokeError, match="Task timed out"):
        invoke.invoke(NAME, {"action": "migrate"}, local=False)


def test_a_function_that_is_not_deployed_says_what_to_do(stubbed):
    stubber, _ = stubbed
    stubber.add_client_error("get_function", "ResourceNotFoundException", "Function not found")
    with pytest.raises(invoke.InvokeError, match=r"Is it deployed\? \(make apply\)"):
        invoke.invoke(NAME, {"action": "list"}, local=False)
