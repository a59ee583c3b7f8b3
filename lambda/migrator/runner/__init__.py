"""The migration runner: the manifest, the history table and its lock, execution (steps, transactions,
retries, notices, the deadline), the application role, and one module per command.

    manifest.py    what a migration and a seed declare, and the manifest that lists them
    store.py       the history table and the run's advisory lock
    execution.py   running one direction of one migration: transactions, retries, notices, the deadline
    app_role.py    the colours' database role, set up after every migrate
    readiness.py   the record of the roles set up, which the colours' tasks wait for
    migrate.py, listing.py, rollback.py, baseline.py, seed.py    the commands

It imports the top-level modules (connection, credentials, deadline, errors, events, logs, scram,
settings) and never ``migrator.sqlaction``: the read-only SQL sandbox is a separate room (a test checks).
"""

from migrator.runner.baseline import baseline
from migrator.runner.listing import list_migrations
from migrator.runner.migrate import migrate
from migrator.runner.rollback import rollback
from migrator.runner.seed import seed

__all__ = ["baseline", "list_migrations", "migrate", "rollback", "seed"]
