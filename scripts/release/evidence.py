"""What the database and the load balancer say about a colour, besides Route 53 and ECS.

* **Database** (through the migrator's ``capture`` action): how many sessions the colour's own role has open,
  and when the statement inventory last saw it run a statement. The contract gate wants no session, and no
  statement since the colour's weight reached 0 (from the journal) or, failing that, in the quiet window.
* **Load balancer** (CloudWatch, ``AWS/ApplicationELB``): requests and active connections on the colour's
  ALB over the last ``CONTRACT_QUIET_MINUTES``. A DNS switch does not move long-lived connections
  (websockets, HTTP keep-alive): a colour with no weight can still be serving them.
* **Password rotation**: a colour's tasks read their password when they start, so a release refuses to send
  traffic to tasks that started before their role's current secret version was written, or to a role whose
  password in the database is not that version yet (``make migrate`` sets it).

:func:`mark_zero` brings the inventory up to date the moment a colour's weight reaches 0, so statements that
ran before the switch are not mistaken for statements after it.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.session import Session

DEFAULT_QUIET_MINUTES = {"local": 1}
DEFAULT_QUIET_MINUTES_AWS = 15

Invoke = Callable[[str, dict], dict]


def quiet_minutes(env: str) -> int:
    """``CONTRACT_QUIET_MINUTES``: how long the old colour must have been quiet (15 on AWS, 1 locally)."""
    raw = (os.environ.get("KIT_CONTRACT_QUIET_MINUTES") or "").strip()
    if not raw:
        return DEFAULT_QUIET_MINUTES.get(env, DEFAULT_QUIET_MINUTES_AWS)
    if not raw.isdigit() or not 1 <= int(raw) <= 1440:
        from scripts.release.environment import ReleaseError

        raise ReleaseError(f"CONTRACT_QUIET_MINUTES must be whole minutes from 1 to 1440 (got {raw!r})")
    return int(raw)


def _parse(moment: str | None) -> dt.datetime | None:
    if not moment:
        return None
    return dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))


def zero_since(events: list[dict], color: str) -> str | None:
    """When ``color``'s weight last reached 0 and stayed there, by the journal (None: it never did, as far
    as the journal knows)."""
    since: str | None = None
    for event in events:
        after = event.get("weights_after")
        if not isinstance(after, dict) or color not in after:
            continue
        since = (since or event.get("at")) if after[color] == 0 else None
    return since


@dataclass(frozen=True)
class DatabaseEvidence:
    role: str | None
    sessions: int
    last_statement: str | None
    zero_since: str | None
    quiet_minutes: int
    error: str | None = None

    @property
    def quiet(self) -> bool:
        if self.error or self.sessions:
            return False
        last = _parse(self.last_statement)
        if last is None:
            return True
        zero = _parse(self.zero_since)
        if zero is not None and last <= zero:
            return True
        return last < dt.datetime.now(dt.UTC) - dt.timedelta(minutes=self.quiet_minutes)

    def describe(self, color: str) -> str:
        if self.error:
            return f"the database cannot say whether {color} is gone ({self.error})"
        parts = [f"its role {self.role} has {self.sessions} open session(s)"]
        if self.last_statement:
            since = f" (its weight reached 0 at {self.zero_since})" if self.zero_since else ""
            parts.append(f"last ran a statement at {self.last_statement}{since}")
        else:
            parts.append("has run no statement the inventory knows of")
        return ", ".join(parts)


def database(invoke: Invoke, function: str, color: str, events: list[dict], minutes: int) -> DatabaseEvidence:
    """What the migrator's capture says about ``color``'s role."""
    since = zero_since(events, color)
    try:
        result = invoke(function, {"action": "capture"})
    except Exception as exc:  # the migrator could not be reached: no evidence, which is not a pass
        return DatabaseEvidence(None, 0, None, since, minutes, error=str(exc)[:300])
    info = (result.get("colors") or {}).get(color)
    if info is None:
        error = (result.get("error") or {}).get("message") or "the capture reported nothing"
        return DatabaseEvidence(None, 0, None, since, minutes, error=error)
    error = None if result.get("ok") else (result.get("error") or {}).get("message")
    return DatabaseEvidence(info["role"], int(info["sessions"]), info["last_seen"], since, minutes, error)


@dataclass(frozen=True)
class LoadBalancerEvidence:
    alb: str | None
    requests: float
    connections: float
    minutes: int
    error: str | None = None

    @property
    def quiet(self) -> bool:
        return self.error is None and self.requests == 0 and self.connections == 0

    def describe(self, color: str) -> str:
        if self.alb is None:
            return f"{color} has no load balancer"
        if self.error:
            return f"CloudWatch cannot say whether {color}'s load balancer is quiet ({self.error})"
        return (
            f"its load balancer served {self.requests:.0f} request(s) and {self.connections:.0f} active "
            f"connection(s) in the last {self.minutes} minute(s)"
        )


def load_balancer(session: Session, alb_arn_suffix: str | None, minutes: int) -> LoadBalancerEvidence:
    """Requests and active connections on an ALB over the last ``minutes`` (CloudWatch publishes neither
    when it is zero, so no datapoint counts as zero)."""
    if not alb_arn_suffix:
        return LoadBalancerEvidence(None, 0, 0, minutes)
    now = dt.datetime.now(dt.UTC)
    queries = [
        {
            "Id": key,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "LoadBalancer", "Value": alb_arn_suffix}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for key, metric in (("requests", "RequestCount"), ("connections", "ActiveConnectionCount"))
    ]
    try:
        found = session.client("cloudwatch").get_metric_data(
            MetricDataQueries=queries, StartTime=now - dt.timedelta(minutes=minutes), EndTime=now
        )
    except Exception as exc:
        return LoadBalancerEvidence(alb_arn_suffix, 0, 0, minutes, error=str(exc)[:300])
    totals = {result["Id"]: sum(result.get("Values") or []) for result in found.get("MetricDataResults", [])}
    return LoadBalancerEvidence(
        alb_arn_suffix, totals.get("requests", 0), totals.get("connections", 0), minutes
    )


# ------------------------------------------------------------------------------------------- rotation


def rotation_problems(session: Session, outputs: dict, color: str, capture: dict) -> list[str]:
    """Why ``color`` must not take traffic after a rotation of its password: its role's password in the
    database is not its secret's current version yet, or its tasks started before that version was written
    (ECS reads a secret only when a task starts). [] when neither, or when it shares the old single role."""
    stack = (outputs.get("stacks") or {}).get(color) or {}
    arn = (outputs.get("database_app_secret_arns") or {}).get(color)
    if not arn or stack.get("database_role") == "shared":
        return []
    secrets = session.client("secretsmanager")
    stages = secrets.describe_secret(SecretId=arn).get("VersionIdsToStages") or {}
    current = next((version for version, labels in stages.items() if "AWSCURRENT" in labels), None)
    if current is None:
        return [f"{color}'s secret has no current version"]
    created, token = None, None
    while True:  # not pageable in every boto3: follow NextToken by hand
        page = secrets.list_secret_version_ids(SecretId=arn, **({"NextToken": token} if token else {}))
        created = next(
            (v.get("CreatedDate") for v in page.get("Versions", []) if v["VersionId"] == current), created
        )
        token = page.get("NextToken")
        if not token:
            break
    role = ((capture.get("roles") or {}).get(color)) or {}
    name = role.get("role") or f"{color}'s role"
    problems: list[str] = []
    if role.get("secret_version") != current:
        problems.append(
            f"{name}'s password in the database is not its secret's current version (written "
            f"{created.isoformat() if created else 'recently'}): run `make migrate` to set it"
        )
    if created is not None and stack.get("cluster_name") and stack.get("service_name"):
        ecs = session.client("ecs")
        arns = ecs.list_tasks(
            cluster=stack["cluster_name"], serviceName=stack["service_name"], desiredStatus="RUNNING"
        ).get("taskArns", [])
        tasks = ecs.describe_tasks(cluster=stack["cluster_name"], tasks=arns).get("tasks", []) if arns else []
        stale = [t for t in tasks if t.get("startedAt") and t["startedAt"] < created]
        if stale:
            problems.append(
                f"{len(stale)} of {color}'s task(s) started before {name}'s password was rotated at "
                f"{created.isoformat()}: they hold the old one and cannot open new connections. Start them "
                f"again (a plan and apply of {color}.database_password_version does, or `aws ecs "
                "update-service --force-new-deployment`), then release"
            )
    return problems


def rotation_check(session: Session, outputs: dict, target: str) -> list[str]:
    """:func:`rotation_problems` for ``target``, asking the deployed migrator what it set (printed)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from scripts.release.invoke import InvokeError, invoke

    function = outputs.get("migrator_function_name")
    if not function or not (outputs.get("database_app_secret_arns") or {}).get(target):
        return []
    try:
        problems = rotation_problems(session, outputs, target, invoke(function, {"action": "capture"}))
    except (InvokeError, BotoCoreError, ClientError) as exc:
        return [f"could not tell whether its tasks hold its role's current password ({exc})"]
    shown = "; ".join(problems) or "current password, tasks up to date"
    print(f"    {target}'s database role: {shown}", file=sys.stderr, flush=True)
    return problems


def mark_zero(outputs: dict, weights_before: dict, weights_after: dict, applied: bool = True) -> None:
    """When a colour's weight has just reached 0, capture the inventory before the journal records when: the
    contract gate later asks whether that colour ran anything after it (best effort, never stops a step)."""
    dropped = [c for c, w in weights_after.items() if w == 0 and (weights_before.get(c) or 0) > 0]
    function = outputs.get("migrator_function_name")
    if not (applied and dropped and function):
        return
    from scripts.release.invoke import invoke

    try:
        invoke(function, {"action": "capture"})
    except Exception as exc:
        print(f"    warning: could not capture the statement inventory ({exc})", file=sys.stderr, flush=True)


def overridden(result: dict) -> dict[str, Any]:
    """What the journal records of a migrate that ALLOW_INCOMPATIBLE let through: that, and what broke."""
    compatibility = result.get("compatibility") or {}
    if compatibility.get("allowed") != "allow_incompatible":
        return {}
    return {"allow_incompatible": True, "incompatible": compatibility.get("broken", [])[:20]}


def describe_compatibility(result: dict) -> str:
    """One line on a migrate's compatibility check."""
    compatibility = result.get("compatibility") or {}
    allowed = " (let through: ALLOW_INCOMPATIBLE=1)" if compatibility.get("allowed") else ""
    return (
        f"compatibility: {compatibility.get('checked', 0)} statement(s) of "
        f"{' and '.join(compatibility.get('serving') or ['blue', 'green'])} checked, "
        f"{len(compatibility.get('broken') or [])} broken, {compatibility.get('inconclusive', 0)} "
        f"inconclusive{allowed}"
    )


def summary_for_status(capture: dict) -> dict[str, Any]:
    """Per colour: its role, sessions and when it last ran a statement (what `make status` shows)."""
    return {
        color: {
            "role": info.get("role"),
            "sessions": info.get("sessions"),
            "last_statement": info.get("last_seen"),
            "statements": info.get("statements"),
        }
        for color, info in (capture.get("colors") or {}).items()
    }
