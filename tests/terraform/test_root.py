"""Plan-level tests of the root configuration with env/local.tfvars, against a moto endpoint.

The switch itself (apply blue, plan green: only the two live records change) is proven by the end-to-end
test; here each traffic setting is planned from scratch and its weights asserted.
"""

from __future__ import annotations

import json

import pytest
from tf_helpers import TEST_PASSWORD, case_file, check_inventory, plan, plan_error

LOCAL_TFVARS = "env/local.tfvars"  # relative to the root's directory, where tftest runs terraform


def _plan(root_tf, case: str):
    # RDS manages a created instance's master password: no password may be given then.
    overrides = {"database_password": None} if case == "created_database" else None
    return plan(root_tf, [LOCAL_TFVARS, case_file("root", case, "tfvars")], overrides)


@pytest.mark.parametrize(
    ("case", "weights"),
    [
        ("blue", {"blue": 100, "green": 0}),
        ("green", {"blue": 0, "green": 100}),
        ("canary", {"blue": 90, "green": 10}),
    ],
)
def test_traffic_weights(root_tf, case, weights):
    planned = _plan(root_tf, case)
    check_inventory(planned, case_file("root", case, "json"))
    assert planned.outputs["traffic_weights"] == weights
    records = {
        address: resource["change"]["after"]["weighted_routing_policy"][0]["weight"]
        for address, resource in planned.resource_changes.items()
        if address.startswith("module.traffic.aws_route53_record.this")
    }
    assert records == {f'module.traffic.aws_route53_record.this["{c}"]': w for c, w in weights.items()}


def test_created_database_keeps_the_password_out_of_the_plan(root_tf):
    planned = _plan(root_tf, "created_database")
    check_inventory(planned, case_file("root", "created_database", "json"))
    assert TEST_PASSWORD not in json.dumps(planned._raw)


def test_invalid_colour_is_refused(root_tf):
    error = plan_error(root_tf, [LOCAL_TFVARS], {"live_color": "purple"})
    assert 'live_color must be "blue" or "green" (got "purple"). Set COLOR=blue or COLOR=green.' in error


def test_switching_to_a_disabled_colour_is_refused(root_tf):
    green_disabled = {"enabled": False, "image": "public.ecr.aws/nginx/nginx:1.27"}
    error = plan_error(root_tf, [LOCAL_TFVARS], {"live_color": "green", "green": green_disabled})
    assert "live_color is green but the green stack is not enabled: set green.enabled = true" in error


def test_canary_to_a_disabled_colour_is_refused(root_tf):
    green_disabled = {"enabled": False, "image": "public.ecr.aws/nginx/nginx:1.27"}
    error = plan_error(root_tf, [LOCAL_TFVARS], {"canary_percent": 10, "green": green_disabled})
    assert "canary_percent is 10 but the green stack is not enabled" in error


def test_a_disabled_colour_has_no_stack_and_no_live_record(root_tf):
    planned = _plan(root_tf, "green_disabled")
    check_inventory(planned, case_file("root", "green_disabled", "json"))
    assert planned.outputs["traffic_weights"] == {"blue": 100}
    assert not [address for address in planned.resource_changes if address.startswith("module.green.")]
    assert 'module.traffic.aws_route53_record.this["green"]' not in planned.resource_changes
