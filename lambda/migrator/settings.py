"""The runner's knobs, read once from environment variables and validated up front.

MIGRATOR_ENVIRONMENT         name of the environment (local, staging, production...); default "local"
MIGRATOR_LOCK_WAIT_SECONDS   how long a run waits for another run's advisory lock; default 10
MIGRATOR_LOCK_TIMEOUT        PostgreSQL lock_timeout for migrations; default "5s"
MIGRATOR_STATEMENT_TIMEOUT   PostgreSQL statement_timeout for migrations; default "15min"
MIGRATOR_CONNECT_TIMEOUT     seconds to wait for a connection; default 10
MIGRATOR_SQL_ROW_LIMIT       rows the `sql` action returns at most; default 1000
MIGRATOR_SQL_TIMEOUT_MS      statement_timeout of the `sql` action; default 5000
MIGRATOR_SQL_MAX_BYTES       bytes of JSON rows the `sql` action returns at most; default 1048576 (1 MiB)
MIGRATOR_SQL_ROLE            the role the `sql` action runs as (created by the migrator); default
                             "migrator_sql_reader"
MIGRATOR_SQL_SCHEMAS         comma-separated schemas the `sql` action may read; default "public"
MIGRATOR_LOCK_RETRIES        how often a migration that hit lock_timeout is tried again; default 3
MIGRATOR_LOCK_RETRY_DELAY    seconds before the first retry, doubled before each next one (at most 30 s
                             apart); default 1
MIGRATOR_DEADLINE_RESERVE    seconds of the invocation that must remain to start another migration; default 10
APP_DB_SECRET_ID             secret of the shared application role of the single-role layout (the group role
                             keeps LOGIN with its password while a colour still uses it); default none
MIGRATOR_APP_GROUP           the NOLOGIN group role that holds the application's DML grants; default "app"
MIGRATOR_COLOR_ROLES         each colour's own role, "blue=app_blue,green=app_green" (the default: the group's
                             name plus "_<colour>"); the statement inventory attributes statements by them
APP_BLUE_SECRET_ID           secret of blue's role (its LOGIN password); without it the role is NOLOGIN
APP_GREEN_SECRET_ID          secret of green's role
MIGRATOR_STATEMENT_WINDOW_DAYS  statements a colour last ran longer ago than this are not checked; default 30
MIGRATOR_COMPAT_CHECK        "enforce" (default: migrate refuses a migration that breaks a serving colour),
                             "warn" (report only) or "off"
MIGRATOR_READY_PATH          Parameter Store path where migrate records the roles it set up, which the
                             colours' tasks wait for (runner/readiness.py); default none (nothing recorded)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from migrator.errors import ConfigurationError

__all__ = ["COLORS", "COMPAT_MODES", "PRODUCTION_NAMES", "Settings"]

PRODUCTION_NAMES = frozenset({"production", "prod"})
COLORS = ("blue", "green")
COMPAT_MODES = ("enforce", "warn", "off")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DURATION = re.compile(r"^\s*\d{1,9}\s*(ms|s|min|h)?\s*$")
_UNIT_MS = {"": 1, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}


def _number(environ: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{key}={raw[:40]!r} is not a number; use e.g. {default:g}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{key}={raw} is out of range; use {low:g} to {high:g}")
    return value


def _duration(environ: Mapping[str, str], key: str, default: str) -> str:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    if not _DURATION.match(raw):
        raise ConfigurationError(
            f'{key}={raw[:40]!r} is not a PostgreSQL duration; use e.g. "5s", "500ms", "15min"'
        )
    return raw.replace(" ", "")


def _identifier(environ: Mapping[str, str], key: str, default: str) -> str:
    raw = environ.get(key, "").strip() or default
    if not _IDENTIFIER.match(raw):
        raise ConfigurationError(
            f"{key}={raw[:70]!r} is not a plain name; use lower-case letters, digits and _ (e.g. {default!r})"
        )
    return raw


def _identifiers(environ: Mapping[str, str], key: str, default: str) -> tuple[str, ...]:
    names = [name.strip() for name in (environ.get(key, "").strip() or default).split(",") if name.strip()]
    return tuple(_identifier({key: name}, key, default) for name in names) or (default,)


def _color_roles(environ: Mapping[str, str], group: str) -> tuple[tuple[str, str], ...]:
    raw = environ.get("MIGRATOR_COLOR_ROLES", "").strip()
    if not raw:
        return tuple((color, f"{group}_{color}") for color in COLORS)
    pairs: dict[str, str] = {}
    for part in raw.split(","):
        color, _, role = part.strip().partition("=")
        color, role = color.strip(), role.strip()
        if color not in COLORS or not _IDENTIFIER.match(role):
            raise ConfigurationError(
                f"MIGRATOR_COLOR_ROLES={raw[:80]!r} is not a list of colour=role; use e.g. "
                '"blue=app_blue,green=app_green" (plain lower-case role names)'
            )
        pairs[color] = role
    if set(pairs) != set(COLORS) or len(set(pairs.values())) != len(COLORS) or group in pairs.values():
        raise ConfigurationError(
            f"MIGRATOR_COLOR_ROLES={raw[:80]!r} must name a different role for blue and for green, neither "
            f"of them the group role {group!r}: the inventory tells the colours apart by role"
        )
    return tuple((color, pairs[color]) for color in COLORS)


def _compat_mode(environ: Mapping[str, str]) -> str:
    raw = environ.get("MIGRATOR_COMPAT_CHECK", "").strip().lower() or "enforce"
    if raw not in COMPAT_MODES:
        raise ConfigurationError(
            f"MIGRATOR_COMPAT_CHECK={raw[:30]!r}: use enforce (refuse a migration that breaks a serving "
            "colour), warn (report only) or off"
        )
    return raw


@dataclass(frozen=True)
class Settings:
    environment: str = "local"
    lock_wait_seconds: float = 10.0
    lock_timeout: str = "5s"
    statement_timeout: str = "15min"
    connect_timeout: int = 10
    sql_row_limit: int = 1000
    sql_timeout_ms: int = 5000
    sql_max_bytes: int = 1024 * 1024
    sql_role: str = "migrator_sql_reader"
    sql_schemas: tuple[str, ...] = ("public",)
    lock_retries: int = 3
    lock_retry_delay_seconds: float = 1.0
    deadline_reserve_seconds: float = 10.0

    @property
    def statement_timeout_ms(self) -> int:
        """``statement_timeout`` in milliseconds (0: no limit, as in PostgreSQL)."""
        match = re.match(r"^(\d+)(ms|s|min|h)?$", self.statement_timeout)
        if not match:
            return 0
        return int(match.group(1)) * _UNIT_MS[match.group(2) or ""]

    app_secret_id: str | None = None
    app_group: str = "app"
    color_roles: tuple[tuple[str, str], ...] = (("blue", "app_blue"), ("green", "app_green"))
    color_secret_ids: tuple[tuple[str, str], ...] = ()
    statement_window_days: int = 30
    compat_check: str = "enforce"

    @property
    def roles_by_color(self) -> dict[str, str]:
        """Each colour's role name: ``{"blue": "app_blue", "green": "app_green"}``."""
        return dict(self.color_roles)

    @property
    def secrets_by_color(self) -> dict[str, str]:
        """The colours whose role has a secret (its LOGIN password): ``{"blue": "<arn>", ...}``."""
        return dict(self.color_secret_ids)

    ready_path: str | None = None

    @property
    def is_production(self) -> bool:
        return self.environment.strip().lower() in PRODUCTION_NAMES

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            environment=environ.get("MIGRATOR_ENVIRONMENT", "").strip() or "local",
            lock_wait_seconds=_number(environ, "MIGRATOR_LOCK_WAIT_SECONDS", 10.0, 0, 900),
            lock_timeout=_duration(environ, "MIGRATOR_LOCK_TIMEOUT", "5s"),
            statement_timeout=_duration(environ, "MIGRATOR_STATEMENT_TIMEOUT", "15min"),
            connect_timeout=int(_number(environ, "MIGRATOR_CONNECT_TIMEOUT", 10, 1, 300)),
            sql_row_limit=int(_number(environ, "MIGRATOR_SQL_ROW_LIMIT", 1000, 1, 100_000)),
            sql_timeout_ms=int(_number(environ, "MIGRATOR_SQL_TIMEOUT_MS", 5000, 1, 900_000)),
            sql_max_bytes=int(_number(environ, "MIGRATOR_SQL_MAX_BYTES", 1024 * 1024, 1024, 4 * 1024 * 1024)),
            sql_role=_identifier(environ, "MIGRATOR_SQL_ROLE", "migrator_sql_reader"),
            sql_schemas=_identifiers(environ, "MIGRATOR_SQL_SCHEMAS", "public"),
            lock_retries=int(_number(environ, "MIGRATOR_LOCK_RETRIES", 3, 0, 20)),
            lock_retry_delay_seconds=_number(environ, "MIGRATOR_LOCK_RETRY_DELAY", 1.0, 0, 60),
            deadline_reserve_seconds=_number(environ, "MIGRATOR_DEADLINE_RESERVE", 10.0, 0, 300),
            app_secret_id=environ.get("APP_DB_SECRET_ID", "").strip() or None,
            app_group=(group := _identifier(environ, "MIGRATOR_APP_GROUP", "app")),
            color_roles=_color_roles(environ, group),
            color_secret_ids=tuple(
                (color, value)
                for color in COLORS
                if (value := environ.get(f"APP_{color.upper()}_SECRET_ID", "").strip())
            ),
            statement_window_days=int(_number(environ, "MIGRATOR_STATEMENT_WINDOW_DAYS", 30, 1, 3650)),
            compat_check=_compat_mode(environ),
            ready_path=environ.get("MIGRATOR_READY_PATH", "").strip() or None,
        )
