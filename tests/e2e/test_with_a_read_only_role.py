"""The README's plan role, on the deployed environment: it is enough to plan, and it writes nothing.

It runs after the release flow and the progressive releases (the files run in name order), when everything
is deployed, so the plan refreshes every resource the configuration manages. The policy is the JSON block in
the README, placeholders filled in, next to AWS's ``ReadOnlyAccess`` (the managed policy's document as moto
ships it, AWS version v190).

Enough: terraform plans the environment with ``TF_LOG=debug``; every AWS call it makes (the provider's and
the S3 backend's) is read from the log, turned into its IAM action, and evaluated against those two policies
with moto's policy evaluator, the secrets' calls against the secrets' own ARNs.

Writes nothing: then moto's IAM enforcement is switched on (``/moto-api/reset-auth``) and terraform plans as a
user holding exactly those policies: taking the state lock (a write) is refused, and
without ``GetSecretValue`` the refresh fails on a secret Terraform wrote (provider 5.x, #42383).

Where moto cannot show AWS, and what stands in: in server mode moto rejects the signature of every REST-style
request (Route 53, Lambda) whoever sends it, so a plan under enforcement cannot succeed and the positive proof
is the evaluation of the recorded calls; moto evaluates non-S3 requests against the resource "*" only, so the
README's non-S3 statements are given to it with ``"Resource": "*"`` (their real resources are checked by the
evaluator); and it names CloudWatch's actions by the signing name "monitoring".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
import uuid

import pytest
from kit import REPO, Kit

pytestmark = pytest.mark.e2e

README = REPO / "README.md"


def readme_plan_policy(values: dict[str, str]) -> dict:
    """The plan role's policy as the README prints it, placeholders filled in."""
    text = README.read_text()
    section = text[text.index("**The pull request plan job**") :]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)[1]
    for name, value in values.items():
        block = block.replace(f"<{name}>", value)
    assert "<" not in block, f"a placeholder is left: {block}"
    return json.loads(block)


def _for_moto(policy: dict) -> dict:
    """moto matches non-S3 requests against the resource "*" only: widen those statements' resources."""
    statements = [
        {**s, "Resource": s["Resource"] if str(s["Action"]).startswith("s3:") else "*"}
        for s in policy["Statement"]
    ]
    return {**policy, "Statement": statements}


def _readonly_access() -> dict:
    """AWS's ReadOnlyAccess as moto ships it, plus what moto needs to evaluate CloudWatch: it names an action
    by the request's signing name, and CloudWatch signs as "monitoring" (IAM calls it "cloudwatch"), so its
    read actions are repeated under that name; nothing else is added."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    document = json.loads(aws_managed_policies_data)["ReadOnlyAccess"]["Document"]
    cloudwatch = [
        action.replace("cloudwatch:", "monitoring:", 1)
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action.startswith("cloudwatch:")
    ]
    extra = {"Sid": "MotoSigningName", "Effect": "Allow", "Action": cloudwatch, "Resource": "*"}
    return {**document, "Statement": [*document["Statement"], extra]}


def _user(iam, name: str, *policies: dict) -> dict[str, str]:
    iam.create_user(UserName=name)
    for index, policy in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{index}", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def _set_auth(kit: Kit, count: str) -> None:
    """moto checks credentials and IAM policies for every request after ``count`` more (inf: never)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{kit.state()['moto_port']}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form content type would hide the body from moto
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


# The provider's and the S3 backend's names for the services (rpc.service in the debug log), and the calls
# whose IAM action is not named like the operation.
IAM_PREFIX = {
    "ACM": "acm",
    "CloudWatch": "cloudwatch",
    "CloudWatch Logs": "logs",
    "EC2": "ec2",
    "ECS": "ecs",
    "Elastic Load Balancing v2": "elasticloadbalancing",
    "IAM": "iam",
    "KMS": "kms",
    "Lambda": "lambda",
    "RDS": "rds",
    "Route 53": "route53",
    "S3": "s3",
    "SNS": "sns",
    "SSM": "ssm",
    "STS": "sts",
    "Secrets Manager": "secretsmanager",
    "WAFV2": "wafv2",
}
IAM_ACTION = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
}


def recorded_calls(log: str) -> set[str]:
    """The IAM actions of every AWS request in a terraform debug log."""
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\dT)", log)
    actions = set()
    for entry in entries:
        if "HTTP Request Sent" not in entry:
            continue
        method = re.search(r"rpc\.method=(\w+)", entry)
        service = re.search(r'rpc\.service=(?:"([^"]*)"|(\S+))', entry)
        assert method and service, f"a request without its operation: {entry[:300]}"
        name = service[1] or service[2]
        assert name in IAM_PREFIX, f"add {name!r} to IAM_PREFIX"
        action = f"{IAM_PREFIX[name]}:{method[1]}"
        actions.add(IAM_ACTION.get(action, action))
    return actions


def _plan(kit: Kit, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "terraform",
            f"-chdir={REPO / 'terraform'}",
            "plan",
            "-input=false",
            "-no-color",
            f"-var-file={kit.local_dir / 'env' / 'local.tfvars'}",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_readme_plan_role_is_enough_to_plan_and_writes_nothing(kit: Kit) -> None:
    # The environment `make plan` would use (endpoint, data dir, the local password), the keys replaced below
    exported = dict(re.findall(r"^export (\w+)=(.*)$", kit.make("env").stdout, re.MULTILINE))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_VAR_", "KIT_"))}
    base |= exported
    values = {
        "state-bucket": "release-kit-tfstate",
        "state-key": "local/terraform.tfstate",
        "region": "us-east-1",
        "account-id": "123456789012",
        "name": "release-kit",
        "environment": "local",
    }
    policy = readme_plan_policy(values)

    # Nothing in it writes: reads, and a password generator that stores nothing
    actions = [s["Action"] for s in policy["Statement"]]
    assert all(re.match(r"^\w+:(Get|List|Describe)", a) for a in actions), actions

    # The secrets Terraform writes are the ones it names; RDS's own master secret is not
    from moto.iam.access_control import IAMPolicy, PermissionResult

    outputs = kit.outputs()
    evaluator = IAMPolicy(json.dumps(policy))
    # each colour's role secret, the migrator's, and the shared role's while a colour still uses it
    secrets = (
        *outputs["database_app_secret_arns"].values(),
        outputs["migrator_secret_arn"],
        *([outputs["database_app_secret_arn"]] if outputs.get("database_app_secret_arn") else []),
    )
    assert len(secrets) >= 3, secrets
    for arn in secrets:
        assert (
            evaluator.is_action_permitted("secretsmanager:GetSecretValue", arn) == PermissionResult.PERMITTED
        )
    rds_secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0a1b2c3d-AbCdEf"
    assert (
        evaluator.is_action_permitted("secretsmanager:GetSecretValue", rds_secret)
        != PermissionResult.PERMITTED
    )

    # WHEN the environment is planned (as the CI job plans: no lock), THEN every call it makes is allowed
    log_path = kit.local_dir / "plan-role.log"
    traced = _plan(kit, base | {"TF_LOG": "debug", "TF_LOG_PATH": str(log_path)}, "-lock=false")
    assert traced.returncode == 0, traced.stderr[-3000:]
    actions = recorded_calls(log_path.read_text())
    assert {"secretsmanager:GetSecretValue", "secretsmanager:GetRandomPassword", "s3:GetObject"} <= actions
    readonly = IAMPolicy(json.dumps(_readonly_access()))
    denied = sorted(
        action
        for action in actions
        for resource in (secrets if action == "secretsmanager:GetSecretValue" else ("*",))
        if PermissionResult.PERMITTED
        not in (
            readonly.is_action_permitted(action, resource),
            evaluator.is_action_permitted(action, resource),
        )
    )
    assert not denied, f"the plan role may not call {denied}: add them to the README's policy"

    tag = uuid.uuid4().hex[:8]
    iam = kit.boto("iam")
    planner = _user(iam, f"planner-{tag}", _readonly_access(), _for_moto(policy))
    without_secrets = {
        **policy,
        "Statement": [s for s in policy["Statement"] if s["Action"] != "secretsmanager:GetSecretValue"],
    }
    blind = _user(iam, f"blind-{tag}", _readonly_access(), _for_moto(without_secrets))

    _set_auth(kit, "0")
    try:
        # WHEN the role tries to take the state lock (a write), THEN it is refused: it writes nothing
        locked = _plan(kit, base | planner)
        assert locked.returncode != 0
        assert "Error acquiring the state lock" in locked.stderr and "AccessDenied" in locked.stderr
        # AND without GetSecretValue the refresh fails on a secret Terraform wrote (provider 5.x, #42383);
        # with it, that call passes (the plan still fails here on moto's REST signatures, see above)
        refused = _plan(kit, base | blind, "-lock=false")
        # (moto answers a JSON-protocol denial in XML, so the SDK reports the 403 without its code)
        denials = re.findall(
            r"Secret Version \(([^|)]+).*?GetSecretValue, https response error StatusCode: 403",
            refused.stderr,
        )
        assert sorted(denials) == sorted(secrets), refused.stderr[-3000:]
        allowed = _plan(kit, base | planner, "-lock=false")
        assert "GetSecretValue" not in allowed.stderr, allowed.stderr[-3000:]
    finally:
        _set_auth(kit, "inf")
