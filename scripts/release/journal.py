"""The release journal: every switch, canary step, rollback and migration run, one S3 object per event.

It lives in the Terraform state bucket (the one place every operator of an environment can already read and
write) under ``release-journal/<env>/``. Keys start with a UTC timestamp, so listing them is reading the
journal in order, and each carries a random suffix, so two writers never overwrite each other.

    make history [ENV=local] [FORMAT=json]      prints it (text, or one JSON object per line)

An event holds: kind, env, at (UTC), who (the caller's identity ARN), the weights before and after, the
plan's SHA-256, each colour's image, migration ids, outcome and reason, plus kind-specific fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from scripts.release import statebucket
from scripts.release.tf import Workspace
from scripts.release.trafficfile import show_weights

PREFIX = "release-journal"


class JournalError(RuntimeError):
    """The journal could not be read or written."""


def file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _location(ws: Workspace) -> tuple[str, str]:
    try:
        return statebucket.bucket(ws), f"{PREFIX}/{ws.env}/"
    except statebucket.BucketError as exc:
        raise JournalError(str(exc)) from exc


def images(outputs: dict) -> dict[str, str | None]:
    stacks = outputs.get("stacks") or {}
    return {color: (stacks.get(color) or {}).get("image") for color in ("blue", "green")}


def record(ws: Workspace, kind: str, *, outputs: dict | None = None, **fields: Any) -> str:
    """Append one event; returns its key."""
    session = statebucket.session(ws)
    bucket, prefix = _location(ws)
    now = dt.datetime.now(dt.UTC)
    event = {
        "kind": kind,
        "env": ws.env,
        "at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "who": statebucket.caller_arn(session),
        **({"images": images(outputs)} if outputs is not None else {}),
        **fields,
    }
    key = f"{prefix}{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}-{kind}.json"
    try:
        session.client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(event, sort_keys=True).encode(),
            ContentType="application/json",
            IfNoneMatch="*",  # an event is written once; nothing may ever overwrite one
        )
    except Exception as exc:
        raise JournalError(f"could not write the journal event to s3://{bucket}/{key}: {exc}") from exc
    return key


def record_quietly(ws: Workspace, kind: str, **fields: Any) -> str | None:
    """``record``, but a failure is a warning: the change it describes has already happened."""
    try:
        return record(ws, kind, **fields)
    except JournalError as exc:
        print(f"warning: {exc}", file=sys.stderr, flush=True)
        return None


def read(ws: Workspace, *, last: int | None = None) -> list[dict]:
    """The events of ENV, oldest first (the last ``last`` of them when given)."""
    session = statebucket.session(ws)
    bucket, prefix = _location(ws)
    s3 = session.client("s3")
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        keys.sort()
        if last is not None:
            keys = keys[-last:] if last > 0 else []
        return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]
    except Exception as exc:
        raise JournalError(f"could not read the journal at s3://{bucket}/{prefix}: {exc}") from exc


def render_line(event: dict) -> str:
    """One event as one line of text."""
    parts = [event.get("at", "?"), f"{event.get('kind', '?'):9}", f"{event.get('outcome', '-'):11}"]
    if "weights_before" in event or "weights_after" in event:
        before, after = event.get("weights_before"), event.get("weights_after")
        parts.append(f"{show_weights(before)} -> {show_weights(after)}")
    for name in (
        "action",
        "from",
        "to",
        "step",
        "alarm",
        "reason",
        "migrations",
        "target",
        "forced_contract",
    ):
        value = event.get(name)
        if value not in (None, "", []):
            parts.append(f"{name}={','.join(map(str, value)) if isinstance(value, list) else value}")
    if event.get("plan_sha256"):
        parts.append(f"plan={event['plan_sha256'][:12]}")
    parts.append(f"by {event.get('who', '?')}")
    return "  ".join(str(p) for p in parts)


def main() -> int:
    """`make history`: the journal of ENV, oldest first."""
    from scripts.localdefault.localenv import LocalEnvError
    from scripts.release import environment
    from scripts.release.tf import TerraformError

    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    as_json = (os.environ.get("KIT_FORMAT") or "").lower() == "json"
    try:
        ws = environment.workspace(env)
        events = read(ws)
    except (JournalError, environment.ReleaseError, TerraformError, LocalEnvError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if as_json:
        for event in events:
            print(json.dumps(event, sort_keys=True))
    elif not events:
        print(f"no journal events for ENV={env} yet")
    else:
        for event in events:
            print(render_line(event))
    return 0


if __name__ == "__main__":
    sys.exit(main())
