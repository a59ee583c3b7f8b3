"""The migration runner: the manifest, the history table and its lock, execution (steps, transactions,
retries, notices, the deadline), the application role, and one module per command.

    manifest.py    what a migration and a seed declare, and the manifest that lists them
    store.py       the history table and the run's advisory lock (and the names of the runner's tables)
    execution.py   running one direction of one migration: transactions, retries, notices, the deadline
    app_role.py    the colours' database roles and their group, set up after every migrate
    inventory.py   the statement inventory: what each colour's role ran (pg_stat_statements), kept
    shadow.py      the shadow database: a replayed copy of the schema, for the check
    compat.py      the compatibility check: each serving colour's statements, before and after
    migrate.py (migrate, check), listing.py, rollback.py, baseline.py, seed.py, capture.py (capture,
    statements)    the commands

It imports the top-level modules (connection, credentials, deadline, errors, events, logs, scram,
settings) and never ``migrator.sqlaction``: the read-only SQL sandbox is a separate room (a test checks).
"""

from migrator.runner.baseline import baseline
from migrator.runner.capture import capture, statements
from migrator.runner.listing import list_migrations
from migrator.runner.migrate import check, migrate
from migrator.runner.rollback import rollback
from migrator.runner.seed import seed

__all__ = ["baseline", "capture", "check", "list_migrations", "migrate", "rollback", "seed", "statements"]
