"""Edits to an env tfvars file as a developer's pull request would make them: one value at a time.

`make demo` changes what it deploys here, in the checkout's own ``terraform/env/<env>.tfvars``, so that what
it leaves deployed is what the checkout says, and the next ``make plan`` shows no change. Every other byte
of the file stays as it was (comments included); ``terraform fmt`` realigns the block afterwards. The
traffic lines (``live_color``, ``canary_percent``) are not edited here: ``trafficfile`` owns them.

Imports only ``trafficfile`` (for its key names) and the standard library; it never imports a command.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from scripts.release.trafficfile import TRAFFIC_KEYS

Value = str | int | bool


class EnvFileError(RuntimeError):
    """The file does not have the shape an edit needs; the message names the file and the line."""


def _hcl(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def _block(text: str, name: str, path: Path) -> tuple[int, int]:
    """The span of the body of the top-level ``name = { ... }`` block: from after its ``{`` line to its
    closing ``}`` line (which starts a line, as terraform fmt writes it)."""
    opening = re.search(rf"^{re.escape(name)}[ \t]*=[ \t]*\{{[ \t]*\n", text, re.M)
    if not opening:
        raise EnvFileError(f"{path} has no block `{name} = {{ ... }}` to edit")
    closing = re.compile(r"^\}[ \t]*$", re.M).search(text, opening.end())
    if not closing:
        raise EnvFileError(f"{path}: the block `{name}` has no closing `}}` at the start of a line")
    return opening.end(), closing.start()


def set_in_block(text: str, block: str, values: dict[str, Value | None], path: Path) -> str:
    """``text`` with ``block``'s attributes set to ``values`` (None removes one); a missing one is added
    at the end of the block."""
    start, end = _block(text, block, path)
    body = text[start:end]
    for key, value in values.items():
        line = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=.*\n", re.M)
        found = line.search(body)
        new = "" if value is None else f"  {key} = {_hcl(value)}\n"
        if found:
            body = body[: found.start()] + new + body[found.end() :]
        else:
            body += new
    return text[:start] + body + text[end:]


def set_top(text: str, values: dict[str, Value | None], path: Path) -> str:
    """``text`` with top-level assignments set to ``values`` (None removes one); a missing one is added at
    the end of the file. Traffic keys are refused: trafficfile writes those."""
    for key, value in values.items():
        if key in TRAFFIC_KEYS:
            raise EnvFileError(f"{key} is a traffic setting: write it with scripts.release.trafficfile")
        line = re.compile(rf"^{re.escape(key)}[ \t]*=.*\n?", re.M)
        found = line.search(text)
        new = "" if value is None else f"{key} = {_hcl(value)}\n"
        if found:
            text = text[: found.start()] + new + text[found.end() :]
        elif new:
            text = text + ("" if text.endswith("\n") else "\n") + new
    return text


def edit(
    path: Path,
    *,
    blocks: dict[str, dict[str, Value | None]] | None = None,
    top: dict[str, Value | None] | None = None,
) -> bool:
    """Apply the edits to ``path`` (written whole through a rename), then ``terraform fmt`` it; True when
    the file changed."""
    old = path.read_text()
    new = old
    for name, values in (blocks or {}).items():
        new = set_in_block(new, name, values, path)
    new = set_top(new, top or {}, path)
    if new == old:
        return False
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(new)
    os.replace(temporary, path)
    subprocess.run(["terraform", "fmt", "-list=false", str(path)], check=True, capture_output=True)
    return path.read_text() != old
