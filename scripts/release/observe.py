"""What AWS itself answers, as opposed to what Terraform meant to set: Route 53 records and weights, ECS
services and deployments, target health, CloudWatch alarm states and request counts. The release, its
break-glass rollback, the contract gate and `make status` all decide on these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.session import Session

COLORS = ("blue", "green")


class ObserveError(RuntimeError):
    """AWS could not answer a question the caller cannot decide without; the message says which."""


# ------------------------------------------------------------------------------------------ Route 53


def _dotted(name: str) -> str:
    return name.rstrip(".") + "."


def hosted_zone_id(session: Session, live_fqdn: str, zone_id: str | None) -> str:
    """The hosted zone of the live records: by its ID (the ``hosted_zone_id`` output) whenever the state has
    one. A state written before that output existed falls back to the zone's name, asked exactly with
    ListHostedZonesByName (a private zone of the same name is skipped, and two public ones are refused)."""
    if zone_id:
        return zone_id.rsplit("/", 1)[-1]
    route53 = session.client("route53")
    labels = _dotted(live_fqdn).split(".")
    for start in range(1, len(labels) - 1):
        name = ".".join(labels[start:])
        found = route53.list_hosted_zones_by_name(DNSName=name, MaxItems="10")["HostedZones"]
        public = [z for z in found if z["Name"] == name and not z.get("Config", {}).get("PrivateZone")]
        if len(public) > 1:
            raise ObserveError(
                f"{len(public)} public hosted zones are named {name}: apply, so the state names its ID"
            )
        if public:
            return public[0]["Id"].rsplit("/", 1)[-1]
    raise ObserveError(f"no public hosted zone holds {live_fqdn}")


def weighted_records(session: Session, zone_id: str, live_fqdn: str) -> dict[str, dict[str, Any]]:
    """Each colour's weighted record set for the live name, exactly as Route 53 holds it (every page of the
    zone from the name on, so a zone with thousands of records is read correctly)."""
    live = _dotted(live_fqdn)
    pages = session.client("route53").get_paginator("list_resource_record_sets")
    records: dict[str, dict[str, Any]] = {}
    for page in pages.paginate(HostedZoneId=zone_id, StartRecordName=live, StartRecordType="A"):
        for record in page["ResourceRecordSets"]:
            if record["Name"] != live:
                return records
            if record["Type"] == "A" and "SetIdentifier" in record and "Weight" in record:
                records[record["SetIdentifier"]] = record
    return records


def route53_weights(session: Session, live_fqdn: str, zone_id: str | None = None) -> dict[str, int]:
    """The weight of each colour's record for the live name, as Route 53 holds it. A colour without a record
    is absent (never 0): the caller decides what a missing record means."""
    zone = hosted_zone_id(session, live_fqdn, zone_id)
    records = weighted_records(session, zone, live_fqdn)
    return dict(sorted((color, int(record["Weight"])) for color, record in records.items()))


# ------------------------------------------------------------------------------------------ ECS and ELB


def service(session: Session, stack: dict) -> dict | None:
    """The colour's ECS service as DescribeServices answers (None when it does not exist)."""
    if not stack.get("cluster_name") or not stack.get("service_name"):
        return None
    found = session.client("ecs").describe_services(
        cluster=stack["cluster_name"], services=[stack["service_name"]]
    )
    return next((s for s in found.get("services", []) if s.get("status") == "ACTIVE"), None)


def task_counts(session: Session, stacks: dict) -> dict[str, dict[str, int]]:
    """Running and desired tasks of each deployed colour's service."""
    counts: dict[str, dict[str, int]] = {}
    for color, stack in sorted(stacks.items()):
        found = service(session, stack)
        if found is not None:
            counts[color] = {"running": int(found["runningCount"]), "desired": int(found["desiredCount"])}
    return counts


def target_states(session: Session, target_group_arn: str) -> list[str]:
    """The health state of every target registered with the target group."""
    health = session.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)
    return [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]]


def alb_arn(session: Session, target_group_arn: str) -> str | None:
    """The load balancer in front of a colour's target group (its RequestCount is the colour's traffic)."""
    groups = session.client("elbv2").describe_target_groups(TargetGroupArns=[target_group_arn])[
        "TargetGroups"
    ]
    arns = [arn for group in groups for arn in group.get("LoadBalancerArns", [])]
    return arns[0] if arns else None


# ------------------------------------------------------------------------------------------ CloudWatch


def alarm_states(session: Session, names: Iterable[str]) -> dict[str, str]:
    """State (OK, ALARM, INSUFFICIENT_DATA) of each named alarm; a name CloudWatch does not know is
    MISSING, which the caller treats as a failure to watch, never as quiet."""
    return {
        name: alarm["StateValue"] if alarm else "MISSING" for name, alarm in alarms(session, names).items()
    }


def alarms(session: Session, names: Iterable[str]) -> dict[str, dict | None]:
    """Each named metric alarm as DescribeAlarms answers (None when CloudWatch does not know it)."""
    names = list(dict.fromkeys(names))
    cloudwatch = session.client("cloudwatch")
    found: dict[str, dict | None] = dict.fromkeys(names)
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        page = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm"])
        for alarm in page.get("MetricAlarms", []):
            found[alarm["AlarmName"]] = alarm
    return found


def alarm_window_seconds(alarm: dict) -> int:
    """How long an alarm looks back before it can change state: its period times its evaluation periods
    (a metric math alarm keeps its period on each metric)."""
    periods = [int(alarm["Period"])] if alarm.get("Period") else []
    periods += [int(m["MetricStat"]["Period"]) for m in alarm.get("Metrics") or [] if m.get("MetricStat")]
    return max(periods or [60]) * int(alarm.get("EvaluationPeriods") or 1)


def load_balancer_dimension(alb_arn: str) -> str:
    """The ``LoadBalancer`` dimension of an ALB's metrics: the part of its ARN after ``loadbalancer/``."""
    return alb_arn.split(":loadbalancer/", 1)[-1]


WHOLE_MINUTES_FROM = dt.timedelta(minutes=5)


def request_count(session: Session, alb_arn: str, start: dt.datetime, end: dt.datetime) -> int:
    """Requests the ALB counted between ``start`` and ``end`` (RequestCount, Sum, one-minute periods: the ALB
    publishes one datapoint per minute, about a minute late). A window of five minutes or more counts only
    the minutes that begin inside it, so traffic from before it (at the previous weights) is never credited
    to it; a shorter one (a local demo's bake) could count almost nothing that way, and takes the minute it
    began in whole."""
    start = start.astimezone(dt.UTC)
    end = end.astimezone(dt.UTC)
    floor = start.replace(second=0, microsecond=0)
    if end - start >= WHOLE_MINUTES_FROM:
        start = floor if floor == start else floor + dt.timedelta(minutes=1)
    else:
        start = floor
        end = max(end, start + dt.timedelta(minutes=1))
    answer = session.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/ApplicationELB",
        MetricName="RequestCount",
        Dimensions=[{"Name": "LoadBalancer", "Value": load_balancer_dimension(alb_arn)}],
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Sum"],
    )
    return int(sum(point["Sum"] for point in answer.get("Datapoints", [])))
