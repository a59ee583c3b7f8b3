"""The record the colours' tasks wait for (lambda/migrator/runner/readiness.py), on moto's Parameter Store.

``migrate`` sets up the application role and then writes ``<MIGRATOR_READY_PATH>/<role>`` = the role's secret
ARN; Terraform keeps each colour at zero tasks until its role is there (terraform/bootstrap.tf, tested at plan
level in tests/terraform/test_first_deploy.py). Here: the record is written, is not rewritten when unchanged,
names no password, and a failure to write it is an error that says the roles themselves are set up.
"""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from migrator import runner
from migrator.runner import readiness
from migrator.settings import Settings
from migrator_support import manifest, numbered
from test_app_role import Setup, _migrate, setup  # noqa: F401 - the fixture


def test_migrate_records_the_role_it_set_up(setup: Setup):  # noqa: F811 - the fixture
    path = f"/release-kit-test-{uuid.uuid4().hex[:8]}/migrator/roles-ready"
    settings = Settings(app_secret_id=setup.secret_arn, ready_path=path)
    result = runner.migrate(setup.migrator_url, manifest=manifest(*numbered(2)), settings=settings)
    assert result["roles_recorded"] == [setup.role]
    ssm = boto3.client("ssm")
    parameter = ssm.get_parameter(Name=f"{path}/{setup.role}")["Parameter"]
    assert parameter["Value"] == setup.secret_arn and parameter["Type"] == "String"
    assert setup.password not in str(parameter)
    # An unchanged record is not written again (its version stays 1)
    runner.migrate(setup.migrator_url, manifest=manifest(*numbered(2)), settings=settings)
    assert ssm.get_parameter(Name=f"{path}/{setup.role}")["Parameter"]["Version"] == 1


def test_without_a_path_nothing_is_recorded(setup: Setup):  # noqa: F811 - the fixture
    assert _migrate(setup)["roles_recorded"] == []


class _Denied:
    def get_parameter(self, **_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")


def test_a_record_that_cannot_be_written_is_an_error_naming_what_is_done():
    with pytest.raises(readiness.ReadinessNotRecorded) as raised:
        readiness.record(
            "/kit/migrator/roles-ready",
            [{"name": "app", "secret_id": "arn:aws:secretsmanager:us-east-1:1:secret:app"}],
            client=_Denied(),
            details={"applied": []},
        )
    message = str(raised.value)
    assert "the database roles are set up" in message and "AccessDeniedException" in message
    assert "ssm:PutParameter" in message and raised.value.details == {"applied": []}
