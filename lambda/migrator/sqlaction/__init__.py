"""The read-only SQL sandbox: the ``sql`` action, in four layers that each hold on their own.

    guard.py        the parser layer: what the text may say (pglast, PostgreSQL's own parser)
    policy.py       what may be called and read, with a growth class per function; both checks enforce it
    resolver.py     the server-side layer: what the query really resolves to, by OID, before it runs
    reader_role.py  the least-privileged role the statement runs as
    readonly.py     the READ ONLY transaction and its limits (time, rows, bytes)
    command.py      the ``sql`` command that puts them together

This is the most security-sensitive code in the repository, kept in one package so that a reviewer can read
all of it, and nothing else, in one sitting. It imports the top-level modules (connection, credentials,
errors, logs, scram, settings) and never ``migrator.runner``: the migration runner is a separate room (a
test checks).
"""

from migrator.sqlaction.command import sql

__all__ = ["sql"]
