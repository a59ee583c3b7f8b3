"""release-kit migrator: explicit migrations, an advisory-locked history table, a read-only SQL sandbox, and
one Lambda handler (``migrator.handler.handler``) that the local CLI (``python -m migrator.cli``) runs too.

Two rooms, and what both use:

    runner/      the migration runner: manifest, history and lock, execution, the colours' roles, the
                 statement inventory and the compatibility check, and the migrate, check, list, rollback,
                 baseline, seed, capture and statements commands
    sqlaction/   the read-only SQL sandbox behind the ``sql`` action (guard, policy, resolver, reader role,
                 read-only transaction)
    handler.py, cli.py, commands.py (the dispatch), events.py, settings.py, errors.py, logs.py,
    credentials.py, connection.py, deadline.py, scram.py     shared, at the top

``runner`` and ``sqlaction`` never import each other; nothing here imports from the repository's
``scripts/``. The facade below loads a name's room only when the name is first used (PEP 562), so importing
``migrator`` (as every migration file does) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ACTIONS",
    "Manifest",
    "Migration",
    "MigratorError",
    "Seed",
    "Settings",
    "baseline",
    "capture",
    "check",
    "list_migrations",
    "load_manifest",
    "migrate",
    "parse_event",
    "rollback",
    "run",
    "seed",
    "sql",
    "sql_pair",
    "statements",
]

_HOMES = {
    "ACTIONS": "migrator.events",
    "parse_event": "migrator.events",
    "MigratorError": "migrator.errors",
    "Settings": "migrator.settings",
    "run": "migrator.commands",
    "Manifest": "migrator.runner.manifest",
    "Migration": "migrator.runner.manifest",
    "Seed": "migrator.runner.manifest",
    "load_manifest": "migrator.runner.manifest",
    "sql_pair": "migrator.runner.manifest",
    "baseline": "migrator.runner",
    "capture": "migrator.runner",
    "check": "migrator.runner",
    "list_migrations": "migrator.runner",
    "migrate": "migrator.runner",
    "rollback": "migrator.runner",
    "seed": "migrator.runner",
    "statements": "migrator.runner",
    "sql": "migrator.sqlaction",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'migrator' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
