"""What one recorded statement does, read by PostgreSQL's own parser (pglast): what it inserts, which tables
it names, whether it selects ``*``, and what to compile for statements that cannot be prepared as they are.

The compatibility check (:mod:`.compat`) compiles each statement a colour ran; the rules a compiler cannot
check (an INSERT that leaves out a column that becomes NOT NULL, a table that gains row-level security, a
``*`` that gains columns) read the statement's shape from here.

``COPY`` and ``DECLARE ... CURSOR`` cannot be prepared, so they are compiled as what they run: a cursor as
its query, ``COPY t (a, b) FROM STDIN`` as ``INSERT INTO t (a, b) VALUES ($1, $2)``, ``COPY t TO STDOUT`` as
``SELECT * FROM t`` and ``COPY (query) TO STDOUT`` as the query.

Imports nothing of the kit: pglast only, loaded on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Insert", "Shape", "of", "walk"]


@dataclass(frozen=True)
class Insert:
    """What an INSERT (or MERGE's INSERT branch, or COPY FROM) writes into ``table``: the ``columns`` it
    names, else the first ``count`` columns; neither known (``VALUES`` of a ``SELECT *``): as many as the
    table had when the statement last compiled."""

    table: str
    columns: tuple[str, ...] | None
    count: int | None


@dataclass
class Shape:
    star: bool = False
    inserts: list[Insert] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)
    compile: str | None = None  # what to compile instead of the statement (COPY, DECLARE)
    copy_all: str | None = None  # COPY <table> FROM without a column list: rows must fill the table

    @property
    def insert(self) -> Insert | None:
        return self.inserts[0] if self.inserts else None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _name(relation: Any) -> str:
    return f"{relation.schemaname}.{relation.relname}" if relation.schemaname else relation.relname


def _quoted(relation: Any) -> str:
    parts = [relation.schemaname, relation.relname] if relation.schemaname else [relation.relname]
    return ".".join(_quote(p) for p in parts)


def _is_star(target: Any) -> bool:
    fields = getattr(getattr(target, "val", None), "fields", None) or (None,)
    return type(fields[-1]).__name__ == "A_Star"


def _insert(node: Any) -> Insert:
    columns = tuple(target.name for target in node.cols) if node.cols else None
    count = None
    select = node.selectStmt
    if columns is None and select is not None:
        if select.valuesLists:
            count = len(select.valuesLists[0])
        elif select.targetList and not any(_is_star(t) for t in select.targetList):
            count = len(select.targetList)
    return Insert(_name(node.relation), columns, count)


def _merge_inserts(node: Any) -> list[Insert]:
    from pglast.enums import CmdType

    found = []
    for when in node.mergeWhenClauses or ():
        if when.commandType == CmdType.CMD_INSERT:
            columns = tuple(t.name for t in when.targetList) if when.targetList else None
            count = len(when.values) if columns is None and when.values else None
            found.append(Insert(_name(node.relation), columns, count))
    return found


def _translate(node: Any, shape: Shape) -> None:
    """The statement to compile for a COPY or a DECLARE (neither can be prepared)."""
    from pglast.stream import RawStream

    kind = type(node).__name__
    if kind == "DeclareCursorStmt":
        shape.compile = RawStream()(node.query)
        return
    if node.query is not None:  # COPY (query) TO
        shape.compile = RawStream()(node.query)
        return
    columns = [c.sval for c in node.attlist] if node.attlist else None
    table = _quoted(node.relation)
    if not node.is_from:
        shape.compile = f"SELECT {', '.join(map(_quote, columns)) if columns else '*'} FROM {table}"
        shape.star = shape.star or columns is None
        return
    if columns:
        values = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
        shape.compile = f"INSERT INTO {table} ({', '.join(map(_quote, columns))}) VALUES ({values})"
        shape.inserts.append(Insert(_name(node.relation), tuple(columns), None))
    else:
        shape.copy_all = _name(node.relation)  # the caller compiles it with the table's width


def copy_all(table: str, width: int) -> str:
    """``COPY <table> FROM`` (no column list) compiled as an INSERT of ``width`` values."""
    parts = table.split(".")
    values = ", ".join(f"${n}" for n in range(1, width + 1))
    return f"INSERT INTO {'.'.join(map(_quote, parts))} VALUES ({values})"


def walk(value: Any) -> Any:
    """Every node under ``value``."""
    from pglast import ast

    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, slot) for slot in item.__slots__)
        elif isinstance(item, tuple | list):
            stack.extend(item)


def of(query: str) -> Shape:
    """The shape of ``query``; an empty one when pglast cannot parse it (the server will say what it is)."""
    import pglast

    shape = Shape()
    try:
        tree = pglast.parse_sql(query)
    except pglast.parser.ParseError:
        return shape
    for node in walk(tree):
        kind = type(node).__name__
        if kind == "A_Star":
            shape.star = True
        elif kind == "RangeVar":
            shape.tables.add(_name(node))
        elif kind == "InsertStmt":
            shape.inserts.append(_insert(node))
        elif kind == "MergeStmt":
            shape.inserts += _merge_inserts(node)
        elif kind in ("CopyStmt", "DeclareCursorStmt") and shape.compile is None and shape.copy_all is None:
            _translate(node, shape)
    return shape
