"""Plan-level tests of each module: inventory cases, disabled-means-empty, and input validation."""

from __future__ import annotations

import json

import pytest
from tf_helpers import (
    TEST_PASSWORD,
    assert_empty_plan,
    case_file,
    check_inventory,
    plan,
    plan_error,
    plan_text,
)

INVENTORY_CASES = [
    ("network", "default"),
    ("network", "nat"),
    ("network", "endpoints"),
    ("stack", "default"),
    ("stack", "green"),
    ("traffic", "default"),
    ("traffic", "canary"),
    ("traffic", "blue_only"),
    ("traffic", "idle_failover"),
    ("migrator", "default"),
    ("migrator", "created_database"),
    ("database", "existing"),
    ("database", "created"),
]
MODULES = ["network", "stack", "traffic", "migrator", "database"]


_plans: dict[tuple[str, str], object] = {}


def _plan(module_tf, module: str, case: str):
    """The plan of a case, made once per session (each plan costs seconds: the AWS provider has to start)."""
    if (module, case) not in _plans:
        overrides = {"password": TEST_PASSWORD} if (module, case) == ("database", "existing") else None
        _plans[module, case] = plan(module_tf(module), [case_file(module, case, "tfvars")], overrides)
    return _plans[module, case]


@pytest.mark.parametrize(("module", "case"), INVENTORY_CASES, ids=[f"{m}-{c}" for m, c in INVENTORY_CASES])
def test_inventory(module_tf, module, case):
    # GIVEN a case's tfvars WHEN it is planned THEN the plan matches the case's inventory
    check_inventory(_plan(module_tf, module, case), case_file(module, case, "json"))


@pytest.mark.parametrize("module", MODULES)
def test_disabled_plans_nothing(module_tf, module):
    # Only the plan's text is needed here, which saves a `terraform show -json` (seconds) per module.
    overrides = None
    assert_empty_plan(plan_text(module_tf(module), [case_file(module, "disabled", "tfvars")], overrides))


def test_database_password_never_enters_the_plan(module_tf):
    planned = _plan(module_tf, "database", "existing")
    assert TEST_PASSWORD not in json.dumps(planned._raw)
    secret_version = planned.resource_changes["aws_secretsmanager_secret_version.this[0]"]["change"]["after"]
    assert secret_version["secret_string_wo"] is None
    assert secret_version["secret_string_wo_version"] == 1


def test_a_created_instance_has_rds_manage_its_master_password(module_tf):
    # No password variable, no secret version written by Terraform: RDS generates, stores and rotates it
    planned = _plan(module_tf, "database", "created")
    instance = planned.resource_changes["aws_db_instance.this[0]"]["change"]
    assert instance["after"]["manage_master_user_password"] is True
    assert "password" not in instance["after"] or instance["after"]["password"] is None
    assert not [a for a in planned.resource_changes if a.startswith("aws_secretsmanager_secret_version.this")]
    assert instance["after_unknown"]["master_user_secret"]  # the migrator reads this secret


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"live_color": "green"},
            "live_color is green but the green stack is not enabled: set green.enabled = true",
        ),
        ({"canary_percent": 5}, "canary_percent is 5 but the green stack is not enabled"),
        ({"live_color": "purple"}, 'live_color must be "blue" or "green" (got "purple")'),
    ],
    ids=["live-colour", "canary-target", "not-a-colour"],
)
def test_traffic_refuses_a_colour_that_is_not_enabled_or_not_a_colour(module_tf, overrides, message):
    error = plan_error(module_tf("traffic"), [case_file("traffic", "blue_only", "tfvars")], overrides)
    assert message in error


# One plan per module with every invalid input at once: Terraform reports each failed validation, and one
# plan costs seconds (the AWS provider has to start).
INVALID_INPUTS = {
    "traffic": (
        "default",
        # live_color is refused on its own below: Terraform skips the validations of variables that refer
        # to an invalid one (canary_percent's refer to live_color).
        {"canary_percent": 51, "live_record_name": "API.x"},
        [
            "canary_percent must be a whole number from 0 to 50",
            "live_record_name must be a single lower-case DNS label",
        ],
    ),
    "stack": (
        "default",
        {
            "color": "red",
            "cpu": 300,
            "health_check_path": "health",
            "log_retention_days": 10,
            "alarms": {"period_seconds": 45, "datapoints_to_alarm": 5, "error_rate_percent": 0},
        },
        [
            'color must be "blue" or "green"',
            "cpu must be one of 256, 512, 1024, 2048, 4096",
            'health_check_path must start with "/"',
            "log_retention_days must be a value CloudWatch accepts",
            "alarms.period_seconds must be 10, 30, 60 or a multiple of 60",
            "alarms.datapoints_to_alarm must be from 1 to evaluation_periods (3)",
            "alarms.error_rate_percent must be in (0, 100]",
        ],
    ),
    "migrator": (
        "default",
        {"timeout": 30, "package_path": "missing.zip", "database_cidr_blocks": []},
        [
            "timeout must be a whole number of seconds from 60 to 900",
            "build the migrator package first",
            "Tell the migrator where the database is",
        ],
    ),
    "database": (
        "existing",
        {"existing_host": None, "password": "short", "password_version": 0},
        [
            "existing_host is required when create = false",
            "password must be at least 8 characters",
            "password_version must be a whole number of 1 or more",
        ],
    ),
    "network": (
        "default",
        {"azs": ["us-east-1a"], "cidr": "10.0.0.0/28"},
        ["azs must list exactly two distinct", "cidr must be an IPv4 CIDR block of /26 or larger"],
    ),
}


@pytest.mark.parametrize("module", sorted(INVALID_INPUTS))
def test_invalid_input_is_refused_with_a_clear_message(module_tf, module):
    case, overrides, messages = INVALID_INPUTS[module]
    error = plan_error(module_tf(module), [case_file(module, case, "tfvars")], overrides)
    missing = [message for message in messages if message not in error]
    assert not missing, f"messages not shown: {missing}\n{error}"
