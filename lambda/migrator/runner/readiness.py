"""Telling the deployment that the database roles exist, so the colours' tasks may start.

A colour's tasks log in as an application role that ``migrate`` creates. Started before it exists, a task
cannot log in, fails its health checks, and the ECS circuit breaker gives up on the service. So Terraform
keeps each colour at zero tasks until its role is recorded here (``terraform/bootstrap.tf``): after the roles
are set up, ``migrate`` writes one Parameter Store ``String`` parameter per role,
``<MIGRATOR_READY_PATH>/<role>``, whose value is the ARN of the secret the role was set up from. However many
roles a run sets up, each is recorded on its own, and a colour waits only for its own; a re-created
environment (a new secret) waits again. The values are names and ARNs, never passwords.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from migrator import logs
from migrator.errors import MigratorError
from migrator.settings import Settings

__all__ = ["ReadinessNotRecorded", "record", "roles_to_record"]


class ReadinessNotRecorded(MigratorError):
    """The roles are set up, but the record the colours wait for could not be written."""


def roles_to_record(settings: Settings) -> list[dict[str, str]]:
    """The roles a colour's tasks log in as, each with the secret it was set up from: every colour role that
    has a secret (its LOGIN password), and the group role while the single-role layout's secret is set."""
    roles = [
        {"name": settings.roles_by_color[color], "secret_id": secret}
        for color, secret in settings.secrets_by_color.items()
    ]
    if settings.app_secret_id:
        roles.append({"name": settings.app_group, "secret_id": settings.app_secret_id})
    return roles


def record(
    path: str | None, roles: Iterable[Mapping[str, Any]], *, client: Any = None, details: dict | None = None
) -> list[str]:
    """Record each of ``roles`` (``{"name", "secret_id"}``) under ``path``; returns the names recorded (an
    unchanged record is not rewritten). Nothing is recorded when no path is configured."""
    roles = [role for role in roles if role.get("name") and role.get("secret_id")]
    if not path or not roles:
        return []
    if client is None:
        import boto3

        client = boto3.client("ssm")
    from botocore.exceptions import BotoCoreError, ClientError

    recorded = []
    for role in roles:
        name = f"{path.rstrip('/')}/{role['name']}"
        try:
            try:
                current = client.get_parameter(Name=name)["Parameter"]["Value"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                    raise
                current = None
            if current != role["secret_id"]:
                client.put_parameter(
                    Name=name,
                    Value=role["secret_id"],
                    Type="String",
                    Overwrite=True,
                    Description="Set by migrate: this database role exists (value: its secret)",
                )
        except (ClientError, BotoCoreError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise ReadinessNotRecorded(
                f"the database roles are set up, but {name} could not be written ({code}), so the colours' "
                "tasks stay at zero: grant the function ssm:GetParameter and ssm:PutParameter on it (the "
                "migrator module does) and run migrate again",
                details=details,
            ) from None
        recorded.append(role["name"])
    logs.log("roles recorded as ready", path=path, roles=recorded)
    return recorded
