"""The read-only SQL sandbox: the ``sql`` action, in four layers that each hold on their own.

    guard.py        the parser layer: what the text may say (pglast, PostgreSQL's own parser)
    policy.py       what may be called and read, with a growth class per function; both checks enforce it
    resolver.py     the server-side layer: what the query really resolves to, by OID, before it runs
    reader_role.py  the least-privileged role the statement runs as
    nodetree.py     PostgreSQL's node text (the analysis the server-side check reads)
    bounds.py       why each allowed function, operator, cast and construct is bounded (cost classes)
    messages.py     PostgreSQL's error text, cut to a few KB
    workmem.py      how many sorts and hash tables a plan may hold, and the work_mem that keeps them in budget
    numeric.py      the digits of every numeric value, and what one row's numeric arithmetic costs
    readonly.py     the READ ONLY transaction and its limits (one deadline, rows, bytes)
    reports.py      named reports: fixed, reviewed SQL (locks, activity, indexes, ...)
    command.py      the ``sql`` and ``report`` commands that put them together

This is the most security-sensitive code in the repository, kept in one package so that a reviewer can read
all of it, and nothing else, in one sitting. It imports the top-level modules (connection, credentials,
errors, logs, scram, settings) and never ``migrator.runner``: the migration runner is a separate room (a
test checks).
"""

from migrator.sqlaction.command import report, sql

__all__ = ["report", "sql"]
