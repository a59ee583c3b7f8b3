"""Every migration and seed, explicitly and in order. Adding one means adding it here: a Python module, or
an up/down pair of SQL files in ``sql/`` read by :func:`~migrator.runner.manifest.sql_pair`. Nothing is found
by scanning the folder.

``MODULES`` (Python modules) and ``FILES`` (SQL files, relative to the repository root) name exactly what
the Lambda build packages besides the package ``__init__`` files and this manifest; ``MIGRATIONS`` and
``SEEDS`` are what the runner reads. ``LINT_CUTOFF`` is the last migration that ``make lint-migrations``
skips: history adopted from another tool or baselined, which already ran elsewhere.

``make import-migrations`` appends to ``_ENTRIES`` and moves ``LINT_CUTOFF``; edit both by hand as freely.
"""

from pathlib import Path
from types import ModuleType

from migrator import Migration, sql_pair

from migrations import (
    m0001_create_users,
    m0002_create_posts,
    m0003_create_follows,
    m0004_add_users_display_name,
    m0005_backfill_users_display_name,
    m0007_contract_users_display_name,
)
from migrations.seeds import s001_demo_users, s002_demo_posts_follows

__all__ = ["FILES", "LINT_CUTOFF", "MIGRATIONS", "MODULES", "SEEDS"]

_ROOT = Path(__file__).resolve().parent.parent
_SQL = Path(__file__).resolve().parent / "sql"

_ENTRIES: tuple[ModuleType | Migration, ...] = (
    m0001_create_users,
    m0002_create_posts,
    m0003_create_follows,
    m0004_add_users_display_name,
    m0005_backfill_users_display_name,
    sql_pair(_SQL / "0006_index_posts_author_created"),
    m0007_contract_users_display_name,
)

# make lint-migrations lints only the migrations after this one: those up to it are history that already
# ran elsewhere (make import-migrations and make migrate ACTION=baseline move it forward).
LINT_CUTOFF: str | None = None

_SEED_MODULES = (s001_demo_users, s002_demo_posts_follows)

MIGRATIONS = tuple(e if isinstance(e, Migration) else e.MIGRATION for e in _ENTRIES)
SEEDS = tuple(module.SEED for module in _SEED_MODULES)
MODULES: tuple[str, ...] = tuple(e.__name__ for e in (*_ENTRIES, *_SEED_MODULES) if isinstance(e, ModuleType))
# sql_pair() files live under _ROOT; plain string work keeps this cheap on a history of hundreds.
FILES: tuple[str, ...] = tuple(f.removeprefix(f"{_ROOT}/") for m in MIGRATIONS for f in m.files)
