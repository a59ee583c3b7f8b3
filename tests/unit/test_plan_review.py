"""The plan review summary: grouping, traffic weights, and what counts as DANGER."""

from __future__ import annotations

import json

import pytest

from scripts.release.plan_review import is_downgrade, review, to_markdown


def record(colour: str, before: int | None, after: int | None, actions: list[str]) -> dict:
    policy = lambda w: None if w is None else {"weighted_routing_policy": [{"weight": w}]}  # noqa: E731
    return {
        "address": f'module.traffic.aws_route53_record.this["{colour}"]',
        "module_address": "module.traffic",
        "mode": "managed",
        "type": "aws_route53_record",
        "index": colour,
        "change": {"actions": actions, "before": policy(before), "after": policy(after)},
    }


def resource(address: str, type_: str, actions: list[str], before=None, after=None) -> dict:
    module = address.rsplit(".", 2)[0] if address.startswith("module.") else None
    return {
        "address": address,
        "module_address": module,
        "mode": "managed",
        "type": type_,
        "change": {"actions": actions, "before": before or {}, "after": after or {}},
    }


def plan_doc(*changes: dict, live_before: str | None = "blue", live_after: str = "blue") -> dict:
    return {
        "resource_changes": list(changes),
        "output_changes": {
            "live_color": {"before": live_before, "after": live_after},
            "hostnames": {"before": None, "after": {"live": "api.example.test"}},
        },
    }


def test_a_switch_shows_weights_before_and_after_and_no_danger():
    # GIVEN a plan that only moves the weights from blue to green
    plan = plan_doc(
        record("blue", 100, 0, ["update"]), record("green", 0, 100, ["update"]), live_after="green"
    )
    # WHEN it is reviewed
    result = review(plan, env="local", color="green")
    # THEN the weights and the switch are shown, and nothing is dangerous
    assert result.weights_before == {"blue": 100, "green": 0}
    assert result.weights_after == {"blue": 0, "green": 100}
    assert result.dangers == []
    markdown = to_markdown(result)
    assert "**Switch:** live traffic moves from **blue** to **green**" in markdown
    assert "| green | 0 | 100 ◀ changes |" in markdown
    assert "weight 100 → 0" in markdown
    assert "No DANGER" in markdown


def test_first_release_says_nothing_is_deployed():
    plan = plan_doc(record("blue", None, 100, ["create"]), live_before=None)
    markdown = to_markdown(review(plan, env="local", color="blue"))
    assert "Nothing is deployed yet" in markdown
    assert "| blue | — | 100 ◀ changes |" in markdown


def test_replacing_the_database_or_the_secret_is_danger():
    plan = plan_doc(
        resource("module.database.aws_db_instance.this[0]", "aws_db_instance", ["delete", "create"]),
        resource(
            "module.database.aws_secretsmanager_secret.this[0]", "aws_secretsmanager_secret", ["delete"]
        ),
    )
    result = review(plan, env="production", color="blue")
    assert [(d.action, d.address) for d in result.dangers] == [
        ("replace", "module.database.aws_db_instance.this[0]"),
        ("destroy", "module.database.aws_secretsmanager_secret.this[0]"),
    ]
    markdown = to_markdown(result)
    assert "#### ⚠️ DANGER" in markdown
    assert "ALLOW_DESTROY=1" in markdown


def test_destroying_the_live_stack_is_danger_but_the_idle_stack_is_not():
    plan = plan_doc(
        resource("module.blue.aws_lb.this[0]", "aws_lb", ["delete"]),
        resource("module.green.aws_lb.this[0]", "aws_lb", ["delete"]),
        live_before="blue",
    )
    result = review(plan, env="local", color="blue")
    assert [d.address for d in result.dangers] == ["module.blue.aws_lb.this[0]"]
    assert "serves live traffic now" in result.dangers[0].reason


def test_deleting_the_live_record_is_danger():
    plan = plan_doc(record("blue", 100, None, ["delete"]), live_before="blue")
    assert [d.address for d in review(plan, env="local", color="blue").dangers] == [
        'module.traffic.aws_route53_record.this["blue"]'
    ]


def test_updates_are_grouped_by_module_with_changed_attributes():
    plan = plan_doc(
        resource(
            "module.green.aws_ecs_service.this[0]",
            "aws_ecs_service",
            ["update"],
            before={"task_definition": "a", "desired_count": 1, "tags_all": {}},
            after={"task_definition": "b", "desired_count": 1, "tags_all": {"x": "y"}},
        ),
        resource(
            "module.green.aws_ecs_task_definition.this[0]", "aws_ecs_task_definition", ["create", "delete"]
        ),
    )
    result = review(plan, env="local", color="blue")
    assert result.dangers == []  # green is idle
    markdown = to_markdown(result)
    assert "<code>module.green</code>: 1 to replace, 1 to update" in markdown
    assert "(changes task_definition)" in markdown


def test_no_changes_says_so():
    markdown = to_markdown(review(plan_doc(), env="local", color="blue"))
    assert "No changes." in markdown
    assert result_dict_is_json_safe(review(plan_doc(), env="local", color="blue").to_dict())


def result_dict_is_json_safe(data: dict) -> bool:
    import json

    return json.loads(json.dumps(data)) == data


def stacks_change(before: dict | None, after: dict | None) -> dict:
    shape = lambda images: {  # noqa: E731
        color: {"image": image, "health_check_path": path} for color, (image, path) in images.items()
    }
    return {"before": shape(before) if before is not None else None, "after": shape(after or {})}


def task_definition(color: str, image_before: str, image_after: str) -> dict:
    defs = lambda image: json.dumps([{"name": "app", "image": image, "essential": True}])  # noqa: E731
    return resource(
        f"module.{color}.aws_ecs_task_definition.this[0]",
        "aws_ecs_task_definition",
        ["delete", "create"],
        before={"container_definitions": defs(image_before), "arn": "a1"},
        after={"container_definitions": defs(image_after)},
    )


def test_each_colour_s_image_and_health_path_come_first_with_live_or_idle():
    # GIVEN a plan that deploys a new image and health path to the idle colour (green)
    plan = plan_doc(task_definition("green", "nginx:1.27", "nginx:1.28"))
    plan["output_changes"]["stacks"] = stacks_change(
        {"blue": ("nginx:1.27", "/"), "green": ("nginx:1.27", "/")},
        {"blue": ("nginx:1.27", "/"), "green": ("nginx:1.28", "/health")},
    )
    # WHEN it is reviewed
    result = review(plan, env="local", color="blue")
    markdown = to_markdown(result)
    # THEN the versions table names both colours, their role after the plan, and what changes
    assert "| blue | LIVE | nginx:1.27 | / |" in markdown
    assert "| green | IDLE | nginx:1.27 → nginx:1.28 | / → /health |" in markdown
    assert markdown.index("What each colour runs") < markdown.index("#### Traffic")
    # ... the replaced task definition names the image, not "changes arn, container_definitions, ..."
    assert "image nginx:1.27 → nginx:1.28" in markdown
    assert "downgrade" not in markdown
    assert result.dangers == []  # green is idle


def test_a_version_going_backwards_on_the_live_colour_is_named_in_danger():
    # GIVEN a checkout whose image for the live colour (blue) is older than what runs
    plan = plan_doc(
        task_definition("blue", "public.ecr.aws/nginx/nginx:1.28", "public.ecr.aws/nginx/nginx:1.27")
    )
    plan["output_changes"]["stacks"] = stacks_change(
        {"blue": ("public.ecr.aws/nginx/nginx:1.28", "/")}, {"blue": ("public.ecr.aws/nginx/nginx:1.27", "/")}
    )
    result = review(plan, env="local", color="blue")
    markdown = to_markdown(result)
    # THEN the versions table warns, and DANGER names the image change behind the replacement
    assert "public.ecr.aws/nginx/nginx:1.28 → public.ecr.aws/nginx/nginx:1.27 ⚠ downgrade" in markdown
    assert "⚠ **blue** (LIVE) goes back from" in markdown
    [danger] = result.dangers
    assert (
        "serves live traffic now: image public.ecr.aws/nginx/nginx:1.28 → public.ecr.aws/nginx/nginx:1.27"
        in (danger.reason)
    )
    assert result.to_dict()["versions"][0]["downgrade"] is True


@pytest.mark.parametrize(
    ("before", "after", "downgrade"),
    [
        ("repo:1.28", "repo:1.27", True),
        ("repo:1.28.1", "repo:1.28", True),
        ("repo:v2.0.0", "repo:v1.9.9", True),
        ("repo:1.27", "repo:1.28", False),
        ("repo:1.28", "other:1.27", False),  # another repository: not comparable
        ("repo:latest", "repo:1.27", False),  # not a version: not comparable
        ("repo@sha256:abc", "repo:1.27", False),
        ("registry:5000/repo:2", "registry:5000/repo:1", True),  # a port is not a tag
        (None, "repo:1.0", False),
    ],
)
def test_what_counts_as_a_downgrade(before, after, downgrade):
    assert is_downgrade(before, after) is downgrade


def test_the_operation_count_is_what_terraform_apply_reports():
    # A replace is a destroy and a create (two apply_complete events); a no-op is none; a data source read at
    # apply time is one; creates, updates and destroys are one each.
    plan = plan_doc(
        resource(
            "module.blue.aws_ecs_task_definition.this[0]", "aws_ecs_task_definition", ["delete", "create"]
        ),
        resource("module.blue.aws_lb.this[0]", "aws_lb", ["update"]),
        resource("module.blue.aws_lb.that[0]", "aws_lb", ["no-op"]),
        {**resource("data.aws_caller_identity.x", "aws_caller_identity", ["read"]), "mode": "data"},
        record("green", 0, 10, ["update"]),
    )
    result = review(plan, env="local", color="blue")
    assert result.operations == 5
    assert result.to_dict()["operations"] == 5


def test_progress_never_counts_past_its_total():
    import io

    from scripts.release.tf import ApplyProgress

    out = io.StringIO()
    progress = ApplyProgress(total=2, out=out)
    for n in range(3):
        address = f"aws_lb.x{n}"
        progress({"type": "apply_start", "hook": {"resource": {"addr": address}, "action": "update"}})
        progress({"type": "apply_complete", "hook": {"resource": {"addr": address}, "action": "update"}})
    lines = out.getvalue().splitlines()
    assert "1/2 update" in lines[0] and "2/2 update" in lines[1]
    assert "3 update" in lines[2] and "3/" not in lines[2]
