"""What a migration and a seed declare. Both are plain frozen values listed explicitly in a manifest.

A migration's ``forward`` is SQL or a Python function ``(conn) -> None`` (for batched backfills); its
``reverse`` is the same, or ``None`` for an irreversible step. ``transactional=False`` opts out of the
per-migration transaction (``CREATE INDEX CONCURRENTLY`` and batched backfills that commit per batch).
``contract=True`` marks the contract half of expand/contract: it removes something the previous release
still uses, so it only runs when the caller says ``allow_contract: true``.

:func:`sql_pair` builds a migration from an up/down pair of SQL files (``<id>_<name>.up.sql`` and, unless the
step is irreversible, ``<id>_<name>.down.sql``), with directives in the up file's leading comment lines::

    -- migrator: no-transaction      (transactional=False)
    -- migrator: contract            (contract=True)
    -- migrator: origin golang-migrate 20190101120000     (origin: written by make import-migrations)
    -- migrator: flyway-checksum -1234567    (Flyway's checksum of the file it was imported from)

A down file that is empty or holds only comments is a reverse that does nothing (as in golang-migrate):
rolling back only removes the history row. No down file at all means irreversible. An up file may be empty
only when it was imported (it has an ``origin``): the old tool recorded it without running anything.

Checksums ignore line endings (CRLF, CR and LF hash the same, as in Flyway), so a Windows checkout of the same
files is not reported as changed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from migrator.errors import ManifestError

__all__ = [
    "CHECKSUM_VERSION",
    "Manifest",
    "Migration",
    "Seed",
    "Step",
    "is_noop",
    "load_manifest",
    "sql_pair",
]

# A step is SQL text or a function given an open psycopg connection.
Step = str | Callable[[Any], None]

_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,99}$")
# 1: sha256 of the content as written; 2: the same after turning CRLF and CR line endings into LF.
CHECKSUM_VERSION = 2


def _step_content(step: Step | None) -> str:
    if step is None:
        return "<irreversible>"
    if isinstance(step, str):
        return step
    import inspect  # only function steps need it, and it is one of the slower imports at start-up

    try:
        return inspect.getsource(step)
    except (OSError, TypeError):  # no source (e.g. built at run time): the bytecode still identifies it
        code = getattr(step, "__code__", None)
        return repr(code.co_code if code else step)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def is_noop(step: Step | None) -> bool:
    """Whether ``step`` is SQL with nothing but comments and white space: it runs nothing (a golang-migrate
    style empty down file). Deciding *emptiness* needs no parser: any text outside comments counts as SQL."""
    if not isinstance(step, str):
        return False
    text = _BLOCK_COMMENT.sub("", step) if "/*" in step else step
    return all(not line.strip() or line.lstrip().startswith("--") for line in text.splitlines())


_FLYWAY_VERSION = re.compile(r"^[0-9]+([._][0-9]+)*$")


def version_key(tool: str, version: str) -> Any:
    """A value that compares and matches the way ``tool`` compares versions (ValueError when ``version`` is
    not one): integers for golang-migrate and goose, the exact digits for dbmate, Flyway's dotted numbers
    (``1_1`` is ``1.1``, and ``1.0`` is ``1``)."""
    if tool in ("golang-migrate", "goose"):
        if not version.isdigit():
            raise ValueError(f"{tool} versions are whole numbers, not {version!r}")
        return int(version)
    if tool == "flyway":
        if not _FLYWAY_VERSION.match(version):
            raise ValueError(f"Flyway versions are dotted numbers such as 1.2, not {version!r}")
        parts = [int(p) for p in version.replace("_", ".").split(".")]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        return tuple(parts)
    if tool == "dbmate":
        if not version.isdigit():
            raise ValueError(f"dbmate versions are the digits a file name starts with, not {version!r}")
        return version
    raise ValueError(f"unknown tool {tool!r}; use one of: golang-migrate, dbmate, flyway, goose")


def check_origin(migration_id: str, origin: tuple[str, str]) -> None:
    """Refuse an origin that names no known tool or no version of it (a typo would silently unlink it)."""
    if not (isinstance(origin, tuple) and len(origin) == 2):
        raise ManifestError(f"migration {migration_id}: origin must be (tool, version)")
    try:
        version_key(*origin)
    except ValueError as exc:
        raise ManifestError(f"migration {migration_id}: origin {origin[0]} {origin[1]}: {exc}") from None


def describe_step(step: Step | None) -> str:
    """What a dry run shows: the SQL itself, or the function's name and first docstring line."""
    if step is None:
        return "<irreversible>"
    if isinstance(step, str):
        return step.strip()
    import inspect

    doc = (inspect.getdoc(step) or "").splitlines()
    summary = f": {doc[0]}" if doc else ""
    return f"python function {step.__module__}.{step.__qualname__}{summary}"


@dataclass(frozen=True)
class Migration:
    id: str
    name: str
    forward: Step
    reverse: Step | None
    transactional: bool = True
    contract: bool = False
    checksum: str = field(init=False, repr=False, compare=False)
    # The SQL files a sql_pair() migration was read from (the Lambda build packages exactly these).
    files: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # (tool, version) when it was imported from another tool (``baseline FROM=<tool>`` maps the tool's state
    # table onto migrations by it); not part of the checksum.
    origin: tuple[str, str] | None = field(default=None, repr=False, compare=False)
    # Flyway's checksum of the file imported from Flyway (baseline compares it with flyway_schema_history).
    flyway_checksum: int | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ManifestError(f"migration id {self.id!r} must be 1-100 letters, digits, '_', '.', '-'")
        if not (isinstance(self.forward, str) or callable(self.forward)):
            raise ManifestError(f"migration {self.id}: forward must be SQL text or a function")
        if self.reverse is not None and not (isinstance(self.reverse, str) or callable(self.reverse)):
            raise ManifestError(f"migration {self.id}: reverse must be SQL text, a function or None")
        if self.origin is not None:
            check_origin(self.id, self.origin)
        content = "\x00".join(
            [_step_content(self.forward), _step_content(self.reverse), str(self.transactional)]
        )
        object.__setattr__(self, "checksum", hashlib.sha256(_lf(content).encode()).hexdigest())

    @cached_property
    def legacy_checksums(self) -> frozenset[str]:
        """What version 1 may have recorded for this content. Computed on first use: only a history written
        by the first release needs it, and three hashes per migration are a measurable part of start-up on a
        history of hundreds."""
        content = "\x00".join(
            [_step_content(self.forward), _step_content(self.reverse), str(self.transactional)]
        )
        normalised = _lf(content)
        # What version 1 may have recorded for this content: it hashed the text as written, so a checkout
        # with LF endings recorded the normalised form, one with CRLF endings the CRLF form, and this
        # checkout's own bytes may be either (or mixed).
        return frozenset(
            {
                self.checksum,
                hashlib.sha256(content.encode()).hexdigest(),
                hashlib.sha256(normalised.replace("\n", "\r\n").encode()).hexdigest(),
            }
        )

    def matches(self, checksum: str, version: int = CHECKSUM_VERSION) -> bool:
        """Whether a history row's checksum (of ``version``) records this migration's current content, line
        endings aside."""
        if version >= CHECKSUM_VERSION:
            return checksum == self.checksum
        return checksum in self.legacy_checksums

    @property
    def reversible(self) -> bool:
        return self.reverse is not None

    @property
    def reverse_noop(self) -> bool:
        """Reversible, and rolling it back runs nothing (an empty or comment-only down file)."""
        return is_noop(self.reverse)

    @property
    def label(self) -> str:
        return f"{self.id}_{self.name}"


@dataclass(frozen=True)
class Seed:
    """Idempotent data for non-production environments: running it twice changes nothing the second time."""

    id: str
    name: str
    apply: Step

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ManifestError(f"seed id {self.id!r} must be 1-100 letters, digits, '_', '.', '-'")


@dataclass(frozen=True)
class Manifest:
    migrations: tuple[Migration, ...]
    seeds: tuple[Seed, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for migration in self.migrations:
            if not isinstance(migration, Migration):
                raise ManifestError(f"manifest entry {migration!r} is not a Migration")
            if migration.id in seen:
                raise ManifestError(f"migration id {migration.id} appears twice in the manifest")
            seen.add(migration.id)
        origins: dict[tuple[str, Any], str] = {}
        for migration in self.migrations:
            if migration.origin is None:
                continue
            key = (migration.origin[0], version_key(*migration.origin))
            if key in origins:
                raise ManifestError(
                    f"migrations {origins[key]} and {migration.label} were both imported from "
                    f"{migration.origin[0]} version {migration.origin[1]}"
                )
            origins[key] = migration.label
        seed_ids = [s.id for s in self.seeds]
        if len(seed_ids) != len(set(seed_ids)):
            raise ManifestError("a seed id appears twice in the manifest")

    def find(self, migration_id: str) -> Migration | None:
        """The migration named by its id, or by ``<id>_<name>``."""
        for migration in self.migrations:
            if migration_id in (migration.id, migration.label):
                return migration
        return None


ManifestLike = Manifest | ModuleType | str | Sequence[Migration] | None


def load_manifest(source: ManifestLike = None) -> Manifest:
    """A Manifest from: None (the project's ``migrations.manifest``), a module or dotted module name exposing
    ``MIGRATIONS`` (and optionally ``SEEDS``), a sequence of Migration objects, or a Manifest."""
    if isinstance(source, Manifest):
        return source
    if source is None:
        source = "migrations.manifest"
    if isinstance(source, str):
        import importlib

        source = importlib.import_module(source)
    if isinstance(source, ModuleType):
        return Manifest(tuple(source.MIGRATIONS), tuple(getattr(source, "SEEDS", ())))
    if isinstance(source, Iterable):
        return Manifest(tuple(source))
    raise ManifestError(f"cannot load a manifest from {type(source).__name__}")


# ------------------------------------------------------------------------------------------- SQL files

_DIRECTIVE = re.compile(r"^--\s*migrator\s*:(.*)$", re.IGNORECASE)
# Any directive line at all (to refuse one below the header), found in one pass over the text.
_ANY_DIRECTIVE = re.compile(r"(?:^|(?<=\r))[ \t]*--\s*migrator\s*:", re.IGNORECASE | re.MULTILINE)
_DIRECTIVES = {"no-transaction": ("transactional", False), "contract": ("contract", True)}
_EOL = re.compile(r"\r\n|\r|\n")  # the line endings str.splitlines() knows that SQL files use


def _read_sql(path: str) -> str | None:
    """The file's text, or None when it does not exist (one system call fewer than asking first)."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _origin(path: str, number: int, words: list[str]) -> tuple[str, str]:
    if len(words) != 3:
        raise ManifestError(
            f"{path}:{number}: the origin directive is '-- migrator: origin <tool> <version>' on a line of "
            "its own (make import-migrations writes it)"
        )
    return words[1], words[2]


def _flyway_checksum(path: str, number: int, words: list[str]) -> int:
    try:
        if len(words) == 2:
            return int(words[1])
    except ValueError:
        pass
    raise ManifestError(
        f"{path}:{number}: the directive is '-- migrator: flyway-checksum <integer>' (make import-migrations "
        "writes it)"
    )


def _split_header(path: str, text: str) -> tuple[dict[str, Any], str]:
    """The directives of the leading ``--`` comment lines, and the SQL after those lines (kept byte for byte:
    it is what runs and what the checksum covers, so editing a header comment is not drift)."""
    options: dict[str, Any] = {}
    start = number = 0
    # Line by line through the header only: a history of hundreds of files is read on every start-up.
    while start < len(text):
        eol = _EOL.search(text, start)
        end = eol.end() if eol else len(text)
        line = text[start:end].strip()
        if not line.startswith("--"):
            break
        number += 1
        match = _DIRECTIVE.match(line)
        if match:
            words = [w for w in re.split(r"[\s,]+", match.group(1).strip()) if w]
            if words and words[0].lower() == "origin":
                options["origin"] = _origin(path, number, words)
                words = []
            elif words and words[0].lower() == "flyway-checksum":
                options["flyway_checksum"] = _flyway_checksum(path, number, words)
                words = []
            for word in (w.lower() for w in words):
                if word not in _DIRECTIVES:
                    raise ManifestError(
                        f"{path}:{number}: unknown directive {word!r}; "
                        f"use {' or '.join(repr(d) for d in (*_DIRECTIVES, 'origin', 'flyway-checksum'))}"
                    )
                key, value = _DIRECTIVES[word]
                options[key] = value
        start = end
    body = text[start:]
    stray = _ANY_DIRECTIVE.search(body)
    if stray:
        at = number + len(_EOL.findall(body, 0, stray.start())) + 1
        raise ManifestError(
            f"{path}:{at}: a '-- migrator:' directive must be in the file's leading comment lines"
        )
    return options, body


def sql_pair(stem: str | Path, *, id: str | None = None, name: str | None = None) -> Migration:
    """A migration from ``<stem>.up.sql`` and ``<stem>.down.sql`` (no down file: irreversible; an empty or
    comment-only one: a reverse that does nothing).

    ``stem`` is a path such as ``migrations/sql/0008_add_posts_visibility``; its file name gives the id
    (before the first ``_``) and the name (after it) unless ``id``/``name`` are given. Directives live in
    the up file's leading comment lines (``-- migrator: no-transaction``, ``-- migrator: contract``,
    ``-- migrator: origin <tool> <version>``); the down file follows the up file's.
    """
    # Plain strings, not Path objects: a history of hundreds is read on every start-up, and pathlib's parsing
    # was the largest part of it.
    stem = os.fspath(stem)
    base = os.path.basename(stem)
    up, down = f"{stem}.up.sql", f"{stem}.down.sql"
    up_text = _read_sql(up)
    if up_text is None:
        raise ManifestError(f"{up} does not exist: a SQL migration needs its up file")
    default_id, _, default_name = base.partition("_")
    options, forward = _split_header(up, up_text)
    if "origin" not in options and is_noop(forward):
        raise ManifestError(f"{up} has no SQL after its leading comments")
    reverse: str | None = None
    files = [up]
    down_text = _read_sql(down)
    if down_text is not None:
        down_options, reverse = _split_header(down, down_text)
        if down_options:
            raise ManifestError(f"{down}: directives belong in the up file ({os.path.basename(up)})")
        files.append(down)
    return Migration(
        id=id or default_id,
        name=name or default_name or base,
        forward=forward,
        reverse=reverse,
        files=tuple(files),
        **options,
    )
