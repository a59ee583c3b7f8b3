"""Parse and validate an invocation event into a typed, frozen request. Nothing else in the package sees a
raw event: every refusal (unknown action, unknown key, wrong type, out-of-range number) happens here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from migrator.errors import InvalidEvent

__all__ = [
    "ACTIONS",
    "FOREIGN_TOOLS",
    "MAX_SQL_LENGTH",
    "MAX_STEPS",
    "BaselineRequest",
    "CaptureRequest",
    "CheckRequest",
    "ListRequest",
    "MigrateRequest",
    "ReportRequest",
    "Request",
    "RollbackRequest",
    "SeedRequest",
    "SqlRequest",
    "StatementsRequest",
    "parse_event",
]

MAX_STEPS = 1000
MAX_SQL_LENGTH = 100_000
_TARGET = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,199}$")
# The tools whose state table baseline can read (migrator.runner.origins reads them).
FOREIGN_TOOLS = ("golang-migrate", "dbmate", "flyway", "goose")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$")
_REPORT_NAME = re.compile(r"^[a-z][a-z_]{0,39}$")
COLORS = ("blue", "green")


@dataclass(frozen=True)
class MigrateRequest:
    target: str | None = None
    dry_run: bool = False
    allow_contract: bool = False
    allow_incompatible: bool = False
    serving: tuple[str, ...] | None = None  # the colours that still serve after the migrations; None: both
    action: str = "migrate"


@dataclass(frozen=True)
class CheckRequest:
    """The compatibility check alone: would migrating up to ``target`` break a serving colour?"""

    target: str | None = None
    serving: tuple[str, ...] | None = None
    action: str = "check"


@dataclass(frozen=True)
class CaptureRequest:
    """Bring the statement inventory up to date; report each colour's activity and role."""

    action: str = "capture"


@dataclass(frozen=True)
class StatementsRequest:
    """The statement inventory, of one colour or both."""

    color: str | None = None
    action: str = "statements"


@dataclass(frozen=True)
class ListRequest:
    action: str = "list"


@dataclass(frozen=True)
class RollbackRequest:
    steps: int | None = None
    target: str | None = None
    dry_run: bool = False
    action: str = "rollback"


@dataclass(frozen=True)
class SeedRequest:
    allow_production_seed: bool = False
    action: str = "seed"


@dataclass(frozen=True)
class SqlRequest:
    sql: str
    action: str = "sql"


@dataclass(frozen=True)
class ReportRequest:
    name: str
    action: str = "report"


@dataclass(frozen=True)
class BaselineRequest:
    target: str | None = None
    dry_run: bool = False
    from_tool: str | None = None  # the event's "from"
    table: str | None = None
    action: str = "baseline"


Request = (
    MigrateRequest
    | ListRequest
    | RollbackRequest
    | SeedRequest
    | SqlRequest
    | BaselineRequest
    | ReportRequest
    | CheckRequest
    | CaptureRequest
    | StatementsRequest
)

# action -> (request type, the keys it takes besides "action")
_SCHEMA: dict[str, tuple[type, tuple[str, ...]]] = {
    "migrate": (MigrateRequest, ("target", "dry_run", "allow_contract", "allow_incompatible", "serving")),
    "list": (ListRequest, ()),
    "rollback": (RollbackRequest, ("steps", "target", "dry_run")),
    "seed": (SeedRequest, ("allow_production_seed",)),
    "sql": (SqlRequest, ("sql",)),
    "baseline": (BaselineRequest, ("target", "from", "table", "dry_run")),
    "report": (ReportRequest, ("name",)),
    "check": (CheckRequest, ("target", "serving")),
    "capture": (CaptureRequest, ()),
    "statements": (StatementsRequest, ("color",)),
}
ACTIONS: tuple[str, ...] = tuple(_SCHEMA)


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), "null" if value is None else type(value).__name__)


def _bool(event: dict, key: str) -> bool:
    value = event.get(key, False)
    if not isinstance(value, bool):
        raise InvalidEvent(f'"{key}" must be true or false, not {_type_name(value)} {value!r:.40}')
    return value


def _target(event: dict) -> str | None:
    if "target" not in event:
        return None
    value = event["target"]
    if not isinstance(value, str):
        raise InvalidEvent(f'"target" must be a migration id string (e.g. "0003"), not {_type_name(value)}')
    if not _TARGET.match(value):
        raise InvalidEvent(
            f'"target" {value[:60]!r} is not a migration id: '
            'use letters, digits, "_", "." or "-" (e.g. "0003")'
        )
    return value


def _steps(event: dict) -> int | None:
    if "steps" not in event:
        return None
    value = event["steps"]
    # bool is a subclass of int in Python; `true` is not a number of steps.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f'"steps" must be a whole number from 1 to {MAX_STEPS}, not {_type_name(value)}')
    if not 1 <= value <= MAX_STEPS:
        raise InvalidEvent(f'"steps" must be from 1 to {MAX_STEPS}, not {value}')
    return value


def _baseline(event: dict) -> BaselineRequest:
    target = _target(event)
    tool = event.get("from")
    table = event.get("table")
    if table is not None and tool is None:
        raise InvalidEvent('"table" names the "from" tool\'s state table; give "from" too')
    if target is None and tool is None:
        raise InvalidEvent(
            'baseline needs "target": the id of the last migration the database already has (everything up '
            'to it is recorded as applied without running), e.g. "0004"; or "from": the tool whose state '
            f"table says what ran ({', '.join(FOREIGN_TOOLS)})"
        )
    if target is not None and tool is not None:
        raise InvalidEvent('baseline takes "target" or "from", not both')
    if tool is not None and (not isinstance(tool, str) or tool not in FOREIGN_TOOLS):
        shown = repr(tool)[:60] if isinstance(tool, str) else _type_name(tool)
        raise InvalidEvent(
            f'"from" {shown} is not a tool baseline reads; use one of: {", ".join(FOREIGN_TOOLS)}'
        )
    if table is not None and (not isinstance(table, str) or not _TABLE.match(table)):
        shown = repr(table)[:60] if isinstance(table, str) else _type_name(table)
        raise InvalidEvent(
            f'"table" {shown} is not a table name: use name or schema.name (letters, digits, _), '
            'e.g. "ops.schema_migrations"; a quoted name is given without its quotes (each part is quoted)'
        )
    return BaselineRequest(target=target, dry_run=_bool(event, "dry_run"), from_tool=tool, table=table)


def _serving(event: dict) -> tuple[str, ...] | None:
    if "serving" not in event:
        return None
    value = event["serving"]
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if (
        not isinstance(value, list)
        or not value
        or any(v not in COLORS for v in value)
        or len(set(value)) != len(value)
    ):
        raise InvalidEvent(
            '"serving" lists the colours that still serve after the migrations: ["blue", "green"] (expand, '
            f'the default), or the live one alone for a contract step, e.g. ["green"]; not {value!r:.60}'
        )
    return tuple(c for c in COLORS if c in value)


def _color(event: dict) -> str | None:
    if "color" not in event:
        return None
    value = event["color"]
    if value not in COLORS:
        raise InvalidEvent(f'"color" must be "blue" or "green", not {value!r:.40}')
    return value


def parse_event(event: Any) -> Request:
    """The typed request for ``event``, or :class:`InvalidEvent` saying what to change."""
    if not isinstance(event, dict):
        raise InvalidEvent(
            f'the event must be a JSON object such as {{"action": "list"}}, not {_type_name(event)}'
        )
    valid = ", ".join(ACTIONS)
    if "action" not in event:
        raise InvalidEvent(f'the event has no "action"; use one of: {valid}')
    action = event["action"]
    if not isinstance(action, str) or action not in _SCHEMA:
        shown = repr(action)[:60] if isinstance(action, str) else _type_name(action)
        raise InvalidEvent(f"unknown action {shown}; use one of: {valid}")
    _, allowed = _SCHEMA[action]
    unknown = sorted(str(key)[:60] for key in event if key != "action" and key not in allowed)
    if unknown:
        takes = ", ".join(f'"{k}"' for k in allowed) or "no other keys"
        raise InvalidEvent(
            f'action "{action}" does not take {", ".join(repr(k) for k in unknown)}; it takes: {takes}'
        )

    if action == "migrate":
        return MigrateRequest(
            target=_target(event),
            dry_run=_bool(event, "dry_run"),
            allow_contract=_bool(event, "allow_contract"),
            allow_incompatible=_bool(event, "allow_incompatible"),
            serving=_serving(event),
        )
    if action == "check":
        return CheckRequest(target=_target(event), serving=_serving(event))
    if action == "capture":
        return CaptureRequest()
    if action == "statements":
        return StatementsRequest(color=_color(event))
    if action == "list":
        return ListRequest()
    if action == "rollback":
        steps, target = _steps(event), _target(event)
        if steps is None and target is None:
            raise InvalidEvent(
                'rollback needs "steps" (how many applied migrations to undo, e.g. 1) '
                'or "target" (undo everything applied after that migration id)'
            )
        if steps is not None and target is not None:
            raise InvalidEvent('rollback takes "steps" or "target", not both')
        return RollbackRequest(steps=steps, target=target, dry_run=_bool(event, "dry_run"))
    if action == "seed":
        return SeedRequest(allow_production_seed=_bool(event, "allow_production_seed"))
    if action == "baseline":
        return _baseline(event)
    if action == "report":
        name = event.get("name")
        if not isinstance(name, str) or not _REPORT_NAME.match(name):
            raise InvalidEvent(
                'action "report" needs "name": a report\'s name, e.g. "locks" (`make help` lists them)'
            )
        return ReportRequest(name=name)
    # sql
    if "sql" not in event:
        raise InvalidEvent(
            'action "sql" needs "sql": one read-only statement, e.g. "SELECT count(*) FROM users"'
        )
    sql = event["sql"]
    if not isinstance(sql, str):
        raise InvalidEvent(f'"sql" must be a string, not {_type_name(sql)}')
    if not sql.strip():
        raise InvalidEvent('"sql" is empty; give one read-only statement')
    if len(sql) > MAX_SQL_LENGTH:
        raise InvalidEvent(f'"sql" is {len(sql)} characters; the limit is {MAX_SQL_LENGTH}')
    return SqlRequest(sql=sql)
