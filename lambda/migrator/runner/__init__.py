"""The migration runner: the manifest, the history table and its lock, execution (steps, transactions,
retries, notices, the deadline), the application role, and one module per command.

    manifest.py    what a migration and a seed declare, and the manifest that lists them
    store.py       the history table and the run's advisory lock
    execution.py   running one direction of one migration: transactions, retries, notices, the deadline
    app_role.py    the colours' database role, set up after every migrate
    transactions.py  what a step's SQL says about transactions (by pglast), and the rule the commands apply
    origins.py     migrations imported from another tool, and what that tool's state table says ran
    readiness.py   the record of the roles set up, which the colours' tasks wait for
    migrate.py, listing.py, rollback.py, baseline.py, seed.py    the commands

It imports the top-level modules (connection, credentials, deadline, errors, events, logs, scram,
settings) and never ``migrator.sqlaction``: the read-only SQL sandbox is a separate room (a test checks).
The commands below load on first use (PEP 562): ``migrate`` never imports ``baseline`` or ``seed``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["baseline", "list_migrations", "migrate", "rollback", "seed"]

_HOMES = {
    "baseline": "migrator.runner.baseline",
    "list_migrations": "migrator.runner.listing",
    "migrate": "migrator.runner.migrate",
    "rollback": "migrator.runner.rollback",
    "seed": "migrator.runner.seed",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'migrator.runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
