"""Where the database credentials come from.

In Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is set) they are the JSON secret named by ``DB_SECRET_ID`` in Secrets
Manager, fetched once per container and reused while it stays warm (boto3 honours ``AWS_ENDPOINT_URL``, which
is how the local default points it at moto). Anywhere else they are ``DATABASE_URL``.

Two secret shapes: the one RDS keeps for a master password it manages (``manage_master_user_password``),
which holds ``username`` and ``password`` only, and the full RDS JSON shape (plus ``host``, ``port``,
``dbname``) that the kit writes for an existing database. Where to connect comes from the function's
configuration (``DB_HOST``, ``DB_PORT``, ``DB_NAME``, set by Terraform, which knows the current endpoint); a
secret's own ``host``/``port``/``dbname`` fill in only what the configuration leaves out.

TLS: from Secrets Manager the connection always requires TLS. libpq's default (``prefer``) would encrypt
without checking who answers, and fall back to plain text. ``MIGRATOR_SSLMODE`` is ``require`` (encrypt),
``verify-ca`` or ``verify-full`` (also check the certificate against ``MIGRATOR_SSLROOTCERT``, and with
verify-full the host name too); with ``MIGRATOR_SSLROOTCERT`` set the default is ``verify-full``. The bundle
is a PEM file inside the package (e.g. ``migrator/certs/global-bundle.pem``, the RDS global bundle copied to
``lambda/migrator/certs/`` before the build), found relative to ``LAMBDA_TASK_ROOT``. A ``DATABASE_URL``
gets these settings only when they are set (it may carry its own ``sslmode``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
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

__all__ = [
    "LOCATION_KEYS",
    "LOCATION_SETTINGS",
    "REQUIRED_SECRET_KEYS",
    "SSLMODES",
    "Credentials",
    "Tls",
    "forget_cached",
    "from_secret",
    "from_url",
    "read_secret",
    "read_secret_versioned",
    "resolve",
    "tls_from_env",
]

REQUIRED_SECRET_KEYS = ("username", "password")
LOCATION_KEYS = ("host", "port", "dbname")
# The function's configuration that says where the database is (DB_PORT is a number).
LOCATION_SETTINGS = {"host": "DB_HOST", "port": "DB_PORT", "dbname": "DB_NAME"}
SSLMODES = ("require", "verify-ca", "verify-full")
_cache: dict[tuple[str, Tls, tuple[str, ...]], Credentials] = {}


@dataclass(frozen=True)
class Tls:
    """How the connection is protected: a libpq sslmode and, for the verify modes, the CA bundle's path."""

    sslmode: str = "require"
    rootcert: str | None = None

    def conninfo_params(self) -> dict[str, str]:
        params = {"sslmode": self.sslmode}
        if self.rootcert:
            params["sslrootcert"] = self.rootcert
        return params

    def describe(self) -> str:
        return f"TLS {self.sslmode}" + (f" with CA {Path(self.rootcert).name}" if self.rootcert else "")


def tls_from_env(environ: Mapping[str, str], *, required: bool) -> Tls | None:
    """The TLS settings of MIGRATOR_SSLMODE / MIGRATOR_SSLROOTCERT; ``require`` when nothing is set and
    ``required`` (Secrets Manager), None when nothing is set otherwise (a DATABASE_URL keeps its own)."""
    mode = environ.get("MIGRATOR_SSLMODE", "").strip()
    rootcert = environ.get("MIGRATOR_SSLROOTCERT", "").strip()
    if not mode and not rootcert and not required:
        return None
    mode = mode or ("verify-full" if rootcert else "require")
    if mode not in SSLMODES:
        raise ConfigurationError(
            f"MIGRATOR_SSLMODE={mode[:30]!r} is not allowed: use require, verify-ca or verify-full "
            "(modes that may skip encryption or skip checking the server are refused)"
        )
    if mode.startswith("verify") and not rootcert:
        raise ConfigurationError(
            f"MIGRATOR_SSLMODE={mode} needs MIGRATOR_SSLROOTCERT: the PEM bundle of the CA that signs the "
            "database's certificate (for RDS, the global bundle), packaged under lambda/migrator/certs/"
        )
    if rootcert:
        path = Path(rootcert)
        if not path.is_absolute():
            path = Path(environ.get("LAMBDA_TASK_ROOT") or ".") / path
        if not path.is_file():
            raise ConfigurationError(
                f"MIGRATOR_SSLROOTCERT names {rootcert!r}, which is not in the package: copy the CA bundle "
                "to lambda/migrator/certs/, run `make build` and apply again"
            )
        rootcert = str(path)
    return Tls(sslmode=mode, rootcert=rootcert or None)


@dataclass(frozen=True)
class Credentials:
    """A libpq connection string plus a safe description of it (repr never shows the password)."""

    conninfo: str = field(repr=False)
    password: str | None = field(repr=False, default=None)
    description: str = "database"

    def register_secrets(self) -> None:
        logs.register_secret(self.conninfo)
        logs.register_secret(self.password)


def from_url(url: str, tls: Tls | None = None) -> Credentials:
    """Credentials from a ``postgresql://`` URL or a ``key=value`` connection string (``tls`` overrides its
    own sslmode when given)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

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
        conninfo=make_conninfo(url, **tls.conninfo_params()) if tls else url,
        password=str(password) if password else None,
        description=_describe(parts, tls),
    )
    creds.register_secrets()
    return creds


def _describe(parts: Mapping[str, Any], tls: Tls | None = None) -> str:
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"
    how = f" ({tls.describe()})" if tls else ""
    return f"database {parts.get('dbname', '?')} on {where} as {parts.get('user', '?')}{how}"


def read_secret(secret_id: str, client: Any = None, *, setting: str = "DB_SECRET_ID") -> dict[str, Any]:
    """The JSON object of a Secrets Manager secret, checked: ``username`` and ``password`` (RDS's own shape
    for a password it manages), maybe ``host``, ``port``, ``dbname`` and ``engine`` (the full RDS shape).
    Every value is registered as secret text first, so no log line can show it."""
    return read_secret_versioned(secret_id, client, setting=setting)[0]


def read_secret_versioned(
    secret_id: str, client: Any = None, *, setting: str = "DB_SECRET_ID"
) -> tuple[dict[str, Any], str | None]:
    """:func:`read_secret`, and the id of the secret version it read (Secrets Manager's ``VersionId``): a
    new value gets a new version, so a caller can tell whether the password changed without comparing it."""
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
                f"Secrets Manager has no secret {secret_id!r}: check {setting} and the region"
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
            f'secret {secret_id!r} is not JSON; store {{"username": ..., "password": ...}} (host, port and '
            "dbname may be added)"
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
    if data.get("port") not in (None, ""):
        try:
            int(data["port"])
        except (TypeError, ValueError):
            raise SecretMalformed(f"secret {secret_id!r} has a port that is not a number") from None
    logs.register_secret(str(data["password"]))
    return data, response.get("VersionId")


def location(
    secret_id: str, secret: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """host, port and dbname: the function's configuration (DB_HOST, DB_PORT, DB_NAME) first, the secret's
    own keys for what it leaves out. Refuses, naming both places, when neither says."""
    environ = environ or {}
    found: dict[str, Any] = {}
    missing = []
    for key, setting in LOCATION_SETTINGS.items():
        value = (environ.get(setting) or "").strip() or secret.get(key)
        if value in (None, ""):
            missing.append(f"{key} ({setting})")
        found[key] = value
    if missing:
        raise SecretMalformed(
            f"no {', '.join(missing)}: set them on the function, or add them to secret {secret_id!r} "
            "(an RDS-managed secret holds only username and password)"
        )
    try:
        found["port"] = int(found["port"])
    except (TypeError, ValueError):
        raise ConfigurationError(f"DB_PORT={str(found['port'])[:20]!r} is not a port number") from None
    return found


def from_secret(
    secret_id: str, client: Any = None, tls: Tls | None = None, environ: Mapping[str, str] | None = None
) -> Credentials:
    """Credentials from a Secrets Manager secret (cached per secret id while warm): the user and password
    from the secret, where to connect from ``environ`` (DB_HOST, DB_PORT, DB_NAME) or else the secret. The
    connection requires TLS: ``tls`` (default ``require``) says how strictly the server is checked."""
    tls = tls or Tls()
    where = tuple((environ or {}).get(setting, "") for setting in LOCATION_SETTINGS.values())
    if (secret_id, tls, where) in _cache:
        return _cache[secret_id, tls, where]
    data = read_secret(secret_id, client)
    target = location(secret_id, data, environ)

    from psycopg.conninfo import make_conninfo

    parts = {
        "host": str(target["host"]),
        "port": target["port"],
        "dbname": str(target["dbname"]),
        "user": str(data["username"]),
        "password": str(data["password"]),
    }
    creds = Credentials(
        conninfo=make_conninfo(**parts, **tls.conninfo_params()),
        password=parts["password"],
        description=_describe(parts, tls),
    )
    creds.register_secrets()
    _cache[secret_id, tls, where] = creds
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
        return from_secret(secret_id, tls=tls_from_env(environ, required=True), environ=environ)
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        raise ConfigurationError(
            'DATABASE_URL is not set: export it (e.g. `eval "$(make -s env)"`) '
            "or run inside Lambda with DB_SECRET_ID"
        )
    return from_url(url, tls_from_env(environ, required=False))
