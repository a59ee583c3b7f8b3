"""The README's first deploy, in the order it is written, with the production example, on moto.

    make plan  -> everything is created, but no task starts: the colours' database role does not exist yet
    make apply -> (here: only the application role's secret; the e2e test applies a whole environment, and a
                  whole one takes minutes on moto: every load balancer and record is waited for)
    make migrate -> the function sets up the role and records it (the real runner/readiness.py writes it)
    make plan  -> each colour's desired count goes from 0 to the tfvars' value
    make apply, make verify

The configuration runs in a copy of its own with local state, so the session's other root plans never see
what this one applies.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import boto3
import pytest
import tftest
from tf_helpers import REGION, plan

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "env/production.tfvars.example"


def readme_first_deploy() -> list[str]:
    """The make commands of the README's first deploy, in order."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### The first deploy") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)[1]
    return re.findall(r"make (preflight|build|plan|apply|migrate|verify)\b", block)


def test_the_readme_says_apply_migrate_apply():
    assert readme_first_deploy() == [
        "preflight",
        "build",
        "plan",
        "apply",
        "migrate",
        "plan",
        "apply",
        "verify",
    ]


@pytest.fixture
def walk(tf_scratch: Path, tf_workspace: Path, moto_endpoint: str, migrator_zip: Path, production_plan):
    """A copy of the configuration with its own local state (production_plan: the example's zone exists)."""
    root = tf_scratch / "first-deploy"
    shutil.rmtree(root, ignore_errors=True)
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "backend_override.tf", "test_provider.tf")
    shutil.copytree(tf_workspace / "modules", root / "modules", ignore=ignore)
    shutil.copytree(tf_workspace / "terraform", root / "terraform", ignore=ignore)
    (root / "terraform" / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    # No TF_VAR_database_password: RDS manages the master password, the first deploy needs none
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "TF_VAR_migrator_package_path": str(migrator_zip),
    }
    tf = tftest.TerraformTest(
        str(root / "terraform"), binary=shutil.which("terraform") or "terraform", env=env
    )
    tf.setup(cleanup_on_exit=False)
    ssm = boto3.client(
        "ssm",
        endpoint_url=moto_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    yield tf, ssm
    path = "/release-kit-production/migrator/roles-ready"
    for parameter in ssm.get_parameters_by_path(Path=path)["Parameters"]:
        ssm.delete_parameter(Name=parameter["Name"])


def _desired(planned) -> dict[str, int | None]:
    return {
        color: planned.resource_changes[f"module.{color}.aws_ecs_service.this[0]"]["change"]["after"].get(
            "desired_count"
        )
        for color in ("blue", "green")
    }


def test_the_first_deploy_in_the_order_written(walk):
    from migrator.runner import readiness

    tf, ssm = walk
    # make plan: no password, and the tasks wait for their role
    first = plan(tf, [EXAMPLE])
    assert _desired(first) == {"blue": 0, "green": 0}
    # make apply (of what the next steps need here: each colour's role's secret)
    tf.apply(tf_var_file=EXAMPLE, targets=["module.database.aws_secretsmanager_secret.color"])
    secrets = tf.output()["database_app_secret_arns"]
    assert all(secrets[c].startswith("arn:aws:secretsmanager:eu-west-1:") for c in ("blue", "green"))
    # make migrate: the function sets up the roles, then records each with the secret it used
    recorded = readiness.record(
        "/release-kit-production/migrator/roles-ready",
        [{"name": f"app_{c}", "secret_id": secrets[c]} for c in ("blue", "green")],
        client=ssm,
    )
    assert recorded == ["app_blue", "app_green"]
    # make plan: the tasks start, as many as the tfvars say
    second = plan(tf, [EXAMPLE])
    assert _desired(second) == {"blue": 2, "green": 2}
    assert second._raw["output_changes"]["roles_ready"]["after"]["colors"] == {"blue": True, "green": True}
    # A record made from another secret (an environment re-created under the same name) does not count, and
    # each colour waits for its own role only
    ssm.put_parameter(
        Name="/release-kit-production/migrator/roles-ready/app_blue",
        Value=secrets["blue"] + "-old",
        Type="String",
        Overwrite=True,
    )
    assert _desired(plan(tf, [EXAMPLE])) == {"blue": 0, "green": 2}
