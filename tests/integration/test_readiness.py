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
from migrator.runner import readiness
from test_app_role import Colours, _migrate, colours  # noqa: F401 - the fixture


def test_migrate_records_each_colours_role_with_its_own_secret(colours: Colours):  # noqa: F811 - the fixture
    path = f"/release-kit-test-{uuid.uuid4().hex[:8]}/migrator/roles-ready"
    result = _migrate(colours, ready_path=path)
    roles = {color: colours.db.role(color) for color in ("blue", "green")}
    assert sorted(result["roles_recorded"]) == sorted(roles.values())
    ssm = boto3.client("ssm")
    for color, role in roles.items():
        parameter = ssm.get_parameter(Name=f"{path}/{role}")["Parameter"]
        # each colour waits for its own role, recorded with the secret it logs in with
        assert parameter["Value"] == colours.secrets[color] and parameter["Type"] == "String"
        assert colours.passwords[color] not in str(parameter)
    # An unchanged record is not written again (its version stays 1)
    _migrate(colours, ready_path=path)
    assert all(
        ssm.get_parameter(Name=f"{path}/{role}")["Parameter"]["Version"] == 1 for role in roles.values()
    )


def test_without_a_path_nothing_is_recorded(colours: Colours):  # noqa: F811 - the fixture
    assert _migrate(colours)["roles_recorded"] == []


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
