"""What AWS itself answers, as opposed to what Terraform meant to set: Route 53 weights, ECS task counts and
CloudWatch alarm states. The release, the contract gate and `make status` all decide on these."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from boto3.session import Session

COLORS = ("blue", "green")


def route53_weights(session: Session, live_fqdn: str) -> dict[str, int]:
    """The weight of each colour's record for the live name, as Route 53 holds it."""
    live = live_fqdn.rstrip(".") + "."
    route53 = session.client("route53")
    weights: dict[str, int] = {}
    for zone in route53.list_hosted_zones()["HostedZones"]:
        if not (live == zone["Name"] or live.endswith("." + zone["Name"])):
            continue
        pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"])
        for page in pages:
            for record in page["ResourceRecordSets"]:
                if record["Name"] == live and "SetIdentifier" in record:
                    weights[record["SetIdentifier"]] = int(record["Weight"])
    return dict(sorted(weights.items()))


def task_counts(session: Session, stacks: dict) -> dict[str, dict[str, int]]:
    """Running and desired tasks of each deployed colour's service."""
    ecs = session.client("ecs")
    counts: dict[str, dict[str, int]] = {}
    for color, stack in sorted(stacks.items()):
        if not stack.get("cluster_name") or not stack.get("service_name"):
            continue
        found = ecs.describe_services(cluster=stack["cluster_name"], services=[stack["service_name"]])
        for service in found.get("services", []):
            counts[color] = {"running": int(service["runningCount"]), "desired": int(service["desiredCount"])}
    return counts


def alarm_states(session: Session, names: Iterable[str]) -> dict[str, str]:
    """State (OK, ALARM, INSUFFICIENT_DATA) of each named alarm; a name CloudWatch does not know is
    MISSING, which the caller treats as a failure to watch, never as quiet."""
    names = list(dict.fromkeys(names))
    cloudwatch = session.client("cloudwatch")
    states = dict.fromkeys(names, "MISSING")
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        found = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm"])
        for alarm in found.get("MetricAlarms", []):
            states[alarm["AlarmName"]] = alarm["StateValue"]
    return states
