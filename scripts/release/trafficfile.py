"""The one source of truth for traffic: ``live_color`` and ``canary_percent`` in the env tfvars.

They live in ``terraform/env/<env>.tfvars``.

Every target that changes traffic writes these two lines here (and only their values: every other byte of
the file stays as it was), so ``git diff`` shows the switch a pull request should carry, and a plain
``terraform plan -var-file=env/<env>.tfvars`` reproduces what is live. Nothing passes ``-var live_color``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from scripts.release.tf import env_dir

COLORS = ("blue", "green")
# A top-level assignment: at the start of a line, so `live_color` inside a block or a comment is not it.
_ASSIGNMENT = {
    "live_color": re.compile(r'^(?P<head>live_color[ \t]*=[ \t]*)"(?P<value>[^"\n]*)"', re.M),
    "canary_percent": re.compile(r"^(?P<head>canary_percent[ \t]*=[ \t]*)(?P<value>[^\s#]+)", re.M),
}
TRAFFIC_KEYS = tuple(_ASSIGNMENT)


class TrafficFileError(RuntimeError):
    """The traffic settings cannot be read or written; the message says which file and what to do."""


@dataclass(frozen=True)
class Traffic:
    live_color: str
    canary_percent: int = 0

    @property
    def other_color(self) -> str:
        return "green" if self.live_color == "blue" else "blue"

    @property
    def weights(self) -> dict[str, int]:
        return dict(
            sorted(
                {self.live_color: 100 - self.canary_percent, self.other_color: self.canary_percent}.items()
            )
        )

    @classmethod
    def for_share(cls, source: str, target: str, percent: int) -> Traffic:
        """The settings that send ``percent`` of traffic to ``target`` and the rest to ``source``. At or
        below 50 the source stays live with a canary (canary_percent may be at most 50)."""
        if percent <= 50:
            return cls(source, percent)
        return cls(target, 100 - percent)

    def describe(self) -> str:
        return f'live_color = "{self.live_color}", canary_percent = {self.canary_percent}'


def deployed(outputs: dict) -> Traffic | None:
    """The traffic settings the Terraform state holds, from its outputs (None when nothing is deployed)."""
    live = outputs.get("live_color")
    if live not in ("blue", "green"):
        return None
    other = "green" if live == "blue" else "blue"
    return Traffic(live, int((outputs.get("traffic_weights") or {}).get(other) or 0))


def show_weights(weights: dict[str, int] | None) -> str:
    """Weights as every target prints them: ``blue 90 / green 10`` (colours in order; ``-`` for none)."""
    return " / ".join(f"{color} {weight}" for color, weight in sorted((weights or {}).items())) or "-"


def path_for(env: str) -> Path:
    return env_dir() / f"{env}.tfvars"


def shown(path: Path) -> str:
    """``path`` as messages name it: relative to the working directory when under it."""
    shown = os.path.relpath(path)
    return str(path) if shown.startswith("..") else shown


def _matches(text: str, key: str, path: Path) -> list[re.Match[str]]:
    found = list(_ASSIGNMENT[key].finditer(text))
    if len(found) > 1:
        raise TrafficFileError(f"{shown(path)} sets {key} {len(found)} times: keep exactly one line")
    return found


def read(path: Path) -> Traffic:
    """The traffic settings written in ``path``."""
    if not path.exists():
        raise TrafficFileError(f"{shown(path)} does not exist")
    text = path.read_text()
    color = _matches(text, "live_color", path)
    if not color:
        raise TrafficFileError(f'{shown(path)} has no line `live_color = "blue"` (or "green"): add one')
    live = color[0]["value"]
    if live not in COLORS:
        raise TrafficFileError(f'{shown(path)} says live_color = "{live}": it must be "blue" or "green"')
    canary_match = _matches(text, "canary_percent", path)
    canary = 0
    if canary_match:
        raw = canary_match[0]["value"]
        if not raw.isdigit() or not 0 <= int(raw) <= 50:
            raise TrafficFileError(
                f"{shown(path)} says canary_percent = {raw}: it must be a whole number from 0 to 50"
            )
        canary = int(raw)
    return Traffic(live, canary)


def render(text: str, traffic: Traffic, path: Path) -> str:
    """``text`` with the two values replaced; every other byte unchanged. A missing canary_percent line is
    added right after live_color."""
    color = _matches(text, "live_color", path)
    if not color:
        raise TrafficFileError(f'{shown(path)} has no line `live_color = "blue"` (or "green"): add one')
    canary = _matches(text, "canary_percent", path)
    edits = [(color[0].span("value"), traffic.live_color)]
    if canary:
        edits.append((canary[0].span("value"), str(traffic.canary_percent)))
    else:
        end = text.find("\n", color[0].end())
        end = len(text) if end == -1 else end
        edits.append(((end, end), f"\ncanary_percent = {traffic.canary_percent}"))
    for (start, stop), value in sorted(edits, reverse=True):
        text = text[:start] + value + text[stop:]
    return text


def write(path: Path, traffic: Traffic) -> bool:
    """Write ``traffic`` into ``path``; True when the file changed. Written whole through a temporary file
    and a rename, so a kill never leaves half a file."""
    if traffic.live_color not in COLORS or not 0 <= traffic.canary_percent <= 50:
        raise TrafficFileError(f"not a valid traffic setting: {traffic.describe()}")
    old = path.read_text()
    new = render(old, traffic, path)
    if new == old:
        return False
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(new)
    os.replace(temporary, path)
    return True


def refuse_overrides(var_files: tuple[Path, ...], env: str) -> None:
    """An extra var file may not set traffic: that would make the committed file lie about what is live."""
    for var_file in var_files:
        text = var_file.read_text() if var_file.exists() else ""
        for key in TRAFFIC_KEYS:
            if re.search(rf"^[ \t]*{key}[ \t]*=", text, re.M):
                raise TrafficFileError(
                    f"{shown(var_file)} sets {key}, but traffic settings live only in "
                    f"{shown(path_for(env))}: remove it there and use COLOR=... or make release"
                )
