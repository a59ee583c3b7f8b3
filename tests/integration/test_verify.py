"""`make verify` against the AWS APIs of the local moto server.

The local default starts moto with MOTO_ECS_SERVICE_RUNNING=1: every ECS service reports one running task.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from scripts.release.verify import FAIL, PASS, SKIP, verify


@pytest.fixture
def deployed(aws_env):
    """One colour's stack as Terraform would leave it: cluster, task definition, service, target group."""
    session = boto3.session.Session()
    ecs, elbv2, ec2 = session.client("ecs"), session.client("elbv2"), session.client("ec2")
    name = f"verify-{uuid.uuid4().hex[:8]}"
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    tg = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
    ecs.create_cluster(clusterName=name)
    task = ecs.register_task_definition(
        family=name,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "example/api:2.0.0", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]

    def make_service(desired: int) -> dict:
        ecs.create_service(
            cluster=name, serviceName=name, taskDefinition=task, desiredCount=desired, launchType="FARGATE"
        )
        return {
            "stacks": {
                "green": {
                    "enabled": True,
                    "cluster_name": name,
                    "service_name": name,
                    "target_group_arn": tg["TargetGroups"][0]["TargetGroupArn"],
                    "task_definition_arn": task,
                    "image": "example/api:2.0.0",
                    "hostname": "green.example.invalid",
                }
            }
        }

    return session, make_service


def by_name(verdict) -> dict[str, str]:
    return {check.name: check.status for check in verdict.checks}


def test_a_deployed_colour_passes_and_says_what_it_could_not_check(deployed):
    session, make_service = deployed
    verdict = verify("green", make_service(desired=1), session)
    assert by_name(verdict) == {
        "deployed": PASS,
        "tasks running": PASS,
        "deployment": PASS,
        "task definition": PASS,
        "image": PASS,
        "target health": SKIP,
        "HTTP smoke check": SKIP,
    }
    assert verdict.ok


def test_fewer_running_tasks_than_desired_fails(deployed):
    session, make_service = deployed
    verdict = verify("green", make_service(desired=3), session)
    assert by_name(verdict)["tasks running"] == FAIL
    assert not verdict.ok


def test_the_wrong_image_fails(deployed):
    session, make_service = deployed
    outputs = make_service(desired=1)
    outputs["stacks"]["green"]["image"] = "example/api:3.0.0"
    verdict = verify("green", outputs, session)
    assert by_name(verdict)["image"] == FAIL
    assert "expected example/api:3.0.0" in verdict.render()


def test_a_colour_that_is_not_deployed_fails_with_what_to_do(aws_env):
    verdict = verify("green", {"stacks": {}}, boto3.session.Session())
    assert not verdict.ok
    assert "set green.enabled = true and apply" in verdict.render()


def test_a_task_definition_changed_under_the_service_fails_and_says_so(deployed):
    # GIVEN a deployed colour, WHEN its service is moved to another task definition outside Terraform (what
    # an ECS circuit-breaker revert leaves behind), THEN verify fails on the task definition it runs
    session, make_service = deployed
    outputs = make_service(desired=1)
    stack = outputs["stacks"]["green"]
    ecs = session.client("ecs")
    other = ecs.register_task_definition(
        family=stack["service_name"],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "example/api:2.0.0", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=stack["cluster_name"], service=stack["service_name"], taskDefinition=other)
    verdict = verify("green", outputs, session)
    assert by_name(verdict)["task definition"] == FAIL
    assert "not Terraform's" in verdict.render() and "circuit breaker" in verdict.render()
    assert not verdict.ok
