"""The plan review summary: grouping, traffic weights, and what counts as DANGER."""

from __future__ import annotations

from scripts.release.plan_review import review, to_markdown


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
