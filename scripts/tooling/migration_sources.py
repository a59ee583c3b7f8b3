"""Read another tool's migration folder, and convert each migration into the kit's up/down files.

Each tool's documented conventions, exactly:

- **golang-migrate**: ``<version>_<title>.up.sql`` and ``<version>_<title>.down.sql`` (the version is an
  unsigned integer). Each file runs as one multi-statement message, so it is atomic
  unless it controls transactions itself, and a statement PostgreSQL refuses in a transaction block
  (``CREATE INDEX CONCURRENTLY``) only works alone in its file.
- **dbmate**: one ``<digits>....sql`` file with ``-- migrate:up`` then ``-- migrate:down`` blocks (several
  pairs allowed); ``transaction:false`` on a block's marker line runs it outside a transaction.
- **Flyway**: ``V<version>__<description>.sql`` (``_`` in the version is ``.``), optional
  ``U<version>__...sql`` undo files, and ``<file>.conf`` script configuration
  (``executeInTransaction=false``). Repeatable ``R__`` files, Java (and other non-SQL) migrations, baseline
  ``B`` migrations and callbacks are refused by name: the kit has no equivalent. Placeholders (``${...}``)
  are refused unless the script turns replacement off. Flyway runs a script that contains a
  non-transactional statement outside a transaction.
- **goose**: ``<version>_<name>.sql`` with ``-- +goose Up``, ``-- +goose Down``, ``-- +goose NO TRANSACTION``,
  ``-- +goose StatementBegin``/``StatementEnd``; ``.go`` migrations and ``ENVSUB`` are refused.

Conversion (:func:`convert`) keeps the SQL as written and writes the kit's directives in the up file's
header: ``origin <tool> <version>`` always, ``no-transaction`` when the old tool ran it outside a
transaction. A block that runs in a transaction but holds its own ``BEGIN; ... COMMIT;`` loses exactly that
wrapper (the kit's transaction holds it together with its history row); any other transaction control
makes the migration ``no-transaction``, run as written. A down that is empty (what ``migrate create``
leaves; a goose ``Down`` section with nothing in it) or missing (a golang-migrate migration without a down
file, a goose file without ``-- +goose Down``, a Flyway migration without ``U`` file) is irreversible: the old
tool would step over it, and a rollback that reports success while undoing nothing is how a rollback lies.
A down holding only comments is someone's decision that nothing needs undoing: a no-op reverse, noted at
import.

With a search path (``convert(source, search_path)``, read from the old tool's configuration by
:mod:`scripts.tooling.tool_config` or given as ``SEARCH_PATH=``), each up and down file sets it first
(``LOCAL`` in the kit's transaction; for the session in a ``no-transaction`` file) and ends with
``RESET search_path``, so neither the history row nor the next migration runs on it. A Flyway file's header
also carries Flyway's own checksum of it (``-- migrator: flyway-checksum``), which the baseline compares.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.runner import transactions
from migrator.runner.manifest import is_noop
from migrator.runner.origins import version_key

from scripts.tooling.tool_config import search_path_sql

SearchPath = tuple[list[str], bool]  # schemas, and whether they go in front of the session's own path

__all__ = ["Chunk", "Converted", "ImportRefused", "Refusal", "Source", "convert", "read_folder"]


@dataclass
class Chunk:
    """One block the old tool ran as a unit: in a transaction of its own (``transactional``) or not."""

    sql: str
    transactional: bool = True


@dataclass
class Source:
    """One migration as the old tool sees it. ``down`` is None when there is no down at all."""

    tool: str
    version: str
    title: str
    files: list[str]
    up: list[Chunk]
    down: list[Chunk] | None
    notes: list[str] = field(default_factory=list)
    checksum: int | None = None  # Flyway's own checksum of the versioned file (what its table records)

    @property
    def key(self) -> Any:
        return version_key(self.tool, self.version)

    @property
    def kit_id(self) -> str:
        return self.version.replace("_", ".") if self.tool == "flyway" else self.version

    @property
    def stem(self) -> str:
        return f"{self.kit_id}_{self.title or 'migration'}"


@dataclass(frozen=True)
class Refusal:
    file: str
    reason: str


class ImportRefused(Exception):
    """Nothing was imported; ``refusals`` names each file and why."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__("; ".join(f"{r.file}: {r.reason}" for r in refusals))
        self.refusals = refusals


def _text(path: Path, refusals: list[Refusal], encoding: str = "utf-8") -> str | None:
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        refusals.append(Refusal(path.name, f"not {encoding} text ({exc.reason} at byte {exc.start})"))
        return None
    except LookupError:
        refusals.append(Refusal(path.name, f"unknown encoding {encoding!r} in its script configuration"))
        return None
    return text.removeprefix("\ufeff")


# ------------------------------------------------------------------------------------------ golang-migrate

_GOLANG = re.compile(r"^([0-9]+)_(.*)\.(down|up)\.(.*)$")


def _golang_migrate(folder: Path, refusals: list[Refusal], ignored: list[str]) -> list[Source]:
    titles: dict[int, tuple[str, str]] = {}  # version -> (as written, title)
    paths: dict[tuple[int, str], Path] = {}  # (version, "up"|"down") -> file
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        match = _GOLANG.match(path.name)
        if not match:
            ignored.append(path.name)
            continue
        version, title, direction, extension = match.groups()
        if extension != "sql":
            refusals.append(
                Refusal(path.name, f"a .{extension} migration, not SQL: the kit runs PostgreSQL SQL")
            )
            continue
        titles.setdefault(int(version), (version, title))
        if (int(version), direction) in paths:
            other = paths[int(version), direction].name
            refusals.append(Refusal(path.name, f"version {int(version)} has two {direction} files ({other})"))
            continue
        paths[int(version), direction] = path
    sources = []
    for number, (version, title) in titles.items():
        up_path, down_path = paths.get((number, "up")), paths.get((number, "down"))
        if up_path is None:
            if down_path is not None:
                refusals.append(Refusal(down_path.name, "a down file without its up file"))
            continue
        up = _text(up_path, refusals)
        down = _text(down_path, refusals) if down_path is not None else None
        if up is None or (down_path is not None and down is None):
            continue
        notes = [] if down is not None else ["no down file: irreversible (golang-migrate would step over it)"]
        files = [up_path.name] + ([down_path.name] if down_path is not None else [])
        sources.append(
            Source(
                "golang-migrate",
                version,
                title,
                files,
                [Chunk(up)],
                None if down is None else [Chunk(down)],
                notes,
            )
        )
    return sources


# ------------------------------------------------------------------------------------------------ dbmate

_DBMATE_FILE = re.compile(r"^(\d+).*\.sql$")
_DBMATE_UP = re.compile(r"^--\s*migrate:up(\s*$|\s+\S+.*$)", re.M)
_DBMATE_DOWN = re.compile(r"^--\s*migrate:down(\s*$|\s+\S+.*$)", re.M)


def _dbmate_block(text: str, marker: re.Match[str]) -> Chunk:
    options = dict(
        pair.split(":", 1) for pair in marker.group(1).split() if pair.count(":") == 1
    )  # dbmate's own parsing: key:value pairs after the marker
    body = text[marker.end() :].removeprefix("\n")
    return Chunk(body, options.get("transaction") != "false")


def _dbmate(folder: Path, refusals: list[Refusal], ignored: list[str]) -> list[Source]:
    sources = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        match = _DBMATE_FILE.match(path.name)
        if not match:
            ignored.append(path.name)
            continue
        text = _text(path, refusals)
        if text is None:
            continue
        ups = list(_DBMATE_UP.finditer(text))
        if not ups:
            refusals.append(Refusal(path.name, "no '-- migrate:up' block (dbmate requires one)"))
            continue
        before = text[: ups[0].start()]
        if any(line.strip() and not line.lstrip().startswith("--") for line in before.splitlines()):
            refusals.append(Refusal(path.name, "statements before '-- migrate:up' (dbmate refuses those)"))
            continue
        up_chunks, down_chunks = [], []
        for index, up in enumerate(ups):
            end = ups[index + 1].start() if index + 1 < len(ups) else len(text)
            section = text[up.start() : end]
            downs = list(_DBMATE_DOWN.finditer(section))
            if len(downs) != 1:
                refusals.append(
                    Refusal(
                        path.name, "each '-- migrate:up' block needs exactly one '-- migrate:down' after it"
                    )
                )
                break
            up_marker = _DBMATE_UP.match(section)
            assert up_marker is not None
            up_chunks.append(_dbmate_block(section[: downs[0].start()], up_marker))
            down_chunks.append(_dbmate_block(section, downs[0]))
        else:
            up_chunks[0].sql = before + up_chunks[0].sql  # comments above the first marker stay with it
            title = path.name[len(match.group(1)) : -len(".sql")].lstrip("_")
            sources.append(Source("dbmate", match.group(1), title, [path.name], up_chunks, down_chunks))
    return sources


# ------------------------------------------------------------------------------------------------ Flyway

_FLYWAY = re.compile(r"^([VUBR])([^_]*(?:_[^_]+)*?)__(.*)\.([A-Za-z0-9]+)$")
_FLYWAY_CALLBACKS = re.compile(r"^(before|after)[A-Z][A-Za-z]*(__.*)?\.sql$")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def _script_config(path: Path, refusals: list[Refusal]) -> dict[str, str] | None:
    conf = path.with_name(path.name + ".conf")
    if not conf.is_file():
        return {}
    settings = {}
    for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        settings[key.removeprefix("flyway.")] = value
    if settings.get("shouldExecute", "true").lower() != "true":
        refusals.append(Refusal(conf.name, "shouldExecute: the kit runs every listed migration"))
        return None
    return settings


def flyway_checksum(text: str) -> int:
    """Flyway's checksum of a migration's text (its ChecksumCalculator): CRC32 updated with each line's
    UTF-8 bytes, lines split as Java's BufferedReader.readLine splits them (``\\r\\n``, ``\\r`` or ``\\n``,
    terminator dropped), a byte-order mark removed from the first line, the value as a signed 32-bit int."""
    crc = 0
    lines = _READLINE.split(text.removeprefix("\ufeff"))
    if lines and lines[-1] == "":
        lines.pop()  # a terminator at the end starts no further line
    for line in lines:
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= 1 << 31 else crc


_READLINE = re.compile(r"\r\n|\r|\n")


def _flyway_files(folder: Path) -> list[tuple[str, Path]]:
    """Every file under ``folder``, in sub-folders too (Flyway scans its locations recursively), named by
    its path relative to ``folder``."""
    return sorted(
        (p.relative_to(folder).as_posix(), p)
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _flyway(folder: Path, refusals: list[Refusal], ignored: list[str]) -> list[Source]:
    versioned: dict[Any, Source] = {}
    undo: dict[Any, tuple[str, str]] = {}
    for shown, path in _flyway_files(folder):
        if path.name.endswith(".conf") or path.name == "flyway.toml":
            continue
        name = shown  # messages and the imported header name the file by its path under DIR
        match = _FLYWAY.match(path.name)
        if _FLYWAY_CALLBACKS.match(path.name):
            refusals.append(
                Refusal(name, "a Flyway callback: the kit runs no callbacks; put its SQL in a migration")
            )
            continue
        if name.endswith((".java", ".kt", ".class")):
            refusals.append(
                Refusal(name, "a Java migration: the kit cannot run it; port it to SQL or Python")
            )
            continue
        if not match:
            ignored.append(shown)
            continue
        prefix, version, description, extension = match.groups()
        if prefix == "R":
            refusals.append(
                Refusal(
                    name, "a repeatable migration (R__): the kit runs each migration once; make it versioned"
                )
            )
            continue
        if extension != "sql":
            refusals.append(Refusal(name, f"a .{extension} script migration: the kit runs SQL only"))
            continue
        if prefix == "B":
            refusals.append(
                Refusal(
                    name, "a baseline migration (B): import the V files and use baseline FROM=flyway instead"
                )
            )
            continue
        try:
            key = version_key("flyway", version)
        except ValueError as exc:
            refusals.append(Refusal(name, str(exc)))
            continue
        config = _script_config(path, refusals)
        if config is None:
            continue
        text = _text(path, refusals, config.get("encoding", "utf-8"))
        if text is None:
            continue
        placeholder = _PLACEHOLDER.search(text)
        if placeholder and config.get("placeholderReplacement", "true").lower() == "true":
            refusals.append(
                Refusal(
                    name,
                    f"Flyway placeholder {placeholder.group(0)}: the kit substitutes nothing; "
                    "write the value in",
                )
            )
            continue
        transactional = config.get("executeInTransaction", "true").lower() != "false"
        if prefix == "U":
            undo[key] = (name, text)
            continue
        if key in versioned:
            refusals.append(Refusal(name, f"version {version} again (also {versioned[key].files[0]})"))
            continue
        versioned[key] = Source(
            "flyway",
            version,
            description,
            [name],
            [Chunk(text, transactional)],
            None,
            checksum=flyway_checksum(text),
        )
    for key, (name, text) in undo.items():
        if key not in versioned:
            refusals.append(Refusal(name, "an undo file without its versioned migration"))
            continue
        versioned[key].files.append(name)
        versioned[key].down = [Chunk(text)]
    for source in versioned.values():
        if source.down is None:
            source.notes.append("no undo (U) file: irreversible")
    return list(versioned.values())


# ------------------------------------------------------------------------------------------------- goose

_GOOSE_FILE = re.compile(r"^([0-9]+)_(.*)\.(sql|go)$")
_GOOSE_ANNOTATION = re.compile(r"^--\s*\+goose\s+(.*?)\s*$", re.I)


def _goose_file(
    path: Path, text: str, refusals: list[Refusal]
) -> tuple[list[Chunk], list[Chunk] | None] | None:
    up: list[str] = []
    down: list[str] = []
    target: list[str] | None = None
    transactional = True
    seen_down = False
    for line in text.splitlines(keepends=True):
        annotation = _GOOSE_ANNOTATION.match(line.strip()) if "+goose" in line else None
        if annotation is None:
            if target is not None:
                target.append(line)
            elif line.strip() and not line.lstrip().startswith("--"):
                refusals.append(Refusal(path.name, "SQL before '-- +goose Up' (goose refuses it)"))
                return None
            continue
        word = annotation.group(1).upper()
        if word == "UP":
            target = up
        elif word == "DOWN":
            target = down
            seen_down = True
        elif word == "NO TRANSACTION":
            transactional = False
        elif word.startswith("ENVSUB"):
            if word == "ENVSUB ON":
                refusals.append(
                    Refusal(
                        path.name,
                        "ENVSUB: goose substitutes environment variables at run time; the kit "
                        "does not (write the values in)",
                    )
                )
                return None
        elif word not in ("STATEMENTBEGIN", "STATEMENTEND"):
            refusals.append(Refusal(path.name, f"unknown goose annotation {annotation.group(1)!r}"))
            return None
    if target is None:
        refusals.append(Refusal(path.name, "no '-- +goose Up' annotation"))
        return None
    if not seen_down:
        return [Chunk("".join(up), transactional)], None  # no Down section: nothing to roll back with
    return [Chunk("".join(up), transactional)], [Chunk("".join(down), transactional)]


def _goose(folder: Path, refusals: list[Refusal], ignored: list[str]) -> list[Source]:
    sources: dict[int, Source] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        match = _GOOSE_FILE.match(path.name)
        if not match or int(match.group(1)) < 1:
            ignored.append(path.name)
            continue
        version, title, extension = match.groups()
        if extension == "go":
            refusals.append(
                Refusal(path.name, "a Go migration: the kit cannot run Go; port it to SQL or Python")
            )
            continue
        if int(version) in sources:
            refusals.append(
                Refusal(path.name, f"version {int(version)} again (also {sources[int(version)].files[0]})")
            )
            continue
        text = _text(path, refusals)
        blocks = None if text is None else _goose_file(path, text, refusals)
        if blocks is not None:
            notes = [] if blocks[1] is not None else ["no '-- +goose Down' section: irreversible"]
            sources[int(version)] = Source("goose", version, title, [path.name], *blocks, notes)
    return list(sources.values())


READERS: dict[str, Callable[[Path, list[Refusal], list[str]], list[Source]]] = {
    "golang-migrate": _golang_migrate,
    "dbmate": _dbmate,
    "flyway": _flyway,
    "goose": _goose,
}


def read_folder(tool: str, folder: Path) -> tuple[list[Source], list[Refusal], list[str]]:
    """The folder's migrations in the tool's own order, the files refused (with why) and the files that are
    not migrations of this tool at all (ignored, as the tool itself ignores them)."""
    refusals: list[Refusal] = []
    ignored: list[str] = []
    sources = READERS[tool](folder, refusals, ignored)
    keys: dict[Any, Source] = {}
    for source in sources:
        if source.key in keys:
            refusals.append(
                Refusal(source.files[0], f"the same version as {keys[source.key].files[0]} for {tool}")
            )
        keys[source.key] = source
    if tool == "dbmate":  # dbmate orders by file name (10_b before 1_a), not by version
        return sorted(sources, key=lambda s: s.files[0]), refusals, ignored
    return sorted(sources, key=lambda s: s.key), refusals, ignored


# -------------------------------------------------------------------------------------------- conversion


@dataclass
class Converted:
    """A migration in the kit's form: the file stem, the two files' text (down None: irreversible)."""

    source: Source
    transactional: bool
    up: str
    down: str | None
    notes: list[str]


def _analyse(chunk: Chunk, name: str, notes: list[str]) -> Chunk:
    """The chunk as the kit should hold it: a whole-file BEGIN/COMMIT unwrapped, other transaction control
    or a statement that cannot run in a transaction block turning it into one run as written. Every chunk
    is parsed, so SQL PostgreSQL's grammar does not accept is refused here rather than at run time."""
    _statements(chunk.sql)
    if not chunk.transactional:
        notes.append(f"{name}: marked to run outside a transaction: no-transaction")
        return chunk
    controls = transactions.control_statements(chunk.sql)
    if controls:
        unwrapped = transactions.unwrap(chunk.sql)
        if unwrapped is not None:
            notes.append(
                f"{name}: its own BEGIN/COMMIT removed (the kit's transaction holds it with its record)"
            )
            return Chunk(unwrapped, True)
        keywords = ", ".join(sorted({c.keyword for c in controls}))
        notes.append(f"{name}: manages its own transactions ({keywords}): no-transaction, run as written")
        return Chunk(chunk.sql, False)
    outside = transactions.outside_transaction_statements(chunk.sql)
    if outside:
        what, line = outside[0]
        notes.append(f"{name}: {what} (line {line}) cannot run in a transaction: no-transaction")
        return Chunk(chunk.sql, False)
    return chunk


def _statements(sql: str) -> int:
    from pglast.parser import parse_sql

    return len(parse_sql(sql))


def _body(chunks: list[Chunk], transactional: bool) -> str:
    if transactional:
        return "".join(c.sql if c.sql.endswith("\n") or not c.sql else c.sql + "\n" for c in chunks)
    parts = []
    for chunk in chunks:
        text = chunk.sql if chunk.sql.endswith("\n") or not chunk.sql else chunk.sql + "\n"
        # A block the old tool ran atomically stays atomic: run as written, its own BEGIN/COMMIT holds it.
        if chunk.transactional and _statements(text) > 1:
            text = f"BEGIN;\n{text}COMMIT;\n"
        parts.append(text)
    return "".join(parts)


def _blank(chunks: list[Chunk]) -> bool:
    """Nothing at all, not even a comment: what `migrate create` leaves (a comment says someone decided)."""
    return all(not c.sql.strip() for c in chunks)


def _with_search_path(body: str, path: SearchPath | None, transactional: bool) -> str:
    """``body`` run on ``path``: set first (``LOCAL`` inside the kit's transaction), reset at the end, so
    neither the history row nor the next migration runs on it."""
    if path is None or not body.strip():
        return body
    schemas, prepend = path
    first = search_path_sql(schemas, prepend=prepend, local=transactional)
    code = re.sub(r"(\s*--[^\n]*)+\s*$", "", body)  # a `;` in a trailing comment ends nothing
    newline = "" if body.endswith("\n") else "\n"  # RESET on a line of its own, never inside a comment
    end = "" if code.rstrip().endswith(";") else ";\n"
    return f"{first}\n{body}{newline}{end}RESET search_path;\n"


def convert(source: Source, search_path: SearchPath | None = None) -> Converted:
    """The kit's files for one migration (raises pglast's ParseError on SQL it cannot read).

    ``search_path``: the schemas the old tool ran it on (see :mod:`scripts.tooling.tool_config`) and
    whether it put them in front of the session's path (Flyway) or replaced it."""
    notes = list(source.notes)
    up = [_analyse(c, "up", notes) for c in source.up]
    down_name = source.files[-1] if len(source.files) > 1 else source.files[0]
    source_down = source.down
    if source_down is not None and _blank(source_down) and not _blank(source.up):
        # `migrate create` writes an empty down (golang-migrate, dbmate); a rollback that "succeeds" and
        # leaves the schema as it was is how a rollback lies, so the kit refuses to step over it.
        notes.append("its down is empty: irreversible (write the reverse SQL to make it reversible)")
        source_down = None
    elif source_down is not None and all(is_noop(c.sql) for c in source_down):
        notes.append("its down holds only comments: a rollback runs nothing and removes only the record")
    down = None if source_down is None else [_analyse(c, "down", notes) for c in source_down]
    transactional = all(c.transactional for c in [*up, *(down or [])])
    header = [
        f"-- Imported from {source.tool}: {', '.join(source.files)} (make import-migrations).",
        f"-- migrator: origin {source.tool} {source.kit_id}",
    ]
    if source.checksum is not None:
        header.append(f"-- migrator: flyway-checksum {source.checksum}")
    if not transactional:
        header.append("-- migrator: no-transaction")
    up_text = (
        "\n".join(header) + "\n" + _with_search_path(_body(up, transactional), search_path, transactional)
    )
    down_text = None
    if down is not None:
        down_text = f"-- Imported from {source.tool}: {down_name} (make import-migrations).\n" + (
            _with_search_path(_body(down, transactional), search_path, transactional)
        )
    return Converted(source, transactional, up_text, down_text, notes)
