"""The migrator's results for people: a table for `list`, rows for `sql`, a line per migration for the
commands that change something, and one line for an error. ``FORMAT=json`` bypasses all of this (the JSON
result is the last line of stdout, as the Lambda returns it).

The migrator speaks in event keys (``"steps" must be ...``, "run the list action") because the Lambda is
also invoked with raw JSON events; :func:`in_make_terms` rewrites a message for someone who typed a make
command (``STEPS=``, ``make migrate ACTION=list``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Event keys whose make variable is not simply the key in upper case.
_MAKE_VARIABLE: dict[str, str] = {}
_QUOTED_KEY = re.compile(r'"([a-z][a-z_]*)"(?=\s*(?:must|is|needs|\(|or|,|;|:|\)|$| takes| and| from))')
_ACTION_REFERENCE = re.compile(r"\brun the (\w+) action\b")
_ACTION_NAMED = re.compile(r'\baction "(\w+)"')
_FLAG_TRUE = re.compile(r"\bwith ([a-z_]+): true\b")
_NOT_TAKEN = re.compile(r"does not take ([^;]+);")
_EVENT_TYPE = re.compile(r", not (?:string|integer|number|boolean|array|object|null)(?: '[^']*')?$")

MAX_CELL = 60


def make_variable(key: str) -> str:
    return _MAKE_VARIABLE.get(key, key.upper())


def in_make_terms(message: str, given: Mapping[str, Any] | None = None) -> str:
    """A migrator message with event keys named as make variables: ``"steps" must be`` -> ``STEPS=abc must
    be`` (with the value given, from ``given``), ``run the list action`` -> ``run `make migrate
    ACTION=list```. Every make value is text, so the event's type names ("not string") are dropped."""
    given = given or {}

    def variable(match: re.Match) -> str:
        key = match[1]
        value = given.get(key)
        shown = "" if value is None or isinstance(value, bool) or key == "sql" else str(value)[:60]
        return f"{make_variable(key)}={shown}"

    message = _ACTION_REFERENCE.sub(lambda m: f"run `make migrate ACTION={m[1]}`", message)
    message = _FLAG_TRUE.sub(lambda m: f"with {make_variable(m[1])}=1", message)
    message = _ACTION_NAMED.sub(lambda m: f"ACTION={m[1]}", message)
    message = _NOT_TAKEN.sub(
        lambda m: "does not take " + re.sub(r"'([a-z_]+)'", lambda k: f"{make_variable(k[1])}=", m[1]) + ";",
        message,
    )
    message = message.replace("it takes: no other keys", "it takes no other variable")
    message = _QUOTED_KEY.sub(variable, message)
    return _EVENT_TYPE.sub("", message)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, align_right: Iterable[int] = ()) -> str:
    """A plain-text table (no colour, no box drawing: it reads the same in a pipe and a terminal)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    right = set(align_right)

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value} ms"


def _render_list(result: dict) -> str:
    rows = []
    for m in result.get("migrations", []):
        flags = [
            name
            for name, on in (
                ("contract", m.get("contract")),
                ("no-transaction", m.get("transactional") is False),
                ("irreversible", m.get("reversible") is False),
                ("no-op reverse", m.get("reverse_noop")),
            )
            if on
        ]
        applied = (m.get("applied_at") or "")[:19].replace("T", " ") or None
        rows.append(
            [m["id"], m.get("name"), m.get("state"), applied, _ms(m.get("duration_ms")), ", ".join(flags)]
        )
    counts = result.get("counts") or {}
    summary = (
        ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in counts.items() if n) or "no migrations"
    )
    return table(["id", "name", "state", "applied at (UTC)", "took", "notes"], rows, align_right=[4]) + (
        f"\n\n{summary}"
    )


def _render_sql(result: dict) -> str:
    columns = result.get("columns") or []
    names = [c["name"] if isinstance(c, dict) else str(c) for c in columns]
    rows = result.get("rows") or []
    body = table(names, rows) if names else "(no columns)"
    count = result.get("row_count", len(rows))
    tail = f"({count} row{'s' if count != 1 else ''}"
    if result.get("truncated"):
        tail += f"; truncated: {result.get('truncated_reason') or 'over the limit'}"
    tail += f"; as {result['role']})" if result.get("role") else ")"
    return f"{body}\n{tail}"


_DONE_LISTS = {
    "applied": "applied",
    "would_apply": "would apply",
    "rolled_back": "rolled back",
    "would_roll_back": "would roll back",
    "baselined": "baselined",
    "would_baseline": "would baseline",
    "seeded": "seeded",
}


def _item_line(verb: str, item: dict) -> str:
    label = " ".join(str(item[k]) for k in ("id", "name") if item.get(k))
    extras = []
    if item.get("duration_ms") is not None:
        extras.append(_ms(item["duration_ms"]))
    if (item.get("attempts") or 1) > 1:
        extras.append(f"{item['attempts']} attempts")
    if item.get("rows_changed") is not None:
        extras.append(f"{item['rows_changed']} rows")
    if item.get("contract"):
        extras.append("contract")
    notices = item.get("notices") or []
    extras += [f"{n.get('severity', 'NOTICE')}: {n.get('message', '')}" for n in notices[:3]]
    return f"  {verb} {label}" + (f" ({'; '.join(extras)})" if extras else "")


def _render_generic(result: dict) -> str:
    """Any other result (or the rest of a known one): lists of migrations as lines, lists of objects as a
    table, other values as ``key: value``."""
    lines: list[str] = []
    for key, value in result.items():
        if key in ("ok", "action", "duration_ms", "error", "dry_run") or value is None:
            continue
        if key in _DONE_LISTS and isinstance(value, list):
            if value or not any(result.get(k) for k in _DONE_LISTS):
                lines += [_item_line(_DONE_LISTS[key], item) for item in value if isinstance(item, dict)]
            continue
        lines += _value_lines(key, value)
    return "\n".join(lines)


def _flat(value: Any) -> bool:
    """A value that fits on one line: a scalar, or a list of scalars."""
    if isinstance(value, list):
        return not any(isinstance(v, (dict, list)) for v in value)
    return not isinstance(value, dict)


def _flat_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "none"
    return _cell(value)


def _value_lines(key: str, value: Any, indent: str = "") -> list[str]:
    """``key: value`` as lines of text, never JSON: a flat dict on one line (``k=v, k=v``), a nested one as
    an indented line per key, a list of objects as a table (one level of nesting per indent)."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        if all(_flat(x) for v in value for x in v.values()):
            headers = list(dict.fromkeys(k for v in value for k in v))
            rows = [[_flat_text(v.get(h)) if v.get(h) is not None else None for h in headers] for v in value]
            body = table(headers, rows)
            return [f"{indent}{key}:", *(f"{indent}  {line}" for line in body.splitlines())]
        return [
            f"{indent}{key}:",
            *(line for i, v in enumerate(value, 1) for line in _value_lines(str(i), v, indent + "  ")),
        ]
    if isinstance(value, dict):
        if all(_flat(v) for v in value.values()):
            shown = ", ".join(f"{k}={_flat_text(v)}" for k, v in value.items() if v is not None)
            return [f"{indent}{key}: {shown or 'none'}"]
        lines = [f"{indent}{key}:"]
        for k, v in value.items():
            if v is not None:
                lines += _value_lines(str(k), v, indent + "  ")
        return lines
    if isinstance(value, list):
        if _flat(value):
            return [f"{indent}{key}: {', '.join(_cell(v) for v in value) or '—'}"]
        return [
            f"{indent}{key}:",
            *(line for i, v in enumerate(value, 1) for line in _value_lines(str(i), v, indent + "  ")),
        ]
    return [f"{indent}{key}: {_cell(value)}"]


def render(result: dict) -> str:
    """A successful result as text (errors: :func:`render_error`)."""
    action = result.get("action")
    if action == "list":
        return _render_list(result)
    if action == "sql":
        return _render_sql(result)
    if action == "report":
        head = [f"{result.get('report')}: {result.get('description')}"] if result.get("description") else []
        note = [f"note: {result['note']}"] if result.get("note") else []
        return "\n".join([*head, _render_sql(result), *note])
    done = [k for k in _DONE_LISTS if k in result]
    head = ""
    if action in ("migrate", "rollback", "baseline", "seed") and not any(result.get(k) for k in done):
        head = {
            "migrate": "nothing to apply: every migration is applied",
            "rollback": "nothing rolled back",
            "baseline": "nothing to record: every migration up to the target is already recorded",
            "seed": "no seeds",
        }[action]
    if result.get("dry_run"):
        head = "dry run, nothing was changed" + (f"; {head}" if head else "")
    compatibility = result.get("compatibility")
    warnings: list[str] = []
    if isinstance(compatibility, dict) and compatibility.get("warnings"):
        warnings = [
            f"warning: {w.get('color')}'s {w.get('statement')!r} after {w.get('migration')}: "
            f"{w.get('warning')}"
            for w in compatibility["warnings"]
        ]
        result = {**result, "compatibility": {k: v for k, v in compatibility.items() if k != "warnings"}}
    if action == "baseline" and isinstance(result.get("warnings"), list):
        warnings += [f"warning: {w}" for w in result["warnings"]]
        result = {k: v for k, v in result.items() if k != "warnings"}
    body = _render_generic(result)
    return "\n".join(part for part in (head, body, *warnings) if part)


def render_error(result: dict) -> str:
    """One line: the error's type and message, in make's terms; partial progress on the next lines."""
    error = result.get("error") or {}
    line = f"error ({error.get('type', 'Error')}): {in_make_terms(str(error.get('message', '')))}"
    partial = [
        _item_line(_DONE_LISTS[k], item)
        for k in ("applied", "rolled_back", "baselined", "seeded")
        for item in result.get(k) or []
        if isinstance(item, dict)
    ]
    return "\n".join([line, *partial])
