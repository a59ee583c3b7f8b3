"""What another tool's configuration says about where its migrations ran: the schema search path, and for
Flyway its history table and migration locations. Read by ``make import-migrations`` so that pending
migrations with unqualified names run where the old tool would have run them.

- **Flyway** (``flyway.conf`` / ``flyway.toml`` in DIR, in DIR's parent, or in their ``conf/`` folder):
  ``flyway.defaultSchema`` (else the first of ``flyway.schemas``) is the schema Flyway puts in front of the
  connection's search path before it runs a migration (its PostgreSQL connection runs
  ``set_config('search_path', '<schema>,' || <original search path>, false)``); ``flyway.table`` lives in
  that schema; ``flyway.locations`` (``filesystem:`` paths, relative to the configuration file's folder)
  are where the migrations are.
- **golang-migrate, dbmate, goose**: a ``DATABASE_URL`` (goose: ``GOOSE_DBSTRING``) in a ``.env`` file in
  DIR or up to two folders above it (dbmate's documented default layout is ``.env`` next to
  ``db/migrations``), with ``?search_path=`` or ``options=-csearch_path=`` in it. The tool's state table
  then lives in the first schema of that path (where an unqualified CREATE TABLE puts it).

Nothing here connects to a database or reads a password: only the names above are looked at.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["ToolConfig", "read_config", "search_path_sql"]

_STATE_TABLES = {
    "golang-migrate": "schema_migrations",
    "dbmate": "schema_migrations",
    "goose": "goose_db_version",
}
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


@dataclass
class ToolConfig:
    """``schemas``: the search path to set (None: the old tool set none the import can see). ``prepend``:
    Flyway's way (put them in front of the session's own path) rather than replace it. ``where``: the file
    it was read from, for messages."""

    schemas: list[str] | None = None
    prepend: bool = False
    where: str | None = None
    setting: str | None = None
    table: str | None = None
    locations: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _properties(path: Path) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key.startswith("flyway."):
            settings[key.removeprefix("flyway.")] = value
    return settings


def _toml(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return {}
    flyway = data.get("flyway", {}) if isinstance(data.get("flyway"), dict) else {}
    settings: dict[str, str] = {}
    environments = data.get("environments", {})
    chosen = (
        environments.get(flyway.get("environment", "default"), {}) if isinstance(environments, dict) else {}
    )
    for source in (chosen if isinstance(chosen, dict) else {}, flyway):
        for key in ("defaultSchema", "schemas", "table", "locations"):
            value = source.get(key)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            if value is not None and key not in settings:
                settings[key] = str(value)
    return settings


def _flyway(folder: Path) -> ToolConfig:
    for base in (folder, folder.parent):
        for name in ("flyway.conf", "flyway.toml", "conf/flyway.conf", "conf/flyway.toml"):
            path = base / name
            if path.is_file():
                return _flyway_settings(path)
    return ToolConfig()


def _flyway_settings(path: Path) -> ToolConfig:
    settings = _toml(path) if path.suffix == ".toml" else _properties(path)
    config = ToolConfig(where=str(path), prepend=True)
    schemas = [s.strip().strip('"') for s in settings.get("schemas", "").split(",") if s.strip()]
    default = settings.get("defaultSchema", "").strip().strip('"') or (schemas[0] if schemas else "")
    if default:
        config.schemas = [default]
        config.setting = "flyway.defaultSchema" if settings.get("defaultSchema") else "flyway.schemas"
    table = settings.get("table", "").strip()
    if table:
        config.table = f"{default}.{table}" if default else table
    elif default:
        config.table = f"{default}.flyway_schema_history"
    base = path.parent.parent if path.parent.name == "conf" else path.parent
    for location in (s.strip() for s in settings.get("locations", "").split(",") if s.strip()):
        kind, _, rest = location.rpartition(":")
        if kind in ("", "filesystem"):
            config.locations.append((base / rest).resolve())
        else:
            config.problems.append(
                f"{path.name}: location {location!r} is not a filesystem: path; give its folder as DIR"
            )
    return config


def _database_url(folder: Path) -> ToolConfig:
    for base in (folder, folder.parent, folder.parent.parent):
        env = base / ".env"
        if not env.is_file():
            continue
        for line in env.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.strip().removeprefix("export ").partition("=")
            if key.strip() not in ("DATABASE_URL", "GOOSE_DBSTRING"):
                continue
            path = _url_search_path(value.strip().strip("'\""))
            if path:
                return ToolConfig(path, where=str(env), setting=f"{key.strip()} search_path")
            return ToolConfig(where=str(env))
    return ToolConfig()


def _url_search_path(url: str) -> list[str] | None:
    query = parse_qs(urlsplit(url).query)
    for value in query.get("search_path", []):
        return [_folded(s) for s in unquote(value).split(",") if s.strip()]
    for value in query.get("options", []):
        match = re.search(r"-c\s*search_path=([^ ]+)", unquote(value))
        if match:
            return [_folded(s) for s in match.group(1).split(",") if s.strip()]
    return None


def _folded(name: str) -> str:
    """A search path entry as PostgreSQL reads it: a quoted name as written, an unquoted one in lower case
    (the files are written with every name quoted)."""
    name = name.strip()
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == '"' else name.lower()


def read_config(tool: str, folder: Path) -> ToolConfig:
    """What ``tool``'s configuration around ``folder`` says (an empty :class:`ToolConfig` when none)."""
    config = _flyway(folder) if tool == "flyway" else _database_url(folder)
    if config.schemas and tool != "flyway":
        first = next((s for s in config.schemas if s != "$user"), None)
        config.table = first and f"{first}.{_STATE_TABLES[tool]}"
    if config.schemas:
        bad = [s for s in config.schemas if not _SCHEMA.match(s) and s != "$user"]
        if bad:
            config.problems.append(
                f"{config.where}: search path entry {bad[0]!r} is not a plain schema name; give SEARCH_PATH="
            )
            config.schemas = None
    return config


def parse_search_path(value: str) -> list[str]:
    """``SEARCH_PATH=billing,public`` as schema names; raises ValueError naming a bad one."""
    names = [_folded(s) for s in value.split(",") if s.strip()]
    for name in names:
        if not _SCHEMA.match(name) and name != "$user":
            raise ValueError(f"SEARCH_PATH: {name!r} is not a schema name (letters, digits, _)")
    if not names:
        raise ValueError("SEARCH_PATH is empty: give schema names, e.g. SEARCH_PATH=billing")
    return names


def search_path_sql(schemas: list[str], *, prepend: bool, local: bool) -> str:
    """The statement that sets the search path for one migration: ``local`` (inside its transaction) ends
    with it; otherwise the file ends with ``RESET search_path``. Prepending is Flyway's own way."""
    quoted = ", ".join(f'"{s}"' for s in schemas)
    if prepend:
        literal = quoted.replace("'", "''")
        return (
            f"SELECT pg_catalog.set_config('search_path', '{literal}, ' || "
            f"pg_catalog.current_setting('search_path'), {'true' if local else 'false'});"
        )
    return f"SET {'LOCAL ' if local else ''}search_path TO {quoted};"
