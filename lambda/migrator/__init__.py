"""release-kit migration runner: explicit migrations, an advisory-locked history table, and one Lambda
handler (``migrator.handler.handler``) that the local CLI (``python -m migrator.cli``) runs too.

The facade re-exports the public API; the modules hold one concern each (events, commands, store,
credentials, migration, settings, logs, errors, handler, cli).
"""

from migrator.commands import baseline, list_migrations, migrate, rollback, run, seed, sql
from migrator.errors import MigratorError
from migrator.events import ACTIONS, parse_event
from migrator.migration import Manifest, Migration, Seed, load_manifest, sql_pair
from migrator.settings import Settings

__all__ = [
    "ACTIONS",
    "Manifest",
    "Migration",
    "MigratorError",
    "Seed",
    "Settings",
    "baseline",
    "list_migrations",
    "load_manifest",
    "migrate",
    "parse_event",
    "rollback",
    "run",
    "seed",
    "sql",
    "sql_pair",
]
