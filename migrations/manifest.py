"""Every migration and seed, explicitly and in order. Adding one means adding its module here.

``MODULES`` names exactly the modules the Lambda build packages (with the package ``__init__`` files and this
manifest); ``MIGRATIONS`` and ``SEEDS`` are what the runner reads.
"""

from migrations import (
    m0001_create_users,
    m0002_create_posts,
    m0003_create_follows,
    m0004_add_users_display_name,
    m0005_backfill_users_display_name,
    m0006_index_posts_author_created,
    m0007_contract_users_display_name,
)
from migrations.seeds import s001_demo_users, s002_demo_posts_follows

__all__ = ["MIGRATIONS", "MODULES", "SEEDS"]

_MIGRATION_MODULES = (
    m0001_create_users,
    m0002_create_posts,
    m0003_create_follows,
    m0004_add_users_display_name,
    m0005_backfill_users_display_name,
    m0006_index_posts_author_created,
    m0007_contract_users_display_name,
)
_SEED_MODULES = (s001_demo_users, s002_demo_posts_follows)

MIGRATIONS = tuple(module.MIGRATION for module in _MIGRATION_MODULES)
SEEDS = tuple(module.SEED for module in _SEED_MODULES)
MODULES: tuple[str, ...] = tuple(module.__name__ for module in (*_MIGRATION_MODULES, *_SEED_MODULES))
