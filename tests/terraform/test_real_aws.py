"""Plan-level tests of the AWS rules a first production deploy depends on (issue 7).

Moto proves wiring, not AWS behaviour, so each rule the configuration relies on is encoded here as a fact
about the plan, with the AWS documentation cited in docs/decisions.md:

1. the colours really share the database (endpoint, each colour's own role's secret, egress to the database
   only);
2. the private subnets have a way out (NAT or VPC endpoints), and a configuration without one is refused;
3. the database admits security groups, not the VPC CIDR;
4. a zero-weight record never serves (Route 53 answers with it once every non-zero record is unhealthy);
5. the migrator requires TLS, and verifies the server when a CA bundle is configured;
6. python3.13 (arm64 optional); 7. no reserved concurrency by default; 8. statement_timeout < timeout;
10. replaceable names, an optional task role, health path, provider bound, engine and password rules;
11. an optional WAF.

The last test plans terraform/env/production.tfvars.example itself against the local endpoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tf_helpers import TEST_PASSWORD, case_file, plan, plan_error

from tests import committed

REPO = Path(__file__).resolve().parents[2]
LOCAL_TFVARS = "env/local.tfvars"
PRODUCTION_EXAMPLE = "env/production.tfvars.example"
APP_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kit-test/database/app-AbCdEf"

_plans: dict[tuple, object] = {}


def _module_plan(module_tf, module: str, case: str, overrides: dict | None = None):
    key = (module, case, json.dumps(overrides, sort_keys=True))
    if key not in _plans:
        extra = {"password": TEST_PASSWORD} if (module, case) == ("database", "existing") else {}
        _plans[key] = plan(
            module_tf(module), [case_file(module, case, "tfvars")], {**extra, **(overrides or {})}
        )
    return _plans[key]


def _after(planned, address: str) -> dict:
    return planned.resource_changes[address]["change"]["after"]


def _output_after(planned, name: str):
    """An output's planned value with its unknown parts left out (tftest's outputs drop it whole)."""
    return planned._raw["output_changes"][name]["after"]


def _addresses(planned, prefix: str) -> list[str]:
    return sorted(address for address in planned.resource_changes if address.startswith(prefix))


def _policy_statements(planned, data_address: str) -> dict[str, dict]:
    """The statements (by Sid) of an aws_iam_policy_document data source, as planned."""
    document = planned._raw["prior_state"]["values"]["root_module"]["resources"]
    for resource in document:
        if resource["address"] == data_address:
            return {s["Sid"]: s for s in json.loads(resource["values"]["json"])["Statement"]}
    raise AssertionError(f"{data_address} is not in the plan's prior state")


# ------------------------------------------------------------------ 1. the colours share the database


def test_containers_get_the_database_endpoint_and_the_application_role_secret(module_tf):
    planned = _module_plan(module_tf, "stack", "default")
    (container,) = json.loads(_after(planned, "aws_ecs_task_definition.this[0]")["container_definitions"])
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment == {
        "COLOR": "blue",
        "DB_HOST": "kit-test-db.abc.us-east-1.rds.amazonaws.com",
        "DB_PORT": "5432",
        "DB_NAME": "app",
    }
    # The whole secret, and username and password as separate keys (ECS's JSON-key form of valueFrom)
    secrets = {item["name"]: item["valueFrom"] for item in container["secrets"]}
    assert secrets == {
        "DB_SECRET": APP_SECRET,
        "DB_USERNAME": f"{APP_SECRET}:username::",
        "DB_PASSWORD": f"{APP_SECRET}:password::",
    }
    assert planned.outputs["container_secret_names"] == ["DB_SECRET", "DB_USERNAME", "DB_PASSWORD"]


def test_the_execution_role_reads_exactly_that_one_secret(module_tf):
    planned = _module_plan(module_tf, "stack", "default")
    statements = _policy_statements(planned, "data.aws_iam_policy_document.execution_secret[0]")
    assert statements["ReadDatabaseSecret"]["Action"] == "secretsmanager:GetSecretValue"
    assert statements["ReadDatabaseSecret"]["Resource"] == APP_SECRET
    secret_actions = [s for s in statements.values() if "secretsmanager" in json.dumps(s["Action"])]
    assert len(secret_actions) == 1


def test_tasks_reach_the_database_port_only_on_the_database_security_group(module_tf):
    planned = _module_plan(module_tf, "stack", "default")
    rule = _after(planned, "aws_vpc_security_group_egress_rule.tasks_database_security_group[0]")
    assert (rule["referenced_security_group_id"], rule["from_port"], rule["to_port"]) == (
        "sg-0000000000000000e",
        5432,
        5432,
    )
    assert rule["cidr_ipv4"] is None
    # An existing database outside the VPC is reached by its CIDR, on its port
    green = _module_plan(module_tf, "stack", "green")
    rule = _after(green, 'aws_vpc_security_group_egress_rule.tasks_database_cidr["10.50.0.0/24"]')
    assert (rule["cidr_ipv4"], rule["from_port"], rule["to_port"]) == ("10.50.0.0/24", 6432, 6432)


def test_the_root_gives_each_colour_its_own_role_secret(root_tf):
    planned = plan(root_tf, [LOCAL_TFVARS])
    for color in ("blue", "green"):
        assert _output_after(planned, "stacks")[color]["container_secret_names"] == [
            "DB_SECRET",
            "DB_USERNAME",
            "DB_PASSWORD",
        ]
        assert _output_after(planned, "stacks")[color]["database_role"] == "own"
        # Each colour's role's secret is created here (its ARN is known only after the apply: the end-to-end
        # test reads each task definition and execution policy back and finds that colour's secret alone)
        secret = _after(planned, f'module.database.aws_secretsmanager_secret.color["{color}"]')
        # a prefix: a re-created environment must not collide with a secret still in its recovery window
        assert secret["name_prefix"] == f"release-kit-local/database/app_{color}-"
        calls = planned._raw["configuration"]["root_module"]["module_calls"]
        wiring = calls[color]["expressions"]["database"]
        assert f"local.app_database.{color}" in wiring["references"]
    # No colour logs in as the shared role, so its secret is not kept
    assert "module.database.aws_secretsmanager_secret.app[0]" not in planned.resource_changes
    assert TEST_PASSWORD not in json.dumps(planned._raw)


def test_during_the_move_a_colour_may_keep_the_shared_role(root_tf, tmp_path):
    overlay = tmp_path / "shared.tfvars"
    overlay.write_text(
        'blue = { enabled = true, image = "public.ecr.aws/nginx/nginx:1.27", container_port = 80, '
        'health_check_path = "/", database_role = "shared" }\n'
    )
    planned = plan(root_tf, [LOCAL_TFVARS, str(overlay)])
    shared = _after(planned, "module.database.aws_secretsmanager_secret.app[0]")
    assert shared["name_prefix"] == "release-kit-local/database/app-"
    assert _output_after(planned, "stacks")["blue"]["database_role"] == "shared"
    assert _output_after(planned, "stacks")["green"]["database_role"] == "own"


def test_an_unknown_database_role_is_refused(root_tf, tmp_path):
    overlay = tmp_path / "bad.tfvars"
    overlay.write_text('green = { enabled = true, image = "nginx:1", database_role = "mine" }\n')
    message = plan_error(root_tf, [LOCAL_TFVARS, str(overlay)])
    assert 'green.database_role must be "own"' in message


# ------------------------------------------------------------------------------- 2. egress


def test_nat_egress_can_be_one_per_az(module_tf):
    planned = _module_plan(module_tf, "network", "nat")
    assert _addresses(planned, "aws_nat_gateway.") == [
        'aws_nat_gateway.this["us-east-1a"]',
        'aws_nat_gateway.this["us-east-1b"]',
    ]
    routes = _addresses(planned, "aws_route.private_nat")
    assert len(routes) == 2
    assert planned.outputs["egress"] == "nat"


def test_endpoint_egress_covers_ecr_logs_secrets_manager_and_s3(module_tf):
    planned = _module_plan(module_tf, "network", "endpoints")
    services = sorted(_after(planned, a)["service_name"] for a in _addresses(planned, "aws_vpc_endpoint."))
    assert services == [
        f"com.amazonaws.us-east-1.{name}" for name in ("ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager")
    ]
    assert not _addresses(planned, "aws_nat_gateway.")


def test_the_default_network_has_a_way_out(module_tf):
    planned = _module_plan(module_tf, "network", "default")
    assert _addresses(planned, "aws_nat_gateway.") == ['aws_nat_gateway.this["us-east-1a"]']


@pytest.mark.parametrize(
    ("network", "message"),
    [
        (
            {"azs": ["us-east-1a", "us-east-1b"], "egress": "none"},
            'network.egress must be "nat" or "endpoints" (got "none")',
        ),
        (
            {"azs": ["us-east-1a", "us-east-1b"], "egress": "endpoints"},
            'network.egress is "endpoints", but an enabled colour\'s image is not in Amazon ECR in us-east-1 '
            "(blue.image: public.ecr.aws/nginx/nginx:1.27; green.image: public.ecr.aws/nginx/nginx:1.27): "
            "VPC endpoints reach only AWS services, so the tasks could not pull it. "
            'Set network.egress = "nat", or push the image to ECR',
        ),
    ],
    ids=["no-egress", "endpoints-with-a-public-image"],
)
def test_a_network_without_a_way_to_what_is_needed_is_refused(root_tf, network, message):
    assert message in plan_error(root_tf, [LOCAL_TFVARS], {"network": network})


# ---------------------------------------------------------------------- 3. database ingress


def test_a_created_database_admits_the_migrator_and_the_tasks_by_security_group(root_tf):
    planned = plan(
        root_tf, [LOCAL_TFVARS, case_file("root", "created_database", "tfvars")], {"database_password": None}
    )
    ingress = _addresses(planned, "module.database.aws_vpc_security_group_ingress_rule.")
    assert ingress == [
        f'module.database.aws_vpc_security_group_ingress_rule.security_group["{name}"]'
        for name in ("blue", "green", "migrator")
    ]
    for address in ingress:
        after = _after(planned, address)
        assert after["cidr_ipv4"] is None and after["from_port"] == 5432
        assert planned.resource_changes[address]["change"]["after_unknown"]["referenced_security_group_id"]


# ------------------------------------------------------------------------------ 4. traffic


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("default", {"blue": False, "green": False}),  # blue live, green idle at weight 0
        ("canary", {"blue": True, "green": True}),  # no zero-weight record: an unhealthy colour drops out
        ("blue_only", {"blue": True}),
        ("idle_failover", {"blue": True, "green": True}),  # the documented opt-in
    ],
)
def test_a_zero_weight_record_never_serves_unless_failover_is_opted_into(module_tf, case, expected):
    planned = _module_plan(module_tf, "traffic", case)
    health = {
        address.split('"')[1]: _after(planned, address)["alias"][0]["evaluate_target_health"]
        for address in _addresses(planned, "aws_route53_record.this")
    }
    assert health == expected
    assert planned.outputs["evaluate_target_health"] == expected


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("blue", {"blue": (100, False), "green": (0, False)}),
        ("green", {"blue": (0, False), "green": (100, False)}),
        ("canary", {"blue": (90, True), "green": (10, True)}),
    ],
)
def test_root_records_by_colour_and_canary(root_tf, case, expected):
    planned = plan(root_tf, [LOCAL_TFVARS, case_file("root", case, "tfvars")])
    records = {
        address.split('"')[1]: (
            _after(planned, address)["weighted_routing_policy"][0]["weight"],
            _after(planned, address)["alias"][0]["evaluate_target_health"],
        )
        for address in _addresses(planned, "module.traffic.aws_route53_record.this")
    }
    assert records == expected


# --------------------------------------------------------------------------- 5-8. the migrator


def test_migrator_runtime_tls_concurrency_and_statement_timeout_defaults(module_tf):
    function = _after(_module_plan(module_tf, "migrator", "default"), "aws_lambda_function.this[0]")
    assert function["runtime"] == "python3.13"
    assert function["architectures"] == ["x86_64"]
    assert function["reserved_concurrent_executions"] == -1  # unreserved: works on a quota of 10
    variables = function["environment"][0]["variables"]
    assert variables["MIGRATOR_SSLMODE"] == "require"
    assert "MIGRATOR_SSLROOTCERT" not in variables
    # 900 s function: statements end at 810 s, before Lambda ends the function
    assert variables["MIGRATOR_STATEMENT_TIMEOUT"] == "810s"


def test_migrator_options(module_tf):
    planned = _module_plan(module_tf, "migrator", "created_database")
    function = _after(planned, "aws_lambda_function.this[0]")
    assert function["architectures"] == ["arm64"]
    assert function["reserved_concurrent_executions"] == 2
    variables = function["environment"][0]["variables"]
    assert variables["MIGRATOR_SSLMODE"] == "verify-full"
    assert variables["MIGRATOR_SSLROOTCERT"] == "migrator/certs/global-bundle.pem"
    assert variables["MIGRATOR_STATEMENT_TIMEOUT"] == "270s"  # 300 s function
    assert variables["APP_DB_SECRET_ID"] == APP_SECRET
    statements = _policy_statements(planned, "data.aws_iam_policy_document.secrets[0]")
    assert statements["ReadAppRoleSecret"]["Resource"] == APP_SECRET
    assert statements["ReadDatabaseSecret"]["Resource"].endswith(":secret:kit-test/database/migrator-AbCdEf")
    assert set(statements) == {
        "ReadDatabaseSecret",
        "ReadAppRoleSecret",
        "DecryptDatabaseSecret",
        "RecordRolesReady",
    }
    # migrate records the roles it set up under one path, and may write nowhere else in Parameter Store
    assert statements["RecordRolesReady"]["Resource"] == (
        "arn:aws:ssm:us-east-1:*:parameter/kit-test/migrator/roles-ready/*"
    )


def test_invalid_migrator_settings_are_refused(module_tf):
    error = plan_error(
        module_tf("migrator"),
        [case_file("migrator", "default", "tfvars")],
        {
            "reserved_concurrency": 0,
            "statement_timeout_seconds": 895,
            "database_sslmode": "prefer",
            "architecture": "sparc",
        },
    )
    for message in (
        "reserved_concurrency must be null (no reservation) or a whole number of 1 or more",
        "statement_timeout_seconds must be a whole number of seconds at least 10 below timeout (900)",
        'database_sslmode must be "require", "verify-ca" or "verify-full"',
        'architecture must be "x86_64" or "arm64"',
    ):
        assert message in error, error
    error = plan_error(
        module_tf("migrator"),
        [case_file("migrator", "default", "tfvars")],
        {"database_sslmode": "verify-full"},
    )
    assert "database_sslmode verify-full needs database_ca_bundle" in error


# ------------------------------------------------------------------------------ 10, 11. smaller points


def test_replaceable_resources_use_name_prefixes(module_tf):
    stack = _module_plan(module_tf, "stack", "default")
    assert _after(stack, "aws_security_group.alb[0]")["name_prefix"] == "kit-test-blue-alb-"
    assert _after(stack, "aws_security_group.tasks[0]")["name_prefix"] == "kit-test-blue-tasks-"
    assert _after(stack, "aws_lb_target_group.this[0]")["name_prefix"] == "blue"
    migrator = _module_plan(module_tf, "migrator", "default")
    assert _after(migrator, "aws_security_group.this[0]")["name_prefix"] == "kit-test-migrator-"
    database = _module_plan(module_tf, "database", "created")
    assert _after(database, "aws_security_group.this[0]")["name_prefix"] == "kit-test-db-"


def test_optional_task_role_waf_and_health_path(module_tf):
    green = _module_plan(module_tf, "stack", "green")
    assert (
        _after(green, "aws_ecs_task_definition.this[0]")["task_role_arn"]
        == "arn:aws:iam::123456789012:role/kit-test-api"
    )
    assert _after(green, "aws_wafv2_web_acl_association.this[0]")["web_acl_arn"].endswith(
        "regional/webacl/kit-test/11111111-2222-3333-4444-555555555555"
    )
    assert green.outputs["health_check_path"] == "/healthz"
    blue = _module_plan(module_tf, "stack", "default")
    assert _after(blue, "aws_ecs_task_definition.this[0]")["task_role_arn"] is None
    assert not _addresses(blue, "aws_wafv2_web_acl_association.")


def test_the_local_tfvars_probe_a_path_nginx_answers():
    # nginx answers 404 on /health: on AWS the target group would never turn healthy
    text = committed.text(REPO / "terraform" / "env" / "local.tfvars")
    assert len(re.findall(r'health_check_path\s*=\s*"/"\n', text)) == 2
    # nginx writes to its root filesystem, and moto stores no grace period (anything else would read back
    # as a change on every plan, and a release step would refuse it as a foreign change)
    assert len(re.findall(r"readonly_root_filesystem\s*=\s*false\n", text)) == 2
    assert len(re.findall(r"health_check_grace_period_seconds\s*=\s*0\n", text)) == 2


def test_every_provider_constraint_is_bounded_below_the_next_major():
    for versions in [REPO / "terraform" / "versions.tf", *sorted((REPO / "modules").glob("*/versions.tf"))]:
        constraint = re.search(
            r'source\s*=\s*"hashicorp/aws"\s*version\s*=\s*"([^"]+)"', versions.read_text()
        )[1]
        assert constraint.startswith("~> 5.") or "< 6.0" in constraint, f"{versions}: {constraint}"


def test_database_engine_version_and_password_rules(module_tf):
    error = plan_error(
        module_tf("database"),
        [case_file("database", "created", "tfvars")],
        {"engine_version": "14", "password": "has@an/at-sign"},
    )
    assert "engine_version must be PostgreSQL 15 or later" in error
    # RDS manages a created instance's master password: a password given anyway is refused, not ignored
    assert "password is not used with create = true: RDS generates and rotates the master password" in error
    # An existing database is not RDS-created: its password only needs the minimum length
    _module_plan(module_tf, "database", "existing", {"password": "has@an/at-sign and spaces"})


# -------------------------------------------------------------------- the production example


def test_the_production_example_plans_a_safe_first_deploy(production_plan):
    planned = production_plan
    # The task definitions carry the database secret
    for color in ("blue", "green"):
        assert _output_after(planned, "stacks")[color]["container_secret_names"] == [
            "DB_SECRET",
            "DB_USERNAME",
            "DB_PASSWORD",
        ]
        policy = planned.resource_changes[f"module.{color}.aws_iam_role_policy.execution_secret[0]"]
        assert (
            policy["change"]["after_unknown"]["policy"] is True
        )  # it names the secret created in this apply
    # The database ingress references security groups, not the VPC CIDR
    ingress = _addresses(planned, "module.database.aws_vpc_security_group_ingress_rule.")
    assert [a.split('"')[1] for a in ingress] == ["blue", "green", "migrator"]
    assert all(_after(planned, a)["cidr_ipv4"] is None for a in ingress)
    # A zero-weight record does not evaluate target health (and neither does the live one, so the idle
    # colour cannot be chosen by a failing live colour)
    records = {
        a.split('"')[1]: _after(planned, a)
        for a in _addresses(planned, "module.traffic.aws_route53_record.this")
    }
    assert records["green"]["weighted_routing_policy"][0]["weight"] == 0
    assert records["green"]["alias"][0]["evaluate_target_health"] is False
    assert records["blue"]["alias"][0]["evaluate_target_health"] is False
    # The function runs python3.13, unreserved
    function = _after(planned, "module.migrator.aws_lambda_function.this[0]")
    assert function["runtime"] == "python3.13"
    assert function["reserved_concurrent_executions"] == -1
    assert function["timeout"] == 900  # the statement timeout derived from it is tested on the module
    # Egress exists: one NAT gateway per AZ, and a default route through it from each private route table
    assert _addresses(planned, "module.network.aws_nat_gateway.") == [
        'module.network.aws_nat_gateway.this["eu-west-1a"]',
        'module.network.aws_nat_gateway.this["eu-west-1b"]',
    ]
    assert len(_addresses(planned, "module.network.aws_route.private_nat")) == 2
    # The database is RDS PostgreSQL 15+, and no password is in the plan
    assert _after(planned, "module.database.aws_db_instance.this[0]")["engine_version"] == "16"
    assert planned.outputs["region"] == "eu-west-1"
    assert TEST_PASSWORD not in json.dumps(planned._raw)
