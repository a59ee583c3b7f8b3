"""What a migration's SQL says about transactions, read by PostgreSQL's own parser (pglast), never by a
regular expression: a ``BEGIN`` inside a function body or a string is not transaction control.

- :func:`control_statements`: the top-level ``BEGIN``/``START TRANSACTION``/``COMMIT``/``END``/``ROLLBACK``/
  ``ABORT``/``SAVEPOINT``/``RELEASE``/``PREPARE TRANSACTION`` statements of a step.
- :func:`refuse_own_transactions`: the runner's rule, applied to every step a run is about to execute
  (``migrate``, ``rollback``, their dry runs) before anything runs. A step that runs inside the runner's
  transaction (``transactional=True``, the default) may not control transactions itself: its ``COMMIT`` would
  end the runner's transaction early, and the history row would then be written apart from the migration.
  Such a step is refused, naming the statement and saying what to do. A ``transactional=False`` step runs
  as written, its own transactions honoured, and must not end inside a transaction it opened.
- :func:`outside_transaction_statements`: statements PostgreSQL refuses inside a transaction block
  (``CREATE INDEX CONCURRENTLY``, ``VACUUM``, ...), which the importer turns into ``no-transaction``.
- :func:`unwrap`: the SQL without a whole-file ``BEGIN; ... COMMIT;`` (the importer's conversion).

pglast (about 25 ms to import) is loaded only when a step's text contains one of the keywords at all, so a
``migrate`` with nothing to do, or a history without such words, never pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrator.errors import OwnTransaction

if TYPE_CHECKING:
    from migrator.runner.manifest import Migration

__all__ = [
    "Control",
    "control_statements",
    "outside_transaction_statements",
    "refuse_own_transactions",
    "unwrap",
]

# Only a filter deciding whether the parser needs to look: a step without any of these words has no
# transaction control. Whether one of them is a statement is for the parser to say.
_MAYBE_CONTROL = re.compile(r"\b(begin|start|commit|end|rollback|abort|savepoint|release|prepare)\b", re.I)
_MAYBE_OUTSIDE = re.compile(r"\b(concurrently|vacuum|reindex|database|tablespace|system)\b", re.I)

# pglast's TransactionStmtKind values, by name (the enum's order is PostgreSQL's).
_KEYWORDS = {
    "TRANS_STMT_BEGIN": "BEGIN",
    "TRANS_STMT_START": "START TRANSACTION",
    "TRANS_STMT_COMMIT": "COMMIT",
    "TRANS_STMT_ROLLBACK": "ROLLBACK",
    "TRANS_STMT_SAVEPOINT": "SAVEPOINT",
    "TRANS_STMT_RELEASE": "RELEASE SAVEPOINT",
    "TRANS_STMT_ROLLBACK_TO": "ROLLBACK TO SAVEPOINT",
    "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
    "TRANS_STMT_COMMIT_PREPARED": "COMMIT PREPARED",
    "TRANS_STMT_ROLLBACK_PREPARED": "ROLLBACK PREPARED",
}
_OPENS = {"BEGIN", "START TRANSACTION"}
_CLOSES = {"COMMIT", "ROLLBACK", "PREPARE TRANSACTION"}


@dataclass(frozen=True)
class Control:
    """One top-level transaction-control statement: its keyword, its line in the step (1-based), whether it
    carries options (``BEGIN ISOLATION LEVEL ...``, ``COMMIT AND CHAIN``), and where it starts and ends."""

    keyword: str
    line: int
    options: bool
    start: int
    end: int


def _parse(sql: str) -> tuple[Any, ...]:
    from pglast.parser import parse_sql

    return parse_sql(sql)


def _line(sql: str, offset: int) -> int:
    return sql.count("\n", 0, offset) + 1


def control_statements(sql: str) -> list[Control]:
    """The top-level transaction-control statements of ``sql``, in order. Raises pglast's ParseError on
    SQL PostgreSQL's grammar does not accept."""
    if not _MAYBE_CONTROL.search(sql):
        return []
    found = []
    for raw in _parse(sql):
        stmt = raw.stmt
        if type(stmt).__name__ != "TransactionStmt":
            continue
        keyword = _KEYWORDS.get(stmt.kind.name, stmt.kind.name)
        start = raw.stmt_location or 0
        found.append(
            Control(
                keyword,
                _line(sql, start),
                bool(stmt.options) or bool(getattr(stmt, "chain", False)),
                start,
                start + (raw.stmt_len or len(sql) - start),
            )
        )
    return found


def _ends_open(controls: list[Control]) -> Control | None:
    """The BEGIN left open at the end of the step, if any (what PostgreSQL's transaction state would be)."""
    open_at: Control | None = None
    for control in controls:
        if control.keyword in _OPENS and open_at is None:
            open_at = control
        elif control.keyword in _CLOSES:
            open_at = None
    return open_at


def _describe(controls: list[Control]) -> str:
    shown = ", ".join(f"{c.keyword} at line {c.line}" for c in controls[:4])
    return shown + (f" and {len(controls) - 4} more" if len(controls) > 4 else "")


def refuse_own_transactions(plan: Iterable[tuple[Migration, Any, str]]) -> None:
    """Refuse (raise :class:`OwnTransaction`, nothing run) when a step the run is about to execute controls
    transactions inside the runner's transaction, or ends inside a transaction it opened. ``plan`` holds
    (migration, step, direction) with direction ``"up"`` or ``"down"``."""
    inside: list[str] = []
    left_open: list[str] = []
    for migration, step, direction in plan:
        if not isinstance(step, str) or not _MAYBE_CONTROL.search(step):
            continue
        try:
            controls = control_statements(step)
        except Exception:  # the server will refuse what the parser cannot read; let it say so
            controls = []
        if not controls:
            continue
        where = f"{migration.label} ({direction}: {_describe(controls)})"
        if migration.transactional:
            inside.append(where)
        elif (opened := _ends_open(controls)) is not None:
            left_open.append(f"{migration.label} ({direction}: {opened.keyword} at line {opened.line})")
    if inside:
        raise OwnTransaction(
            f"{'; '.join(inside)}: manages its own transaction, but the runner runs each migration inside "
            "one transaction together with its history row, and its COMMIT would end that transaction early "
            "(the record would no longer be atomic with the migration). Nothing was run. Either remove its "
            "BEGIN/COMMIT (the runner's transaction already makes it atomic with its record), or declare it "
            "non-transactional (`-- migrator: no-transaction` in the up file, transactional=False in Python) "
            "to run it as written: its own transactions are honoured and it is recorded only after it "
            "succeeds",
            details={"own_transaction": [w.split(" ", 1)[0] for w in inside]},
        )
    if left_open:
        raise OwnTransaction(
            f"{'; '.join(left_open)}: opens a transaction it never ends, so the history row would be written "
            "inside it. Nothing was run. Add the COMMIT that ends it",
            details={"own_transaction": [w.split(" ", 1)[0] for w in left_open]},
        )


# ------------------------------------------------------------------------------------------- the importer


def _alter_table_concurrently(stmt: Any) -> bool:
    for cmd in stmt.cmds or ():
        definition = getattr(cmd, "def_", None)
        if type(definition).__name__ == "PartitionCmd" and getattr(definition, "concurrent", False):
            return True
    return False


def _outside_reason(stmt: Any) -> str | None:
    kind = type(stmt).__name__
    if kind in ("IndexStmt", "DropStmt") and getattr(stmt, "concurrent", False):
        return "CREATE INDEX CONCURRENTLY" if kind == "IndexStmt" else "DROP INDEX CONCURRENTLY"
    if kind == "ReindexStmt":
        params = {getattr(p, "defname", "") for p in stmt.params or ()}
        if "concurrently" in params:
            return "REINDEX CONCURRENTLY"
        if stmt.kind.name in ("REINDEX_OBJECT_SYSTEM", "REINDEX_OBJECT_DATABASE"):
            return "REINDEX SYSTEM/DATABASE"
    if kind == "VacuumStmt" and stmt.is_vacuumcmd:
        return "VACUUM"
    simple = {
        "CreatedbStmt": "CREATE DATABASE",
        "DropdbStmt": "DROP DATABASE",
        "CreateTableSpaceStmt": "CREATE TABLESPACE",
        "DropTableSpaceStmt": "DROP TABLESPACE",
        "AlterSystemStmt": "ALTER SYSTEM",
    }
    if kind in simple:
        return simple[kind]
    if kind == "AlterTableStmt" and _alter_table_concurrently(stmt):
        return "DETACH PARTITION CONCURRENTLY"
    return None


def outside_transaction_statements(sql: str) -> list[tuple[str, int]]:
    """(what, line) for each statement PostgreSQL refuses inside a transaction block."""
    if not _MAYBE_OUTSIDE.search(sql):
        return []
    found = []
    for raw in _parse(sql):
        reason = _outside_reason(raw.stmt)
        if reason:
            found.append((reason, _line(sql, raw.stmt_location or 0)))
    return found


def _statement_span(sql: str, control: Control) -> tuple[int, int]:
    """The text of one control statement, its semicolon and, when nothing else shares its line, the line."""
    end = control.end
    semicolon = sql.find(";", end)
    if semicolon != -1 and not sql[end:semicolon].strip():
        end = semicolon + 1
    line_start = sql.rfind("\n", 0, control.start) + 1
    line_end = sql.find("\n", end)
    line_end = len(sql) if line_end == -1 else line_end + 1
    if not sql[line_start : control.start].strip() and not sql[end:line_end].strip():
        return line_start, line_end
    return control.start, end


def unwrap(sql: str) -> str | None:
    """``sql`` without its whole-file ``BEGIN; ... COMMIT;``, or None when it is not exactly that shape: the
    first statement a plain BEGIN/START TRANSACTION, the last a plain COMMIT/END, no other transaction
    control between (and no isolation level or other option, which the runner's transaction would not
    keep). Everything else, comments included, is kept as written."""
    controls = control_statements(sql)
    if len(controls) != 2:
        return None
    first, last = controls
    if first.keyword not in _OPENS or last.keyword != "COMMIT" or first.options or last.options:
        return None
    statements = _parse(sql)
    if (statements[0].stmt_location or 0) != first.start or (statements[-1].stmt_location or 0) != last.start:
        return None
    head_start, head_end = _statement_span(sql, first)
    tail_start, tail_end = _statement_span(sql, last)
    return sql[:head_start] + sql[head_end:tail_start] + sql[tail_end:]
