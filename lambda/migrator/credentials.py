"""Where the database credentials come from.

In Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is set) they are the RDS-shaped JSON secret named by
``DB_SECRET_ID`` in Secrets Manager, fetched once per container and reused while it stays warm (boto3 honours
``AWS_ENDPOINT_URL``, which is how the local default points it at moto). Anywhere else they are
``DATABASE_URL``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migrator import logs
from migrator.errors import (
    ConfigurationError,
    CredentialsError,
    SecretAccessDenied,
    SecretMalformed,
    SecretNotConfigured,
    SecretNotFound,
)

__all__ = ["REQUIRED_SECRET_KEYS", "Credentials", "forget_cached", "from_secret", "from_url", "resolve"]

REQUIRED_SECRET_KEYS = ("username", "password", "host", "port", "dbname")
_cache: dict[str, Credentials] = {}


@dataclass(frozen=True)
class Credentials:
    """A libpq connection string plus a safe description of it (repr never shows the password)."""

    conninfo: str = field(repr=False)
    password: str | None = field(repr=False, default=None)
    description: str = "database"

    def register_secrets(self) -> None:
        logs.register_secret(self.conninfo)
        logs.register_secret(self.password)


def from_url(url: str) -> Credentials:
    """Credentials from a ``postgresql://`` URL or a ``key=value`` connection string."""
    from psycopg.conninfo import conninfo_to_dict

    logs.register_secret(url)
    try:
        parts = conninfo_to_dict(url)
    except Exception:
        raise ConfigurationError(
            "DATABASE_URL is not a valid PostgreSQL connection string; "
            "use postgresql://user:password@host:port/dbname"
        ) from None
    password = parts.get("password")
    creds = Credentials(
        conninfo=url,
        password=str(password) if password else None,
        description=_describe(parts),
    )
    creds.register_secrets()
    return creds


def _describe(parts: Mapping[str, Any]) -> str:
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"
    return f"database {parts.get('dbname', '?')} on {where} as {parts.get('user', '?')}"


def from_secret(secret_id: str, client: Any = None) -> Credentials:
    """Credentials from an RDS-shaped Secrets Manager secret (cached per secret id while warm)."""
    if secret_id in _cache:
        return _cache[secret_id]
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise SecretNotFound(
                f"Secrets Manager has no secret {secret_id!r}: check DB_SECRET_ID and the region"
            ) from None
        if code in ("AccessDeniedException", "AccessDenied", "KMSAccessDeniedException", "DecryptionFailure"):
            raise SecretAccessDenied(
                f"the function's role may not read secret {secret_id!r} ({code}): grant "
                "secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)"
            ) from None
        raise CredentialsError(f"could not read secret {secret_id!r}: {code or 'client error'}") from None
    except BotoCoreError as exc:
        raise CredentialsError(
            f"could not reach Secrets Manager for {secret_id!r}: {type(exc).__name__}"
        ) from None

    raw = response.get("SecretString")
    if raw is None:
        raise SecretMalformed(f"secret {secret_id!r} has no SecretString; store the RDS JSON shape as text")
    logs.register_secret(raw)
    try:
        data = json.loads(raw)
    except ValueError:
        raise SecretMalformed(
            f"secret {secret_id!r} is not JSON; store "
            '{"username": ..., "password": ..., "host": ..., "port": 5432, "dbname": ...}'
        ) from None
    if not isinstance(data, dict):
        raise SecretMalformed(
            f"secret {secret_id!r} must be a JSON object with keys {', '.join(REQUIRED_SECRET_KEYS)}"
        )
    missing = [key for key in REQUIRED_SECRET_KEYS if data.get(key) in (None, "")]
    if missing:
        raise SecretMalformed(
            f"secret {secret_id!r} lacks {', '.join(missing)}; it needs {', '.join(REQUIRED_SECRET_KEYS)}"
        )
    engine = data.get("engine")
    if engine not in (None, "", "postgres", "postgresql", "aurora-postgresql"):
        raise SecretMalformed(
            f"secret {secret_id!r} is for engine {str(engine)[:30]!r}; the migrator needs postgres"
        )
    try:
        port = int(data["port"])
    except (TypeError, ValueError):
        raise SecretMalformed(f"secret {secret_id!r} has a port that is not a number") from None

    from psycopg.conninfo import make_conninfo

    parts = {
        "host": str(data["host"]),
        "port": port,
        "dbname": str(data["dbname"]),
        "user": str(data["username"]),
        "password": str(data["password"]),
    }
    creds = Credentials(
        conninfo=make_conninfo(**parts), password=parts["password"], description=_describe(parts)
    )
    creds.register_secrets()
    _cache[secret_id] = creds
    return creds


def forget_cached() -> None:
    """Drop cached secrets (after a failed login: the secret may have been rotated)."""
    _cache.clear()


def resolve(environ: Mapping[str, str]) -> Credentials:
    """The credentials for this invocation: Secrets Manager in Lambda, DATABASE_URL elsewhere."""
    if environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        secret_id = environ.get("DB_SECRET_ID", "").strip()
        if not secret_id:
            raise SecretNotConfigured(
                "DB_SECRET_ID is not set: configure the function with the id or ARN of the database secret"
            )
        return from_secret(secret_id)
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        raise ConfigurationError(
            'DATABASE_URL is not set: export it (e.g. `eval "$(make -s env)"`) '
            "or run inside Lambda with DB_SECRET_ID"
        )
    return from_url(url)
