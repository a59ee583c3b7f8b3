"""The Terraform state bucket, as the release uses it: the one place every operator and CI job of an
environment can already read and write. The journal (``release-journal/<env>/``) and the release's state and
lock (``release-state/<env>/``) live there, next to Terraform's own state and lock file."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from scripts.release.tf import Workspace

if TYPE_CHECKING:
    from boto3.session import Session


class BucketError(RuntimeError):
    """The state bucket is not configured or cannot be reached; the message says which."""


def backend_setting(ws: Workspace, name: str) -> str | None:
    """A string setting of ENV's ``*.s3.tfbackend`` file (``bucket``, ``region``)."""
    text = ws.backend_config.read_text() if ws.backend_config.exists() else ""
    found = re.search(rf'^\s*{name}\s*=\s*"([^"]*)"', text, re.M)
    return found[1] if found else None


def bucket(ws: Workspace) -> str:
    name = backend_setting(ws, "bucket")
    if not name:
        raise BucketError(
            f"{ws.backend_config.name} names no bucket, so there is nowhere to keep the release"
        )
    return name


def session(ws: Workspace) -> Session:
    """A boto3 session in the bucket's region (the backend's), on ws's endpoint."""
    import boto3

    ws.export_aws_env()
    region = backend_setting(ws, "region") or os.environ.get("AWS_REGION") or "us-east-1"
    return boto3.session.Session(region_name=region)


def caller_arn(session: Session) -> str:
    """Who is acting: the caller's identity ARN (an assumed role shows the session name, i.e. the person)."""
    try:
        return session.client("sts").get_caller_identity()["Arn"]
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"
