"""Turn ``terraform show -json <plan>`` into a review summary a platform engineer can read in a pull request.

Pure functions over the plan document: no terraform, no AWS. ``review(plan)`` returns a ``Review`` with what
each colour runs (image and health check path, before and after, LIVE or IDLE, and a downgrade warning when
a version goes backwards), the changes grouped by module, the traffic weights before and after, and the
DANGER findings; ``to_markdown`` renders it, versions first: they are what a reviewer must see;
``foreign_changes(plan)`` lists everything a traffic step's plan changes besides the weights.

DANGER means a destroy or a replace (delete-then-create or create-then-delete) of:
- the shared database or its credentials secret (data loss, or a migrator that cannot log in);
- any resource of the stack that serves live traffic *now* (before this plan);
- the live record of the colour that serves traffic now.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

COLORS = ("blue", "green")
PROTECTED_TYPES = {
    "aws_db_instance": "the shared database",
    "aws_rds_cluster": "the shared database",
    "aws_secretsmanager_secret": "the migrator's credentials secret",
}
ACTION_WORDS = {"create": "create", "update": "update", "replace": "replace", "delete": "destroy"}
WEIGHTED_RECORDS = tuple(f'module.traffic.aws_route53_record.this["{color}"]' for color in COLORS)


@dataclass(frozen=True)
class Change:
    address: str
    module: str
    type: str
    action: str  # create | update | replace | delete
    detail: str = ""


@dataclass(frozen=True)
class Danger:
    address: str
    action: str
    reason: str


@dataclass(frozen=True)
class Version:
    """What one colour runs, before and after the plan (None: not deployed, or disabled)."""

    color: str
    role: str  # LIVE | IDLE (after the plan)
    image_before: str | None
    image_after: str | None
    health_before: str | None
    health_after: str | None

    @property
    def downgrade(self) -> bool:
        return is_downgrade(self.image_before, self.image_after)

    @property
    def changes(self) -> bool:
        return (self.image_before, self.health_before) != (self.image_after, self.health_after)


@dataclass
class Review:
    env: str
    color: str
    live_before: str | None
    changes: list[Change] = field(default_factory=list)
    weights_before: dict[str, int] = field(default_factory=dict)
    weights_after: dict[str, int] = field(default_factory=dict)
    dangers: list[Danger] = field(default_factory=list)
    live_hostname: str | None = None
    versions: list[Version] = field(default_factory=list)
    # What `terraform apply` will report as done, one per operation: a replace is two (its destroy and its
    # create), and a data source read at apply time is one. The progress counter's total.
    operations: int = 0

    @property
    def counts(self) -> Counter:
        return Counter(change.action for change in self.changes)

    @property
    def traffic_changes(self) -> bool:
        return self.weights_before != self.weights_after

    def to_dict(self) -> dict:
        return {
            "env": self.env,
            "color": self.color,
            "live_before": self.live_before,
            "operations": self.operations,
            "counts": {ACTION_WORDS[k]: v for k, v in sorted(self.counts.items())},
            "weights_before": self.weights_before,
            "weights_after": self.weights_after,
            "dangers": [d.__dict__ for d in self.dangers],
            "changes": [c.__dict__ for c in self.changes],
            "versions": [{**v.__dict__, "downgrade": v.downgrade} for v in self.versions],
        }


def _version_key(image: str) -> tuple[str, tuple[int, ...]] | None:
    """``repo:1.28.2`` -> (repo, (1, 28, 2)); None when the tag is not a dotted version (latest, a digest)."""
    if "@" in image:
        return None
    repo, _, tag = image.rpartition(":")
    if not repo or "/" in tag:
        return None
    numbers = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:[-+].*)?", tag)
    return (repo, tuple(int(n) for n in numbers[1].split("."))) if numbers else None


def is_downgrade(before: str | None, after: str | None) -> bool:
    """Whether an image change goes back to a lower version of the same repository."""
    old, new = _version_key(before or ""), _version_key(after or "")
    return bool(old and new and old[0] == new[0] and new[1] < old[1])


def _image_change(before: str | None, after: str | None) -> str:
    if before == after:
        return before or "—"
    warning = " ⚠ downgrade" if is_downgrade(before, after) else ""
    return f"{before or '—'} → {after or '—'}{warning}"


def _stacks(plan: dict, phase: str) -> dict[str, dict]:
    value = (plan.get("output_changes", {}).get("stacks") or {}).get(phase)
    return value if isinstance(value, dict) else {}


def _versions(plan: dict, live_after: str | None) -> list[Version]:
    before, after = _stacks(plan, "before"), _stacks(plan, "after")
    versions = []
    for color in COLORS:
        old, new = before.get(color) or {}, after.get(color) or {}
        if not old and not new:
            continue
        versions.append(
            Version(
                color=color,
                role="LIVE" if color == live_after else "IDLE",
                image_before=old.get("image"),
                image_after=new.get("image"),
                health_before=old.get("health_check_path"),
                health_after=new.get("health_check_path"),
            )
        )
    return versions


def _container_images(definitions: object) -> dict[str, str]:
    try:
        parsed = json.loads(definitions) if isinstance(definitions, str) else definitions
        return {c.get("name", "?"): c.get("image", "?") for c in parsed or []}
    except (ValueError, TypeError, AttributeError):
        return {}


def _task_definition_detail(resource: dict) -> str:
    """A task definition's image change, which is what a replaced task definition usually means."""
    before = _container_images((resource["change"].get("before") or {}).get("container_definitions"))
    after = _container_images((resource["change"].get("after") or {}).get("container_definitions"))
    changed = [
        f"image {_image_change(before.get(name), after.get(name))}"
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
    return "; ".join(changed)


def _action(actions: list[str]) -> str | None:
    if actions in (["no-op"], ["read"]):
        return None
    if "delete" in actions and "create" in actions:
        return "replace"
    return actions[0]


def _module_of(resource: dict) -> str:
    return resource.get("module_address") or "(root)"


def _stack_color(module: str) -> str | None:
    """``module.blue`` / ``module.blue.module.x`` → ``blue``."""
    for color in COLORS:
        if module == f"module.{color}" or module.startswith(f"module.{color}."):
            return color
    return None


def _weight(values: dict | None) -> int | None:
    if not values:
        return None
    policy = values.get("weighted_routing_policy") or []
    return policy[0].get("weight") if policy else None


def _weights_from_output(plan: dict, phase: str) -> dict[str, int] | None:
    change = plan.get("output_changes", {}).get("traffic_weights")
    value = change.get(phase) if change else None
    if isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
        return {color: int(weight) for color, weight in sorted(value.items())}
    return None


def _record_detail(resource: dict) -> str:
    before, after = _weight(resource["change"].get("before")), _weight(resource["change"].get("after"))
    if before is None and after is None:
        return ""
    fmt = lambda w: "—" if w is None else str(w)  # noqa: E731
    return f"weight {fmt(before)} → {fmt(after)}"


def _changed_attributes(resource: dict, limit: int = 4) -> str:
    before = resource["change"].get("before") or {}
    after = resource["change"].get("after") or {}
    unknown = resource["change"].get("after_unknown") or {}
    names = sorted(
        k for k in set(before) | set(after) if before.get(k) != after.get(k) or unknown.get(k) is True
    )
    names = [n for n in names if n not in ("tags_all",)]
    if not names:
        return ""
    more = f", +{len(names) - limit} more" if len(names) > limit else ""
    return "changes " + ", ".join(names[:limit]) + more


def review(plan: dict, *, env: str, color: str) -> Review:
    """Summarise a plan document (the JSON of ``terraform show -json``)."""
    # output_changes, not prior_state: on a first plan, prior_state already holds the planned outputs.
    outputs = plan.get("output_changes", {})
    live_before = (outputs.get("live_color") or {}).get("before")
    hostnames = outputs.get("hostnames") or {}
    live_hostname = ((hostnames.get("after") or {}) or (hostnames.get("before") or {})).get("live")
    result = Review(env=env, color=color, live_before=live_before, live_hostname=live_hostname)

    before_weights: dict[str, int] = {}
    after_weights: dict[str, int] = {}
    for resource in plan.get("resource_changes", []):
        actions = resource["change"]["actions"]
        result.operations += 0 if actions == ["no-op"] else 2 if {"create", "delete"} <= set(actions) else 1
        if resource.get("mode") != "managed":
            continue
        module = _module_of(resource)
        is_live_record = resource["type"] == "aws_route53_record" and module.startswith("module.traffic")
        if is_live_record and resource.get("index") in COLORS:
            colour = resource["index"]
            if (w := _weight(resource["change"].get("before"))) is not None:
                before_weights[colour] = w
            if (w := _weight(resource["change"].get("after"))) is not None:
                after_weights[colour] = w
        action = _action(resource["change"]["actions"])
        if action is None:
            continue
        detail = _record_detail(resource) if is_live_record else ""
        if resource["type"] == "aws_ecs_task_definition":
            detail = _task_definition_detail(resource)
        if action in ("update", "replace") and not detail:
            detail = _changed_attributes(resource)
        result.changes.append(Change(resource["address"], module, resource["type"], action, detail))
        if action not in ("delete", "replace"):
            continue
        verb = ACTION_WORDS[action]
        if resource["type"] in PROTECTED_TYPES:
            result.dangers.append(
                Danger(resource["address"], verb, f"{verb}s {PROTECTED_TYPES[resource['type']]}")
            )
        elif live_before and _stack_color(module) == live_before:
            what = f": {detail}" if resource["type"] == "aws_ecs_task_definition" and detail else ""
            result.dangers.append(
                Danger(
                    resource["address"],
                    verb,
                    f"{verb}s part of the {live_before} stack, which serves live traffic now{what}",
                )
            )
        elif is_live_record and resource.get("index") == live_before:
            result.dangers.append(
                Danger(
                    resource["address"],
                    verb,
                    f"{verb}s the live record of {live_before}, which serves traffic now",
                )
            )

    live_after = (outputs.get("live_color") or {}).get("after") or color
    result.versions = _versions(plan, live_after)
    result.weights_before = _weights_from_output(plan, "before") or dict(sorted(before_weights.items()))
    result.weights_after = _weights_from_output(plan, "after") or dict(sorted(after_weights.items()))
    return result


def to_markdown(result: Review) -> str:
    """The review as Markdown for a pull-request comment."""
    lines = [f"### Terraform plan: `{result.env}`, live colour **{result.color}**", ""]
    if result.live_before is None:
        lines.append("Nothing is deployed yet: this plan creates the first release.")
    elif result.live_before != result.color:
        lines.append(f"**Switch:** live traffic moves from **{result.live_before}** to **{result.color}**.")
    else:
        lines.append(f"Live colour stays **{result.color}**.")
    if result.versions:
        lines += ["", "#### What each colour runs", "", "| colour | after this plan | image | health check |"]
        lines.append("|---|---|---|---|")
        for v in result.versions:
            health = (
                v.health_after
                if v.health_before == v.health_after
                else (f"{v.health_before or '—'} → {v.health_after or '—'}")
            )
            lines.append(
                f"| {v.color} | {v.role} | {_image_change(v.image_before, v.image_after)} | {health or '—'} |"
            )
        downgraded = [v for v in result.versions if v.downgrade]
        for v in downgraded:
            lines.append("")
            lines.append(
                f"⚠ **{v.color}** ({v.role}) goes back from `{v.image_before}` to `{v.image_after}`: "
                "check that this checkout is the one you mean to deploy."
            )
    counts = result.counts
    lines += [
        "",
        "| create | update | replace | destroy |",
        "|---:|---:|---:|---:|",
        "| " + " | ".join(str(counts.get(a, 0)) for a in ("create", "update", "replace", "delete")) + " |",
        "",
    ]

    lines.append(f"#### Traffic{f' (`{result.live_hostname}`)' if result.live_hostname else ''}")
    colours = sorted(set(result.weights_before) | set(result.weights_after))
    if colours:
        lines += ["", "| colour | before | after |", "|---|---:|---:|"]
        for colour in colours:
            before, after = result.weights_before.get(colour), result.weights_after.get(colour)
            mark = " ◀ changes" if before != after else ""
            lines.append(
                f"| {colour} | {'—' if before is None else before} | "
                f"{'—' if after is None else after}{mark} |"
            )
    else:
        lines.append("No live records in this plan.")
    lines.append("")

    if result.dangers:
        lines += [
            "#### ⚠️ DANGER",
            "",
            "This plan destroys or replaces something that holds data or serves live traffic. "
            "`make apply` refuses it unless `ALLOW_DESTROY=1`.",
            "",
        ]
        lines += [f"- **{d.action}** `{d.address}`: {d.reason}" for d in result.dangers]
    else:
        lines.append("No DANGER: nothing that holds data or serves live traffic is destroyed or replaced.")
    lines.append("")

    if not result.changes:
        lines.append("No changes. The infrastructure matches the configuration.")
        return "\n".join(lines) + "\n"
    lines += ["#### Changes by module", ""]
    by_module: dict[str, list[Change]] = defaultdict(list)
    for change in result.changes:
        by_module[change.module].append(change)
    symbol = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
    for module in sorted(by_module):
        group = by_module[module]
        tally = Counter(c.action for c in group)
        summary = ", ".join(f"{n} to {ACTION_WORDS[a]}" for a, n in sorted(tally.items()))
        lines.append(f"<details><summary><code>{module}</code>: {summary}</summary>")
        lines.append("")
        for change in sorted(group, key=lambda c: c.address):
            detail = f" ({change.detail})" if change.detail else ""
            lines.append(f"- `{symbol[change.action]}` `{change.address}`{detail}")
        lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- traffic-only plans


def _traffic_neutral(values: dict) -> dict:
    """A weighted record's values without what a traffic step may change: its weight, and whether its alias
    evaluates target health (the traffic module evaluates health only while no colour has weight 0)."""
    values = dict(values)
    values["alias"] = [
        {k: v for k, v in alias.items() if k != "evaluate_target_health"}
        for alias in values.get("alias") or []
    ]
    return values


def foreign_changes(plan: dict) -> list[str]:
    """Every change in a plan besides a weight update of the two weighted records."""
    foreign: list[str] = []
    for resource in plan.get("resource_changes", []):
        actions = resource["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        address = resource["address"]
        if address in WEIGHTED_RECORDS and actions == ["update"]:
            before = _traffic_neutral(resource["change"].get("before") or {})
            after = _traffic_neutral(resource["change"].get("after") or {})
            unknown = resource["change"].get("after_unknown") or {}
            changed = sorted(
                key
                for key in set(before) | set(after)
                if key != "weighted_routing_policy"
                and (before.get(key) != after.get(key) or unknown.get(key))
            )
            if not changed:
                continue
            foreign.append(f"{address} (changes {', '.join(changed)})")
        else:
            foreign.append(f"{address} ({'/'.join(actions)})")
    return foreign
