"""What a migration and a seed declare. Both are plain frozen values listed explicitly in a manifest.

A migration's ``forward`` is SQL or a Python function ``(conn) -> None`` (for batched backfills); its
``reverse`` is the same, or ``None`` for an irreversible step. ``transactional=False`` opts out of the
per-migration transaction (``CREATE INDEX CONCURRENTLY`` and batched backfills that commit per batch).
``contract=True`` marks the contract half of expand/contract: it removes something the previous release
still uses, so it only runs when the caller says ``allow_contract: true``.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from migrator.errors import ManifestError

__all__ = ["Manifest", "Migration", "Seed", "Step", "load_manifest"]

# A step is SQL text or a function given an open psycopg connection.
Step = str | Callable[[Any], None]

_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,99}$")


def _step_content(step: Step | None) -> str:
    if step is None:
        return "<irreversible>"
    if isinstance(step, str):
        return step
    try:
        return inspect.getsource(step)
    except (OSError, TypeError):  # no source (e.g. built at run time): the bytecode still identifies it
        code = getattr(step, "__code__", None)
        return repr(code.co_code if code else step)


def describe_step(step: Step | None) -> str:
    """What a dry run shows: the SQL itself, or the function's name and first docstring line."""
    if step is None:
        return "<irreversible>"
    if isinstance(step, str):
        return step.strip()
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

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ManifestError(f"migration id {self.id!r} must be 1-100 letters, digits, '_', '.', '-'")
        if not (isinstance(self.forward, str) or callable(self.forward)):
            raise ManifestError(f"migration {self.id}: forward must be SQL text or a function")
        if self.reverse is not None and not (isinstance(self.reverse, str) or callable(self.reverse)):
            raise ManifestError(f"migration {self.id}: reverse must be SQL text, a function or None")
        content = "\x00".join(
            [_step_content(self.forward), _step_content(self.reverse), str(self.transactional)]
        )
        object.__setattr__(self, "checksum", hashlib.sha256(content.encode()).hexdigest())

    @property
    def reversible(self) -> bool:
        return self.reverse is not None

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
