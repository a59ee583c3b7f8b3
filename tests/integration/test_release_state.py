"""The release's shared state on moto: the release lock and state in the state bucket with S3 conditional
writes (moto 5.2.5 honours If-None-Match and If-Match), and the break-glass Route 53 change.

Two operators are two ``Store`` objects (each reads, and remembers the ETag it read, on its own), as two
machines would be; "another machine" differs only in its working directory, which the lock names."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from scripts.release import breakglass, journal, observe, releasestate, rollout
from scripts.release.releasestate import LockHeld, Rollout, StateConflict, Store
from scripts.release.tf import Workspace
from scripts.release.trafficfile import Traffic


@pytest.fixture
def ws(aws_env, tmp_path, monkeypatch) -> Workspace:
    """An environment whose backend names a fresh bucket on the local moto server."""
    bucket = f"state-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    (tmp_path / "itest.s3.tfbackend").write_text(f'bucket = "{bucket}"\nregion = "us-east-1"\n')
    monkeypatch.setenv("RELEASE_KIT_ENV_DIR", str(tmp_path))
    return Workspace(env="itest")


def a_release(**changes) -> Rollout:
    fields = {
        "env": "itest",
        "source": "blue",
        "target": "green",
        "percents": [10, 100],
        "bake_seconds": 60.0,
        "steps": [{"do": "verify"}, {"do": "weight", "percent": 10}, {"do": "bake", "seconds": 60.0}],
        "start": {"live_color": "blue", "canary_percent": 0},
    }
    return Rollout(**{**fields, **changes})


def test_a_second_release_anywhere_is_refused_naming_who_and_since(ws, monkeypatch) -> None:
    # GIVEN one operator holding the release lock
    first = Store(ws)
    first.lock(first.session, release="r1")
    holders_workdir = str(releasestate.LOCAL_DIR)
    # WHEN another machine (another working directory) tries, THEN it is refused, naming the holder
    monkeypatch.setattr(releasestate, "LOCAL_DIR", releasestate.LOCAL_DIR.parent / "elsewhere")
    second = Store(ws)
    with pytest.raises(LockHeld) as refused:
        second.lock(second.session, release="r2")
    message = str(refused.value)
    assert "is held by arn:aws:" in message and "since 20" in message and " ago)" in message
    assert f"pid {refused.value.holder['pid']}, {holders_workdir})" in message
    assert "make release-unlock" in message and refused.value.holder["release"] == "r1"
    # AND once the holder gives it back, the other machine gets it
    assert first.unlock() is None
    second.lock(second.session, release="r2")
    assert Store(ws).holder()["release"] == "r2"


def test_a_state_changed_elsewhere_is_never_overwritten(ws) -> None:
    # GIVEN a release saved by one operator and read by a second
    mine, theirs = Store(ws), Store(ws)
    rollout = a_release()
    mine.save(rollout)
    seen = theirs.load()
    assert seen.id == rollout.id and not mine.changed()
    # WHEN the second ends it (a rollback from their machine)
    theirs.abort("rolled_back", "make rollback by them", "them")
    # THEN the first notices at its next poll, and its next write is refused instead of undoing the rollback
    assert mine.changed()
    rollout.index = 2
    with pytest.raises(StateConflict):
        mine.save(rollout)
    ended = Store(ws).read()
    assert ended.ended["outcome"] == "rolled_back" and ended.ended["by"] == "them" and ended.index == 0
    assert Store(ws).load() is None  # a tombstone is not a release in progress


def test_a_new_release_replaces_the_tombstone_only_if_nobody_else_did(ws) -> None:
    first, second = Store(ws), Store(ws)
    done = a_release()
    first.save(done)
    first.end(done, "completed", None, "me")
    assert first.load() is None and second.load() is None
    first.save(a_release())
    with pytest.raises(StateConflict):
        second.save(a_release())  # it read the tombstone, which is gone now


def test_a_stale_lock_is_broken_only_explicitly_and_the_break_is_journalled(ws, monkeypatch) -> None:
    stale = Store(ws)
    stale.lock(stale.session, release="lost-laptop")
    holder = Store(ws).holder()

    # WHEN the journal cannot be written, THEN the lock is not broken
    def unreachable(*_args, **_kwargs):
        raise journal.JournalError("could not write the journal event: AccessDenied")

    with monkeypatch.context() as patched:
        patched.setattr(journal, "record", unreachable)
        with pytest.raises(journal.JournalError):
            releasestate.break_journalled(ws, Store(ws), "make release-unlock")
    assert Store(ws).holder() == holder

    # WHEN it is broken explicitly, THEN the journal names who held it, and the lock is free
    assert releasestate.break_journalled(ws, Store(ws), "make release-unlock") == holder
    event = [e for e in journal.read(ws) if e["kind"] == "lock"][-1]
    assert event["outcome"] == "broken" and event["holder"]["release"] == "lost-laptop"
    assert "make release-unlock, by arn:aws:" in event["reason"]
    assert Store(ws).holder() is None
    # AND the process that held it learns, when it gives it back, that it was broken
    assert "broken" in stale.unlock()


def test_an_unfinished_release_from_the_old_per_checkout_file_moves_to_the_bucket(
    ws, tmp_path, monkeypatch
) -> None:
    legacy_dir = tmp_path / "releases"
    legacy_dir.mkdir()
    (legacy_dir / "itest.json").write_text(json.dumps({**a_release().__dict__, "index": 2}))
    monkeypatch.setattr(releasestate, "LEGACY_DIR", legacy_dir)
    moved = Store(ws).load()
    assert moved.index == 2 and not (legacy_dir / "itest.json").exists()
    assert Store(ws).load().id == moved.id


def test_journal_events_are_written_once(ws) -> None:
    key = journal.record(ws, "release", outcome="started")
    s3 = boto3.client("s3")
    bucket = releasestate.statebucket.bucket(ws)
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}", IfNoneMatch="*")


# ------------------------------------------------------------------------------------ the Route 53 batch


@pytest.fixture
def live_records(aws_env):
    """A public zone with the two weighted alias records as the traffic module leaves them at blue 90 /
    green 10, and a private zone of the same name created first (which a lookup by name could pick)."""
    route53 = boto3.client("route53")
    name = f"z{uuid.uuid4().hex[:8]}.test"
    route53.create_hosted_zone(
        Name=name,
        CallerReference=uuid.uuid4().hex,
        HostedZoneConfig={"PrivateZone": True},
        VPC={
            "VPCRegion": "us-east-1",
            "VPCId": boto3.client("ec2").create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"],
        },
    )
    zone = route53.create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": f"api.{name}.",
                "Type": "A",
                "SetIdentifier": color,
                "Weight": weight,
                "AliasTarget": {
                    "HostedZoneId": "Z2P70J7EXAMPLE",
                    "DNSName": f"{color}-alb.us-east-1.elb.amazonaws.com",
                    "EvaluateTargetHealth": True,
                },
            },
        }
        for color, weight in (("blue", 90), ("green", 10))
    ]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    return {"hostnames": {"live": f"api.{name}"}, "hosted_zone_id": zone.rsplit("/", 1)[-1]}


def test_the_break_glass_batch_sets_the_weights_and_the_health_rule_in_the_zone_named_by_id(live_records):
    session = boto3.session.Session()
    restored = breakglass.restore(session, live_records, Traffic("blue", 0))
    assert restored.weights_before == {"blue": 90, "green": 10}
    assert restored.weights_after == {"blue": 100, "green": 0} and restored.insync
    records = observe.weighted_records(
        session, live_records["hosted_zone_id"], live_records["hostnames"]["live"]
    )
    assert {c: r["AliasTarget"]["EvaluateTargetHealth"] for c, r in records.items()} == {
        "blue": False,
        "green": False,
    }
    assert records["green"]["AliasTarget"]["DNSName"].startswith("green-alb")  # nothing else changed
    # The zone is the one named by its ID; by name, the private zone of the same name is skipped
    assert (
        observe.hosted_zone_id(session, live_records["hostnames"]["live"], None)
        == live_records["hosted_zone_id"]
    )
    # Run again, it changes nothing (it is safe to repeat mid-incident)
    assert breakglass.restore(session, live_records, Traffic("blue", 0)).change_id is None


def test_a_colour_without_a_record_cannot_take_the_traffic_and_a_missing_weight_is_not_zero(live_records):
    session = boto3.session.Session()
    route53 = boto3.client("route53")
    live = live_records["hostnames"]["live"]
    green = observe.weighted_records(session, live_records["hosted_zone_id"], live)["green"]
    route53.change_resource_record_sets(
        HostedZoneId=live_records["hosted_zone_id"],
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": green}]},
    )
    with pytest.raises(breakglass.BreakGlassError, match="has no green record"):
        breakglass.restore(session, live_records, Traffic("green", 0))
    assert observe.route53_weights(session, live, live_records["hosted_zone_id"]) == {"blue": 90}


def test_a_rollback_elsewhere_wins_over_a_running_release(ws, live_records, monkeypatch) -> None:
    # GIVEN a release from blue that this run holds, and a `make rollback` on another machine that ended it
    # and put Route 53 back to blue 100 ... after which an apply of this run landed (blue 90 / green 10)
    session = boto3.session.Session()
    mine = Store(ws)
    running = a_release(env="itest")
    mine.save(running)
    Store(ws).abort("rolled_back", "make rollback by them", "them")
    reconciled = []
    monkeypatch.setattr(breakglass, "reconcile", lambda _ws, traffic: reconciled.append(traffic) or [])
    # WHEN this run notices (its next poll or write), THEN it puts the rollback's weights back and says who
    summary = rollout._aborted(ws, mine, session, live_records, running, started=0.0)
    assert summary["outcome"] == "rolled_back" and "rolled back by them" in summary["reason"]
    weights = observe.route53_weights(
        session, live_records["hostnames"]["live"], live_records["hosted_zone_id"]
    )
    assert weights == {"blue": 100, "green": 0}
    assert reconciled == [Traffic("blue", 0)]  # the tfvars and state follow (reconcile is tested end to end)


def test_a_release_taken_over_elsewhere_stops_without_touching_traffic(ws, live_records) -> None:
    session = boto3.session.Session()
    mine, theirs = Store(ws), Store(ws)
    running = a_release(env="itest")
    mine.save(running)
    taken = theirs.load()
    theirs.save(taken)  # the lock was broken and the release resumed on another machine
    summary = rollout._aborted(ws, mine, session, live_records, running, started=0.0)
    assert summary["outcome"] == "stopped" and "touches nothing" in summary["reason"]
    weights = observe.route53_weights(
        session, live_records["hostnames"]["live"], live_records["hosted_zone_id"]
    )
    assert weights == {"blue": 90, "green": 10}
