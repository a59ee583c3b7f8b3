"""Plan-level tests of what the first deploy on a real account, and the first incident, depend on (issue 15).

Each AWS rule is cited in docs/decisions.md ("Real AWS, round 2"). Moto proves wiring, not AWS semantics:
where a rule is AWS's behaviour (a pending RDS change, RDS rotating its own secret, ECS's circuit breaker,
CloudWatch's metric math) the test shows what the plan asks AWS for, and says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_real_aws import LOCAL_TFVARS, _addresses, _after, _module_plan
from tf_helpers import TEST_PASSWORD, case_file, plan, plan_error

REPO = Path(__file__).resolve().parents[2]


def _container(planned, address: str = "aws_ecs_task_definition.this[0]") -> dict:
    (container,) = json.loads(_after(planned, address)["container_definitions"])
    return container


# --------------------------------------------------------------- 2, 3. alarms that judge the release


def test_the_5xx_rate_counts_load_balancer_errors_and_gates_on_sample_size(module_tf):
    # CloudWatch evaluates the expression; moto does not. What the plan asks for is the rule.
    planned = _module_plan(module_tf, "stack", "default")
    alarm = _after(planned, "aws_cloudwatch_metric_alarm.target_5xx_rate[0]")
    queries = {query["id"]: query for query in alarm["metric_query"]}
    assert queries["rate"]["expression"] == (
        "IF(requests >= 20, 100 * (FILL(target_errors, 0) + FILL(elb_errors, 0)) / requests, 0)"
    )
    metrics = {key: query["metric"][0]["metric_name"] for key, query in queries.items() if query["metric"]}
    assert metrics == {
        "target_errors": "HTTPCode_Target_5XX_Count",
        "elb_errors": "HTTPCode_ELB_5XX_Count",
        "requests": "RequestCount",
    }
    # One error in five requests (20%) is below the sample size: the expression reads 0, not 20%
    connection = _after(planned, "aws_cloudwatch_metric_alarm.target_connection_errors[0]")
    assert (connection["metric_name"], connection["statistic"], connection["threshold"]) == (
        "TargetConnectionErrorCount",
        "Sum",
        5,
    )
    assert "kit-test-blue-target-connection-errors" in planned.outputs["alarm_names"]


def test_production_must_send_its_alarms_somewhere(root_tf):
    error = plan_error(root_tf, [LOCAL_TFVARS], {"environment": "production"})
    assert "environment production must send its alarms somewhere: set alarms = { sns_topic = true }" in error


# ---------------------------------------------------- 5. pending RDS changes never freeze a release


def test_rds_changes_wait_for_their_window_and_minor_upgrades_never_show_as_drift(production_plan):
    instance = _after(production_plan, "module.database.aws_db_instance.this[0]")
    # A pending change stays pending (RDS: "Modifying an Amazon RDS DB instance", apply immediately)
    assert instance["apply_immediately"] is False
    assert (instance["maintenance_window"], instance["backup_window"]) == (
        "sun:03:00-sun:04:00",
        "01:00-02:00",
    )
    # A major version only, while RDS upgrades minors by itself
    assert (instance["engine_version"], instance["auto_minor_version_upgrade"]) == ("16", True)
    assert instance["max_allocated_storage"] == 100
    # A final snapshot name of its own per instance, so a re-created environment never collides
    assert re.fullmatch(r"release-kit-production-db-final-\d{14}", instance["final_snapshot_identifier"])
    group = _after(production_plan, "module.database.aws_db_parameter_group.this[0]")
    assert group["family"] == "postgres16"
    # TLS stays required whatever the tfvars add (and they may not turn it off)
    assert sorted((p["name"], p["value"]) for p in group["parameter"]) == [
        ("rds.force_ssl", "1"),
        ("temp_file_limit", "1048576"),
    ]
    logs = sorted(
        _after(production_plan, a)["name"]
        for a in _addresses(production_plan, "module.database.aws_cloudwatch_log_group.")
    )
    assert logs == [
        "/aws/rds/instance/release-kit-production-db/postgresql",
        "/aws/rds/instance/release-kit-production-db/upgrade",
    ]
    assert all(
        _after(production_plan, a)["retention_in_days"] == 90
        for a in _addresses(production_plan, "module.database.aws_cloudwatch_log_group.")
    )


def test_a_pinned_minor_version_with_automatic_upgrades_is_refused(module_tf):
    error = plan_error(
        module_tf("database"), [case_file("database", "created", "tfvars")], {"engine_version": "16.4"}
    )
    assert 'engine_version "16.4" pins a minor version, but auto_minor_version_upgrade is on' in error
    assert 'Use the major version ("16")' in error
    forced = plan_error(
        module_tf("database"),
        [case_file("database", "created", "tfvars")],
        {"parameters": [{"name": "rds.force_ssl", "value": "0"}]},
    )
    assert "parameters may not set rds.force_ssl: the kit pins it to 1" in forced
    _module_plan(
        module_tf, "database", "created", {"engine_version": "16.4", "auto_minor_version_upgrade": False}
    )


# ------------------------------------------------------------- 6. the plan needs no master password


def test_the_production_example_plans_without_any_password(production_plan):
    instance = production_plan.resource_changes["module.database.aws_db_instance.this[0]"]["change"]
    assert instance["after"]["manage_master_user_password"] is True
    assert instance["after"].get("password_wo_version") is None
    # The migrator reads RDS's secret; the kit writes no secret for the master user
    assert not [a for a in production_plan.resource_changes if "aws_secretsmanager_secret.this" in a]


def test_a_password_is_refused_where_rds_manages_it(root_tf):
    error = plan_error(
        root_tf,
        [LOCAL_TFVARS, case_file("root", "created_database", "tfvars")],
        {"database_password": TEST_PASSWORD},
    )
    assert "password is not used with create = true: RDS generates and rotates the master password" in error
    assert TEST_PASSWORD not in error


def test_the_migrator_learns_where_the_database_is_from_its_configuration(module_tf):
    function = _after(_module_plan(module_tf, "migrator", "created_database"), "aws_lambda_function.this[0]")
    variables = function["environment"][0]["variables"]
    assert (variables["DB_HOST"], variables["DB_PORT"], variables["DB_NAME"]) == (
        "kit-test-db.abc.us-east-1.rds.amazonaws.com",
        "6543",
        "app",
    )
    assert variables["MIGRATOR_READY_PATH"] == "/kit-test/migrator/roles-ready"


# ------------------------------------------------------------------ 7. your own VPC and database


BYO = {
    "network": {
        "existing_vpc_id": "vpc-0a1b2c3d4e5f60718",
        "public_subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        "private_subnet_ids": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    },
    "database": {
        "create": False,
        "existing_host": "orders.cluster-abc.eu-west-1.rds.amazonaws.com",
        "existing_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/migrator-AbCdEf",
        "existing_security_group_ids": ["sg-0ccccccccccccccc1"],
    },
}


def test_your_own_vpc_and_database(root_tf):
    planned = plan(root_tf, [LOCAL_TFVARS], {**BYO, "database_password": None})
    # The kit creates no network at all, and puts the ALBs and tasks into the given subnets
    assert not _addresses(planned, "module.network.")
    assert _after(planned, "module.blue.aws_lb.this[0]")["subnets"] == BYO["network"]["public_subnet_ids"]
    service = _after(planned, "module.blue.aws_ecs_service.this[0]")
    assert service["network_configuration"][0]["subnets"] == BYO["network"]["private_subnet_ids"]
    # The team's secret: no password passes through Terraform, and the kit writes no secret for it
    assert not _addresses(planned, "module.database.aws_secretsmanager_secret.this")
    # The database's own security group admits each client, by security group
    ingress = _addresses(planned, "module.database.aws_vpc_security_group_ingress_rule.existing")
    assert [a.split('"')[1] for a in ingress] == ["0-blue", "0-green", "0-migrator"]
    assert {_after(planned, a)["security_group_id"] for a in ingress} == {"sg-0ccccccccccccccc1"}
    egress = _addresses(planned, "module.migrator.aws_vpc_security_group_egress_rule.database_")
    assert _after(planned, egress[0])["referenced_security_group_id"] == "sg-0ccccccccccccccc1"
    assert not _addresses(planned, "module.migrator.aws_vpc_security_group_egress_rule.database_cidr")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"database": {"create": False, "existing_host": "db.internal"}},
            "database.create = false needs to say how the migrator and the tasks reach the database",
        ),
        (
            {
                "network": {"azs": ["us-east-1a", "us-east-1b"], "egress": "endpoints"},
                **{
                    color: {"enabled": True, "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1"}
                    for color in ("blue", "green")
                },
                "database": {
                    "create": False,
                    "existing_host": "db.internal",
                    "existing_cidr_blocks": ["10.50.0.0/24"],
                },
            },
            'lie outside the VPC (10.40.0.0/16), and network.egress = "endpoints" gives the private '
            "subnets no route out of it",
        ),
        (
            {"network": {"existing_vpc_id": "vpc-0a1b2c3d4e5f60718", "public_subnet_ids": ["subnet-1"]}},
            'existing_vpc_id ("vpc-...") with at least two public_subnet_ids and two private_subnet_ids',
        ),
    ],
    ids=["no-cidr-or-group", "endpoints-without-a-route", "too-few-subnets"],
)
def test_an_existing_database_must_be_reachable_on_purpose(root_tf, overrides, message):
    error = plan_error(root_tf, [LOCAL_TFVARS], overrides)
    assert message in error, error


# -------------------------------------------------------- 8. no task starts before its database role


def test_the_colours_wait_for_their_database_role(root_tf):
    # No role is recorded on a fresh account: both services are created with no tasks (the migrator
    # records the role after `make migrate`; tests/integration/test_readiness.py, and end to end)
    planned = plan(root_tf, [LOCAL_TFVARS])
    for color in ("blue", "green"):
        assert _after(planned, f"module.{color}.aws_ecs_service.this[0]")["desired_count"] == 0
    assert planned._raw["output_changes"]["roles_ready"]["after"] == {
        "recorded": {},
        "colors": {"blue": False, "green": False},
    }


# ------------------------------------------------------------------------------ smaller points


def test_load_balancer_settings(module_tf):
    planned = _module_plan(module_tf, "stack", "default")
    alb = _after(planned, "aws_lb.this[0]")
    assert alb["client_keep_alive"] == 300 and alb["access_logs"] == []
    listener = _after(planned, "aws_lb_listener.https[0]")
    assert listener["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    target_group = _after(planned, "aws_lb_target_group.this[0]")
    assert target_group["health_check"][0]["matcher"] == "200"
    logged = _module_plan(
        module_tf,
        "stack",
        "default",
        {"access_logs": {"bucket": "kit-alb-logs", "prefix": "blue"}, "health_check_matcher": "200-299"},
    )
    assert _after(logged, "aws_lb.this[0]")["access_logs"][0] == {
        "bucket": "kit-alb-logs",
        "enabled": True,
        "prefix": "blue",
    }
    assert _after(logged, "aws_lb_target_group.this[0]")["health_check"][0]["matcher"] == "200-299"


def test_the_container_is_hardened(module_tf):
    planned = _module_plan(module_tf, "stack", "default")
    container = _container(planned)
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [
        {"sourceVolume": "writable-0", "containerPath": "/tmp", "readOnly": False}
    ]
    assert "healthCheck" not in container
    task = _after(planned, "aws_ecs_task_definition.this[0]")
    assert task["runtime_platform"] == [{"cpu_architecture": "X86_64", "operating_system_family": "LINUX"}]
    assert [volume["name"] for volume in task["volume"]] == ["writable-0"]
    service = _after(planned, "aws_ecs_service.this[0]")
    assert (service["propagate_tags"], service["health_check_grace_period_seconds"]) == ("SERVICE", 60)
    # An image outside ECR needs no ECR permission at all
    statements = {s["Sid"] for s in _statements(planned, "data.aws_iam_policy_document.execution[0]")}
    assert statements == {"WriteOwnLogs"}


def test_an_ecr_image_is_pulled_from_its_own_repository_only(module_tf):
    planned = _module_plan(
        module_tf,
        "stack",
        "default",
        {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:2.0.0",
            "container_health_check": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health"]},
            # (and the largest Fargate size, accepted)
            "cpu": 16384,
            "memory": 122880,
        },
    )
    statements = {s["Sid"]: s for s in _statements(planned, "data.aws_iam_policy_document.execution[0]")}
    assert (
        statements["PullImageRepository"]["Resource"]
        == "arn:aws:ecr:us-east-1:123456789012:repository/team/api"
    )
    assert statements["EcrAuthorizationToken"]["Resource"] == "*"  # no resource-level permission exists
    assert _container(planned)["healthCheck"]["command"] == [
        "CMD-SHELL",
        "curl -f http://localhost:8080/health",
    ]


def _statements(planned, data_address: str) -> list[dict]:
    """The statements of a policy document read during apply (it names the log group, unknown until then),
    as planned: Sid, Action and Resource where known."""
    planned_statements = planned.resource_changes[data_address]["change"]["after"]["statement"]
    return [
        {"Sid": s["sid"], "Action": s["actions"], "Resource": (s["resources"] or [None])[0]}
        for s in planned_statements
    ]


@pytest.mark.parametrize(("cpu", "memory"), [(256, 4096), (8192, 18432)])
def test_fargate_cpu_and_memory_must_be_a_published_pair(module_tf, cpu, memory):
    error = plan_error(
        module_tf("stack"), [case_file("stack", "default", "tfvars")], {"cpu": cpu, "memory": memory}
    )
    assert f"memory {memory} is not a size Fargate offers with cpu {cpu}" in error


def test_the_s3_gateway_endpoint_exists_with_nat_too(module_tf):
    planned = _module_plan(module_tf, "network", "nat")
    assert _after(planned, "aws_vpc_endpoint.s3[0]")["vpc_endpoint_type"] == "Gateway"
    assert _addresses(planned, "aws_nat_gateway.")


def test_static_rules():
    # Terraform 1.11.0 fails on write-only arguments inside a module; 1.11.1 fixed it
    for versions in [REPO / "terraform" / "versions.tf", *sorted((REPO / "modules").glob("*/versions.tf"))]:
        assert re.search(r'required_version = ">= 1\.11\.1', versions.read_text()), versions
    # The grace period is a variable, applied like any other (not ignored after create)
    main = (REPO / "modules" / "stack" / "main.tf").read_text()
    ignored = re.search(r"ignore_changes = \[([^\]]*)\]", main[main.index('resource "aws_ecs_service"') :])[1]
    assert "health_check_grace_period_seconds" not in ignored
