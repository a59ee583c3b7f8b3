"""The migration runner: the manifest, the history table and its lock, execution (steps, transactions,
retries, notices, the deadline), the application role, and one module per command.

    manifest.py    what a migration and a seed declare, and the manifest that lists them
    store.py       the history table and the run's advisory lock (and the names of the runner's tables)
    execution.py   running one direction of one migration: transactions, retries, notices, the deadline
    app_role.py    the colours' database roles and their group, set up after every migrate
    readiness.py   the record of the roles set up, which the colours' tasks wait for
    inventory.py   the statement inventory: what each colour's role ran (pg_stat_statements), kept
    shadow.py      the shadow database: a replayed copy of the schema, for the check
    compat.py      the compatibility check: each serving colour's statements, before and after
    transactions.py  what a step's SQL says about transactions (by pglast), and the rule the commands apply
    origins.py     migrations imported from another tool, and what that tool's state table says ran
    migrate.py (migrate, check), listing.py, rollback.py, baseline.py, seed.py, capture.py (capture,
    statements)    the commands

It imports the top-level modules (connection, credentials, deadline, errors, events, logs, scram,
settings) and never ``migrator.sqlaction``: the read-only SQL sandbox is a separate room (a test checks).
The commands below load on first use (PEP 562): ``migrate`` never imports ``baseline`` or ``seed``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["baseline", "capture", "check", "list_migrations", "migrate", "rollback", "seed", "statements"]

_HOMES = {
    "baseline": "migrator.runner.baseline",
    "capture": "migrator.runner.capture",
    "check": "migrator.runner.migrate",
    "list_migrations": "migrator.runner.listing",
    "migrate": "migrator.runner.migrate",
    "rollback": "migrator.runner.rollback",
    "seed": "migrator.runner.seed",
    "statements": "migrator.runner.capture",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'migrator.runner' has no attribute {name!r}")
    module = importlib.import_module(home)
    # Importing a submodule binds its name in this package (migrate.py as "migrate"): bind every command
    # that module holds instead, or `runner.migrate` would be the module once `runner.check` loaded it (a
    # warm Lambda container that ran a check would then fail its next migrate).
    for command, where in _HOMES.items():
        if where == home:
            globals()[command] = getattr(module, command)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
