"""The evidence the release and the contract gate add (scripts/release/evidence.py): the database (through
the migrator's capture), the load balancer (CloudWatch on moto) and a password rotation (Secrets Manager on
moto; ECS task start times through botocore's Stubber, because moto runs no tasks)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import boto3
from botocore.stub import Stubber

from scripts.release import evidence


def _now() -> dt.datetime:
    # Taken when a test runs, not when the module is collected: the evidence compares with the clock.
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def test_the_journal_says_when_a_colours_weight_last_reached_zero():
    events = [
        {"at": "2026-12-01T10:00:00Z", "kind": "step", "weights_after": {"blue": 90, "green": 10}},
        {"at": "2026-12-01T10:05:00Z", "kind": "step", "weights_after": {"blue": 0, "green": 100}},
        {"at": "2026-12-01T10:06:00Z", "kind": "migration"},
        {"at": "2026-12-01T10:07:00Z", "kind": "release", "weights_after": {"blue": 0, "green": 100}},
    ]
    assert evidence.zero_since(events, "blue") == "2026-12-01T10:05:00Z"
    assert evidence.zero_since(events, "green") is None
    # A rollback gave it traffic again: it has not been at 0 since
    events.append(
        {"at": "2026-12-01T11:00:00Z", "kind": "rollback", "weights_after": {"blue": 100, "green": 0}}
    )
    assert evidence.zero_since(events, "blue") is None


def _capture(sessions: int, last_seen: dt.datetime | None) -> dict:
    return {
        "ok": True,
        "colors": {
            "blue": {"role": "app_blue", "sessions": sessions, "last_seen": last_seen and _iso(last_seen)},
        },
    }


def _database(capture: dict, zero: dt.datetime | None, minutes: int = 15):
    events = [{"at": _iso(zero), "weights_after": {"blue": 0}}] if zero else []
    return evidence.database(lambda function, event: capture, "fn", "blue", events, minutes)


def test_the_database_says_the_old_colour_is_gone_only_without_sessions_and_new_statements():
    now = _now()
    zero = now - dt.timedelta(minutes=5)
    # Quiet: no session, last statement before its weight reached 0
    assert _database(_capture(0, zero - dt.timedelta(minutes=1)), zero).quiet is True
    # A session of its role is still open (a pool, a long transaction)
    open_session = _database(_capture(1, zero - dt.timedelta(minutes=1)), zero)
    assert open_session.quiet is False and "1 open session(s)" in open_session.describe("blue")
    # It ran a statement after its weight reached 0, a minute ago (DNS caches, keep-alive)
    straggler = _database(_capture(0, now - dt.timedelta(minutes=1)), zero)
    assert straggler.quiet is False and "after" not in straggler.describe("blue")
    assert "its weight reached 0 at" in straggler.describe("blue")
    # ... but once it has been quiet for the window, the stragglers are over
    assert _database(_capture(0, now - dt.timedelta(minutes=1)), zero, minutes=1 / 60).quiet is True
    # Without a journal entry, the window alone decides
    assert _database(_capture(0, now - dt.timedelta(minutes=30)), None).quiet is True
    assert _database(_capture(0, now - dt.timedelta(minutes=2)), None).quiet is False
    # No evidence is not a pass
    failed = evidence.database(lambda f, e: {"ok": False, "error": {"message": "boom"}}, "fn", "blue", [], 15)
    assert failed.quiet is False and "boom" in failed.describe("blue")


def test_the_load_balancer_says_whether_it_still_serves(aws_env):
    now = _now()
    session = boto3.session.Session(region_name="us-east-1")
    busy, idle = f"app/busy-{uuid.uuid4().hex[:6]}/1", f"app/idle-{uuid.uuid4().hex[:6]}/2"
    session.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "LoadBalancer", "Value": busy}],
                "Timestamp": now - dt.timedelta(minutes=1),
                "Value": value,
            }
            for name, value in (("RequestCount", 12), ("ActiveConnectionCount", 3))
        ],
    )
    serving = evidence.load_balancer(session, busy, 10)
    assert serving.quiet is False and (serving.requests, serving.connections) == (12, 3)
    assert "12 request(s) and 3 active connection(s) in the last 10 minute(s)" in serving.describe("blue")
    assert evidence.load_balancer(session, idle, 10).quiet is True
    assert evidence.load_balancer(session, None, 10).quiet is True  # no load balancer: nothing to drain


def _secret(session) -> tuple[str, str, str]:
    client = session.client("secretsmanager")
    arn = client.create_secret(Name=f"rotation/{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"v": 1}))[
        "ARN"
    ]
    first = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    old = next(v for v, stages in first.items() if "AWSCURRENT" in stages)
    new = client.put_secret_value(SecretId=arn, SecretString=json.dumps({"v": 2}))["VersionId"]
    return arn, old, new


def test_a_release_refuses_a_colour_whose_password_was_rotated_but_not_set_or_whose_tasks_are_older(aws_env):
    session = boto3.session.Session(region_name="us-east-1")
    arn, old, new = _secret(session)
    outputs = {
        "database_app_secret_arns": {"green": arn},
        "stacks": {"green": {"cluster_name": "c", "service_name": "s", "database_role": "own"}},
    }
    # moto runs no tasks: their start times come from a stub of exactly the two ECS calls
    ecs = session.client("ecs", region_name="us-east-1")
    real_client = session.client

    def client(name, *args, **kwargs):
        return ecs if name == "ecs" else real_client(name, *args, **kwargs)

    session.client = client  # type: ignore[method-assign]
    created = next(
        v["CreatedDate"]
        for v in session.client("secretsmanager").list_secret_version_ids(SecretId=arn)["Versions"]
        if v["VersionId"] == new
    )

    def tasks(started: dt.datetime) -> Stubber:
        stub = Stubber(ecs)
        stub.add_response(
            "list_tasks",
            {"taskArns": ["arn:task/1"]},
            {"cluster": "c", "serviceName": "s", "desiredStatus": "RUNNING"},
        )
        stub.add_response("describe_tasks", {"tasks": [{"taskArn": "arn:task/1", "startedAt": started}]})
        return stub

    # GIVEN green's secret rotated, WHEN migrate has not set the new password yet
    with tasks(created + dt.timedelta(seconds=5)):
        problems = evidence.rotation_problems(
            session, outputs, "green", {"roles": {"green": {"role": "app_green", "secret_version": old}}}
        )
    assert len(problems) == 1 and "run `make migrate`" in problems[0]
    # WHEN migrate set it but the tasks started before the rotation
    with tasks(created - dt.timedelta(minutes=10)):
        problems = evidence.rotation_problems(
            session, outputs, "green", {"roles": {"green": {"role": "app_green", "secret_version": new}}}
        )
    assert (
        len(problems) == 1
        and "1 of green's task(s) started before app_green's password was rotated" in problems[0]
    )
    # WHEN both are done, THEN green may take traffic
    with tasks(created + dt.timedelta(seconds=5)):
        assert (
            evidence.rotation_problems(
                session, outputs, "green", {"roles": {"green": {"role": "app_green", "secret_version": new}}}
            )
            == []
        )
    # A colour still on the shared role of the single-role layout is not its own role's business
    shared = {**outputs, "stacks": {"green": {"database_role": "shared"}}}
    assert evidence.rotation_problems(session, shared, "green", {}) == []


def test_the_contract_gate_reads_sessions_and_recent_statements_from_a_real_database(local_default):
    """The database evidence end to end, without AWS: the migrator's capture (through its handler) on a
    database as RDS runs it, blue's role logging in and running statements."""
    import psycopg
    from migrator import runner
    from migrator.handler import handle
    from migrator.runner.manifest import Manifest, Migration
    from psycopg import sql

    from tests.integration.colour_support import rds_like_database

    with rds_like_database(local_default.admin_url, local_default.pg_port) as db:
        runner.migrate(db.migrator_url, manifest=Manifest((Migration("0001", "t", "CREATE TABLE t (id int)",
                       None),)), settings=db.settings)  # fmt: skip
        with db.admin() as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD 'blue-password-1'").format(
                    sql.Identifier(db.role("blue"))
                )
            )
        env = {
            "DATABASE_URL": db.migrator_url,
            "MIGRATOR_APP_GROUP": db.group,
            "MIGRATOR_COLOR_ROLES": f"blue={db.role('blue')},green={db.role('green')}",
        }

        def invoke(function: str, event: dict) -> dict:
            return handle(event, environ=env)

        now = _now()
        blue_url = f"postgresql://{db.role('blue')}:blue-password-1@127.0.0.1:{db.port}/{db.database}"
        zero = [{"at": _iso(now - dt.timedelta(minutes=5)), "weights_after": {"blue": 0, "green": 100}}]
        # GIVEN blue's weight reached 0 five minutes ago, WHEN blue still has a session open
        with psycopg.connect(blue_url, autocommit=True) as blue:
            held = evidence.database(invoke, "fn", "blue", zero, 15)
            assert held.quiet is False and held.sessions == 1
            # AND it runs a statement (a straggler that still reaches it)
            blue.execute("SELECT count(*) FROM t")
        # THEN, its session closed, the statement it ran after its weight reached 0 still refuses the contract
        straggler = evidence.database(invoke, "fn", "blue", zero, 15)
        assert straggler.sessions == 0 and straggler.quiet is False
        assert straggler.last_statement is not None
        # ... until it has been quiet for the window
        assert evidence.database(invoke, "fn", "blue", zero, 15).quiet is False
        later = evidence.DatabaseEvidence(straggler.role, 0, straggler.last_statement, zero[0]["at"], 0)
        assert later.quiet is True
