"""`make verify` and `make migrate` act in the region the deployment lives in (the root's ``region`` output),
whatever AWS_REGION the shell has, and verify requests the stack's own health check path.

Terraform itself is not run here: the workspace's two terraform calls (init, output) are replaced by what
they return, and so are the AWS calls at the end (verify's checks, the Lambda invoke). What is checked is the
region every AWS client gets, and the URL verify asks for."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from scripts.release import environment, invoke, migrate, switch, verify
from scripts.release.tf import Workspace

OUTPUTS = {
    "region": "eu-west-1",
    "migrator_function_name": "release-kit-production-migrator",
    "stacks": {},
}


class FakeWorkspace(Workspace):
    """A workspace whose state holds OUTPUTS (no terraform process)."""

    def init(self) -> None:
        return None

    def run(self, *args: str, capture: bool = True):
        assert args[:2] == ("output", "-json"), args

        class Done:
            stdout = json.dumps({name: {"value": value} for name, value in OUTPUTS.items()})

        return Done()


@pytest.fixture
def shell_in_another_region(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    fake = lambda env, extra_var_files=(): FakeWorkspace(env=env)  # noqa: E731
    # Where the workspace comes from (what migrate calls), and the name switch (verify_color) imported
    monkeypatch.setattr(environment, "workspace", fake)
    monkeypatch.setattr(switch, "workspace", fake)


def test_verify_uses_the_region_of_the_outputs(shell_in_another_region, monkeypatch, capsys):
    seen = {}

    def fake_verify(color, outputs, session, smoke_url=None):
        seen["region"] = session.region_name
        return verify.Verdict(color, ())

    monkeypatch.setattr(switch, "verify", fake_verify)
    switch.verify_color("production", "green")
    assert seen["region"] == "eu-west-1"
    assert (
        "using region eu-west-1 from the Terraform outputs (the shell says us-west-2)"
        in capsys.readouterr().err
    )


def test_migrate_invokes_in_the_region_of_the_outputs(shell_in_another_region, monkeypatch, capsys, tmp_path):
    seen = {}
    # make migrate checks ENV before anything else: give it a production environment's two files
    (tmp_path / "production.tfvars").write_text("")
    (tmp_path / "production.s3.tfbackend").write_text("")
    monkeypatch.setenv("RELEASE_KIT_ENV_DIR", str(tmp_path))

    def fake_invoke(function_name, event, *, local=None, echo_logs=True):
        seen["function"] = function_name
        seen["region"] = boto3.client("lambda").meta.region_name  # what invoke's own client would use
        return {"ok": True, "action": event["action"]}

    monkeypatch.setattr(invoke, "invoke", fake_invoke)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("KIT_ENV", "production")
    monkeypatch.setenv("KIT_ACTION", "list")
    assert migrate.main() == 0
    assert seen == {"function": "release-kit-production-migrator", "region": "eu-west-1"}
    assert os.environ["AWS_REGION"] == "eu-west-1"


def test_verify_requests_the_stacks_health_check_path(monkeypatch):
    asked = []
    monkeypatch.setattr(
        verify, "http_smoke", lambda url: asked.append(url) or verify.Check("HTTP", verify.SKIP, "")
    )

    class Session:
        def client(self, name):
            class Client:
                def describe_services(self, **_):
                    return {
                        "services": [
                            {"status": "ACTIVE", "desiredCount": 1, "runningCount": 1, "taskDefinition": "t"}
                        ]
                    }

                def describe_task_definition(self, **_):
                    return {"taskDefinition": {"containerDefinitions": [{"image": "api:1"}]}}

                def describe_target_health(self, **_):
                    return {"TargetHealthDescriptions": [{"TargetHealth": {"State": "healthy"}}]}

            return Client()

    stack = {
        "cluster_name": "c",
        "service_name": "s",
        "target_group_arn": "tg",
        "image": "api:1",
        "hostname": "green.example.com",
        "health_check_path": "/healthz",
    }
    verify.verify("green", {"stacks": {"green": stack}}, Session())
    assert asked == ["https://green.example.com/healthz"]
