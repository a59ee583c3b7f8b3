"""How many requests a bake saw: CloudWatch's RequestCount, one datapoint per minute (moto in-process)."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws

from scripts.release import observe

ALB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/green/abc123"


@pytest.fixture
def session():
    with mock_aws():
        yield boto3.Session(region_name="eu-west-1")


def _publish(session, at: dt.datetime, count: int) -> None:
    session.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "RequestCount",
                "Dimensions": [{"Name": "LoadBalancer", "Value": observe.load_balancer_dimension(ALB)}],
                "Timestamp": at,
                "Value": count,
                "Unit": "Count",
            }
        ],
    )


def test_a_long_bake_counts_only_the_minutes_that_begin_inside_it(session):
    minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    _publish(session, minute, 5000)  # the minute the bake began in: mostly traffic at the previous weights
    for n in (1, 2, 3, 4, 5):
        _publish(session, minute + dt.timedelta(minutes=n), 100)
    began = minute + dt.timedelta(seconds=40)
    assert observe.request_count(session, ALB, began, minute + dt.timedelta(minutes=6)) == 500


def test_a_bake_shorter_than_five_minutes_takes_the_minute_it_began_in_whole(session):
    minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    _publish(session, minute, 5000)
    began = minute + dt.timedelta(seconds=40)
    assert observe.request_count(session, ALB, began, began + dt.timedelta(seconds=3)) == 5000
