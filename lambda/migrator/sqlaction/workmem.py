"""How many sorts, hash tables and tuplestores the plan of one query may hold, and the work_mem that keeps
their sum within one budget.

PostgreSQL's ``work_mem`` is per operation, not per query. Every sort (ORDER BY, DISTINCT, GROUP BY, each
input of a merge join, each aggregate with DISTINCT or ORDER BY and each ordered-set aggregate, once per
grouping set), every materialisation, memoize cache, bitmap and tuplestore (a function scan, a CTE, a window
partition) may fill ``work_mem`` before it spills. 300 ``count(DISTINCT ...)`` in one SELECT held 300 sorts
of 4 MB at once: the backend passed 700 MB, though each sort spilled as designed.

So the transaction's ``work_mem`` is :data:`BUDGET_KB` divided by an upper bound on how many such operations
the plan can hold (:func:`work_areas`), counted from PostgreSQL's own analysis of the query (the tree the
server-side check reads, available whether or not that check is switched on). Over-counting only makes a
big query spill sooner; a query that would need more than :data:`MAX_AREAS` of them is refused.

This module imports nothing from the package but ``nodetree``.
"""

from __future__ import annotations

from typing import Any

from migrator.sqlaction.nodetree import Node

__all__ = ["BUDGET_KB", "MAX_AREAS", "MAX_WORK_MEM_KB", "MIN_WORK_MEM_KB", "work_areas", "work_mem_kb"]

BUDGET_KB = 64 * 1024  # all sorts, hash tables and tuplestores of one query together
MAX_WORK_MEM_KB = 4 * 1024  # one of them, when there are few
# Below this, a spilling sort's own buffers (tapes, slabs: about 150 kB measured) outweigh work_mem.
MIN_WORK_MEM_KB = 256
MAX_AREAS = BUDGET_KB // MIN_WORK_MEM_KB

# Per scan in FROM: the sorts of a merge join's two inputs, a materialisation or memoize cache of a nested
# loop's inner side, and a bitmap (or the tuplestore of a function scan).
_PER_SCAN = 4
# A user view (the rewriter expands it later; its own operations are not in this tree): counted generously.
_PER_VIEW = 16
_PER_LEVEL = 6  # ORDER BY, DISTINCT and GROUP BY each may sort, an incremental sort with two tuplesorts
_RTE_RELATION, _RTE_SUBQUERY, _RTE_JOIN, _RTE_FUNCTION, _RTE_CTE = "0", "1", "2", "3", "6"
_CTE_ALWAYS, _CTE_NEVER = "1", "2"
_EMPTY, _SIMPLE, _ROLLUP, _CUBE = "0", "1", "2", "3"
_MAX_SETS = 1 << 16


def work_mem_kb(areas: int) -> int:
    """The work_mem (kB) each of ``areas`` operations gets, so that together they stay within the budget."""
    return max(MIN_WORK_MEM_KB, min(MAX_WORK_MEM_KB, BUDGET_KB // max(areas, 1)))


def work_areas(query: Node) -> int:
    """An upper bound on the sorts, hash tables and tuplestores a plan of ``query`` (a QUERY node) holds."""
    return _Counter().query(query, [])


def _level(tree: Any) -> list[Node]:
    """The nodes of one query level: not into nested queries (their own levels are counted separately)."""
    found: list[Node] = []
    pending = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, Node):
            found.append(item)
            if item.name != "QUERY" or item is tree:
                pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def _grouping_sets(sets: Any) -> int:
    """How many grouping sets GROUP BY expands to (CUBE of n columns: 2 ** n), at least 1."""
    total = 1
    for item in sets if isinstance(sets, list) else ():
        total = min(_MAX_SETS, total * _expand(item))
    return total


def _expand(node: Any) -> int:
    if not isinstance(node, Node) or node.name != "GROUPINGSET":
        return 1
    kind = node.get("kind")
    content = [item for item in node.get("content") or [] if isinstance(item, Node)]
    if kind in (_EMPTY, _SIMPLE):
        return 1
    if kind == _ROLLUP:
        return len(content) + 1
    if kind == _CUBE:
        return 1 << min(len(content), 16)
    return min(_MAX_SETS, sum(_expand(item) for item in content))  # GROUPING SETS (...)


class _Counter:
    def __init__(self) -> None:
        self.depth = 0

    def query(self, query: Node, outer: list[Node]) -> int:
        self.depth += 1
        if self.depth > 64:  # the checks refuse deeper queries long before; never loop on a cycle
            return MAX_AREAS + 1
        try:
            return self._query(query, outer)
        finally:
            self.depth -= 1

    def _query(self, query: Node, outer: list[Node]) -> int:
        scope = [query, *outer]
        # Grouping sets are computed in phases, one sort of the input each, one after another (the next
        # phase's sort filling while the current one is read); a phase is a chain of sets, at most one
        # longer than the grouping columns, and each sorting aggregate keeps a sort per set of the phase.
        sets = min(_grouping_sets(query.get("groupingSets")), len(query.get("groupClause") or []) + 1)
        areas = _PER_LEVEL + 2 + 2 * len(query.get("windowClause") or [])
        ctes = {cte.get("ctename"): cte for cte in query.get("cteList") or [] if isinstance(cte, Node)}
        for cte in ctes.values():
            if _materialized(cte) and isinstance(cte.get("ctequery"), Node):
                # its tuplestore, and a recursive one's work table
                areas += 2 + self.query(cte["ctequery"], scope)
        for node in _level(query):
            if node is query:
                continue
            if node.name == "AGGREF" and (node.get("aggdistinct") or node.get("aggorder")):
                areas += sets  # one sort per grouping set of a phase
            elif node.name == "SUBLINK" and isinstance(node.get("subselect"), Node):
                areas += 2 + self.query(node["subselect"], scope)
            elif node.name == "SETOPERATIONSTMT":
                areas += 2
        for rte in query.get("rtable") or []:
            if isinstance(rte, Node):
                areas += self._range(rte, scope)
        return areas

    def _range(self, rte: Node, scope: list[Node]) -> int:
        kind = rte.get("rtekind")
        if kind == _RTE_JOIN:
            return 0
        if kind == _RTE_RELATION:
            return _PER_VIEW if rte.get("relkind") == "v" else _PER_SCAN
        if kind == _RTE_SUBQUERY and isinstance(rte.get("subquery"), Node):
            return _PER_SCAN + self.query(rte["subquery"], scope)
        if kind == _RTE_FUNCTION:
            return _PER_SCAN + len(rte.get("functions") or [])
        if kind == _RTE_CTE:
            owner = int(rte.get("ctelevelsup") or "0")
            for cte in (scope[owner].get("cteList") or []) if owner < len(scope) else []:
                if isinstance(cte, Node) and cte.get("ctename") == rte.get("ctename"):
                    inlined = not _materialized(cte) and isinstance(cte.get("ctequery"), Node)
                    return _PER_SCAN + (self.query(cte["ctequery"], scope[owner:]) if inlined else 0)
        return _PER_SCAN


def _materialized(cte: Node) -> bool:
    """Whether PostgreSQL keeps the CTE in one tuplestore (else it plans its query at each reference)."""
    if cte.get("cterecursive") == "true" or cte.get("ctematerialized") == _CTE_ALWAYS:
        return True
    return cte.get("ctematerialized") != _CTE_NEVER and cte.get("cterefcount") not in (None, "0", "1")
