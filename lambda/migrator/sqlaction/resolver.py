"""The server-side layer of the ``sql`` action: check what the query really calls, by OID, before it runs.

The guard reads names in the text; PostgreSQL decides what those names mean. ``(pid).pg_terminate_backend``
is a call the text shows as a column, ``lower(email)`` may resolve to an overload in ``public``, ``1::d`` runs
the checks of a domain, ``ORDER BY x USING <<<`` calls whatever function backs that operator. So PostgreSQL
analyses the query itself: :func:`analysed_query` prepares the statement (parse analysis only, nothing is
planned or run, nothing is created) in the READ ONLY transaction, with ``debug_print_parse`` on, and reads
the analysed tree from the LOG message the server sends back. :func:`check` walks it:

* every node must be of a kind this module knows (anything newer is refused, not guessed at);
* every function call (including attribute notation, casts, aggregates and window functions) must be a
  built-in (OID < 16384) in ``pg_catalog`` on the allow-list (``policy``), with a cost class (``bounds``);
* every operator (in expressions, ``op ANY/ALL``, row comparisons, ``ORDER BY ... USING``, DISTINCT and
  GROUP BY, a CYCLE clause) must be a built-in with a cost class;
* every type must do its input and output with trusted functions, and a value may only be coerced to a
  built-in domain (a domain's CHECK runs code);
* every relation must be readable without running code: built-in catalogs (minus denied ones, and minus
  every column holding table data or stored expressions), tables, sequences and materialized views; a user
  view is checked the same way, recursively, and so are the row-level security policies of the tables read;
  foreign tables are refused; PostgreSQL's own record of what the analysis locked must agree;
* the plan stays small (``bounds.MAX_PLAN_NODES`` once every subquery column is substituted) and never
  needs a hash table PostgreSQL 15 cannot spill (recursive UNION, NOT IN (subquery), sets of unsortable
  types).

The checker runs nothing it did not choose: every one of its own queries names its functions, operators and
types with their schema (``OPERATOR(pg_catalog.=)``), and runs with ``search_path = pg_catalog, pg_temp``.

Parse analysis itself runs one kind of code: the input function of a literal's type (``'x'::t``). Only a
superuser can create a base type, so that code is PostgreSQL's or an installed extension's.

This module imports policy, bounds, nodetree and messages, and the guard's pglast walker (lazily).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq

from migrator.errors import QueryFailed, UnsafeSQL
from migrator.sqlaction import bounds, jsontree, messages, numeric, policy
from migrator.sqlaction.nodetree import (
    Node,
    bitmap,
    const_bytes,
    const_int,
    const_text,
    oids,
    parse_node_tree,
    undo_line_breaks,
    walk,
)

__all__ = ["CHECK_PATH", "analysed_query", "check", "check_named_relations"]

# The search_path of every query the check sends: pg_catalog first, pg_temp explicitly last (unlisted, it
# would be searched first for relations and types).
CHECK_PATH = "pg_catalog, pg_temp"

_EQ, _NE, _LT, _GE = (f"OPERATOR(pg_catalog.{op})" for op in ("=", "<>", "<", ">="))
_BUILTIN = f"{policy.BUILTIN_OID_LIMIT}::pg_catalog.oid"

_MAX_VIEW_DEPTH = 16

# enum values as PostgreSQL 15 prints them
_ANY_SUBLINK, _ARRAY_SUBLINK = "2", "6"
_AND_EXPR = "and"  # BoolExpr prints its operator as a word
_RTE_RELATION, _RTE_SUBQUERY, _RTE_JOIN, _RTE_CTE = "0", "1", "2", "6"
_JOIN_FULL = "2"
_SETOP_UNION = "1"
_CAST_FORMATS = ("1", "2")  # CoercionForm: a FuncExpr printed as an explicit or implicit cast
# Bitmapset offset of column numbers (FirstLowInvalidHeapAttributeNumber is -7 in PostgreSQL 12 to 17).
_ATTNO_OFFSET = 7
# char(n), varchar(n), bit(n), varbit(n): the typmod is the length (+ 4 for the character types).
_LENGTH_TYPES = frozenset({"1042", "1043", "1560", "1562"})
_NUMERIC = "1700"

# Every node kind parse analysis of a SELECT produces on PostgreSQL 15 (and RTEPERMISSIONINFO, 16+). Anything
# else is refused: a node this module does not know may hold a function it would not see.
_KNOWN_NODES = frozenset(
    {
        "QUERY", "RANGETBLENTRY", "RTEPERMISSIONINFO", "ALIAS", "FROMEXPR", "JOINEXPR", "RANGETBLREF",
        "TARGETENTRY", "VAR", "CONST", "PARAM", "AGGREF", "GROUPINGFUNC", "WINDOWFUNC", "SUBSCRIPTINGREF",
        "FUNCEXPR", "NAMEDARGEXPR", "OPEXPR", "DISTINCTEXPR", "NULLIFEXPR", "SCALARARRAYOPEXPR", "BOOLEXPR",
        "SUBLINK", "FIELDSELECT", "RELABELTYPE", "COERCEVIAIO", "ARRAYCOERCEEXPR", "CONVERTROWTYPEEXPR",
        "COLLATEEXPR", "CASEEXPR", "CASEWHEN", "CASETESTEXPR", "ARRAYEXPR", "ROWEXPR", "ROWCOMPAREEXPR",
        "COALESCEEXPR", "MINMAXEXPR", "SQLVALUEFUNCTION", "NULLTEST", "BOOLEANTEST", "COERCETODOMAIN",
        "COERCETODOMAINVALUE", "SORTGROUPCLAUSE", "GROUPINGSET", "WINDOWCLAUSE", "COMMONTABLEEXPR",
        "CTESEARCHCLAUSE", "CTECYCLECLAUSE", "SETOPERATIONSTMT", "RANGETBLFUNCTION",
    }
)  # fmt: skip
_REFUSED_NODES = {
    "TABLEFUNC": "XMLTABLE and JSON_TABLE are not allowed",
    "TABLESAMPLECLAUSE": "TABLESAMPLE is not allowed",
    "XMLEXPR": "XML functions are not allowed",
    "ROWMARKCLAUSE": "locking clauses (FOR UPDATE/SHARE) take row locks",
    "NEXTVALUEEXPR": "the query would advance a sequence",
}

_TYPE_FIELDS = (
    "vartype", "consttype", "resulttype", "funcresulttype", "opresulttype", "aggtype", "wintype",
    "row_typeid", "array_typeid", "element_typeid", "minmaxtype", "coalescetype", "casetype", "typeId",
    "paramtype", "aggargtypes", "coltypes", "funccoltypes", "refcontainertype", "refelemtype", "refrestype",
    "aggtranstype", "ctecoltypes", "colTypes", "cycle_mark_type",
)  # fmt: skip


# ----------------------------------------------------------------------------------- getting the analysis


_SET_LOCAL = "pg_catalog.set_config(%s::pg_catalog.text, %s::pg_catalog.text, true)"


# The types a type is made of, one level down (the element of an array, a domain's base, a composite's
# columns, a range's subtype, a multirange's range): the recursive step of both type closures below.
_TYPE_CHILDREN = (
    "  CROSS JOIN LATERAL ("
    f"    SELECT t.typelem WHERE t.typelem {_NE} 0::pg_catalog.oid"
    f"    UNION ALL SELECT t.typbasetype WHERE t.typtype {_EQ} 'd'::pg_catalog.\"char\""
    "    UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a"
    f"     WHERE t.typtype {_EQ} 'c'::pg_catalog.\"char\" AND a.attrelid {_EQ} t.typrelid"
    "       AND a.attnum OPERATOR(pg_catalog.>) 0::pg_catalog.int2 AND NOT a.attisdropped"
    f"    UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid {_EQ} t.oid"
    f"    UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid {_EQ} t.oid"
    "  ) AS x(child)"
)


def set_local(conn: psycopg.Connection, settings: dict[str, str]) -> None:
    """SET LOCAL of each setting, with bound parameters (SET takes none): they end with the transaction."""
    conn.execute(
        "SELECT " + ", ".join(_SET_LOCAL for _ in settings),
        [item for name, value in settings.items() for item in (name, value)],
    )


def analysed_query(conn: psycopg.Connection, name: str, statement: str, *, user_path: str) -> Node:
    """Prepare ``statement`` (a ``DECLARE <cursor> CURSOR FOR <query>``) as ``name`` and return PostgreSQL's
    analysis of its query. Parse analysis only: the statement is not planned or run, and nothing is written.

    ``conn`` is in the READ ONLY transaction; the statement is analysed with ``user_path`` (the query's own
    search_path); afterwards the transaction's search_path is :data:`CHECK_PATH`. Raises QueryFailed when
    PostgreSQL refuses the statement, UnsafeSQL when its analysis cannot be read."""
    (previous,) = conn.execute("SELECT pg_catalog.current_setting('client_min_messages')").fetchone()
    quiet = {"debug_print_rewritten": "off", "debug_print_plan": "off", "debug_pretty_print": "off"}
    set_local(
        conn, {"search_path": user_path, **quiet, "debug_print_parse": "on", "client_min_messages": "log"}
    )
    captured: list[tuple[str | None, str | None, str | None]] = []

    def receive(diag: psycopg.errors.Diagnostic) -> None:  # fields are only readable inside the callback
        captured.append((diag.severity_nonlocalized, diag.message_primary, diag.message_detail))

    conn.add_notice_handler(receive)
    try:
        result = conn.pgconn.prepare(name.encode(), statement.encode(conn.info.encoding))
    finally:
        conn.remove_notice_handler(receive)
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise QueryFailed(describe_result(result))
    set_local(conn, {"debug_print_parse": "off", "client_min_messages": previous, "search_path": CHECK_PATH})
    trees = [
        detail for severity, primary, detail in captured if severity == "LOG" and primary == "parse tree:"
    ]
    if len(trees) != 1 or not trees[0]:
        raise UnsafeSQL("the server's analysis of the query could not be read; refusing it")
    try:
        top = parse_node_tree(undo_line_breaks(trees[0], conn.info.encoding))
        query = top["utilityStmt"]["query"]
    except (ValueError, IndexError, KeyError, TypeError):
        # Fail closed: a tree this reader does not understand (a future PostgreSQL) is not allowed.
        raise UnsafeSQL("the server's analysis of the query could not be read; refusing it") from None
    if not isinstance(query, Node) or query.name != "QUERY":
        raise UnsafeSQL("the server's analysis of the query could not be read; refusing it")
    return query


def describe_result(result: pq.abc.PGresult) -> str:
    def field(code: pq.DiagnosticField) -> str | None:
        raw = result.error_field(code)
        return raw.decode("utf-8", "replace") if raw else None

    return messages.describe(
        field(pq.DiagnosticField.MESSAGE_PRIMARY),
        field(pq.DiagnosticField.SQLSTATE),
        field(pq.DiagnosticField.MESSAGE_DETAIL),
        field(pq.DiagnosticField.MESSAGE_HINT),
    )


def describe_error(exc: psycopg.Error) -> str:
    diag = exc.diag
    primary = diag.message_primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return messages.describe(primary, diag.sqlstate, diag.message_detail, diag.message_hint)


# ----------------------------------------------------------------------------------------- the walk


@dataclass
class _Found:
    functions: dict[int, list[Node]] = field(default_factory=dict)  # FuncExpr, Aggref, WindowFunc
    operators: dict[int, list[Node]] = field(default_factory=dict)
    types: set[int] = field(default_factory=set)  # every type a value of the query has
    constructed: set[int] = field(default_factory=set)  # types the query makes values of (input, casts)
    relations: dict[int, set[int]] = field(default_factory=dict)  # relid -> selected column numbers
    # functions in the left side of an IN (subquery) the planner must turn into a join: none may be volatile
    join_conditions: set[int] = field(default_factory=set)
    # operators a FULL JOIN is implemented with: a hash join is its only choice unless they can be sorted
    full_join_operators: set[int] = field(default_factory=set)
    function_names: dict[int, str] = field(default_factory=dict)  # filled by the function check
    operator_functions: dict[int, str] = field(default_factory=dict)  # filled by the operator check
    parsed: set[int] = field(default_factory=set)  # types made from text that is not a literal
    row_security: bool = False  # a relation read has row-level security (EXPLAIN would print its policy)
    user_views: bool = False  # a user view is read (EXPLAIN would print its WHERE clause)

    def add_function(self, oid: int, node: Node) -> None:
        self.functions.setdefault(oid, []).append(node)

    def add_operator(self, oid: int, node: Node) -> None:
        self.operators.setdefault(oid, []).append(node)

    def merge(self, other: _Found) -> None:
        for oid, nodes in other.functions.items():
            self.functions.setdefault(oid, []).extend(nodes)
        for oid, nodes in other.operators.items():
            self.operators.setdefault(oid, []).extend(nodes)
        self.types |= other.types
        self.constructed |= other.constructed


def _collect(tree: Any, found: _Found) -> None:
    for node in walk(tree):
        name = node.name
        if name in _REFUSED_NODES:
            raise UnsafeSQL(_REFUSED_NODES[name])
        if name not in _KNOWN_NODES:
            raise UnsafeSQL(f"the query's analysis holds a {name} node, which the server-side check does not "
                            "know; refusing it")  # fmt: skip
        for key in _TYPE_FIELDS:
            if key in node:
                found.types.update(oids(node[key]))
        if name == "QUERY":
            _check_query_node(node)
        elif name == "COERCEVIAIO" and node.get("resulttype") == _NUMERIC:
            _check_numeric_source(node.get("arg"))
        if name == "COERCEVIAIO" and not _is_literal(node.get("arg")):
            found.parsed.update(oids(node.get("resulttype")))
        elif name == "CONST":
            _check_numeric_size(node)
        if name in ("CONST", "RELABELTYPE", "COERCEVIAIO", "ARRAYCOERCEEXPR", "COERCETODOMAIN"):
            _check_typmod(node)
            found.constructed.update(oids(node.get("consttype") or node.get("resulttype")))
        if name == "FUNCEXPR" and node.get("funcformat") in _CAST_FORMATS:
            found.constructed.update(oids(node.get("funcresulttype")))
        if name in ("FUNCEXPR", "AGGREF", "WINDOWFUNC"):
            key = {"FUNCEXPR": "funcid", "AGGREF": "aggfnoid", "WINDOWFUNC": "winfnoid"}[name]
            for oid in oids(node.get(key)):
                found.add_function(oid, node)
        elif name in ("OPEXPR", "DISTINCTEXPR", "NULLIFEXPR", "SCALARARRAYOPEXPR"):
            for oid in oids(node.get("opno")):
                found.add_operator(oid, node)
        elif name == "ROWCOMPAREEXPR":
            for oid in oids(node.get("opnos")):
                found.add_operator(oid, node)
        elif name == "SORTGROUPCLAUSE":
            for key in ("eqop", "sortop"):
                for oid in oids(node.get(key)):
                    found.add_operator(oid, node)
        elif name == "CTECYCLECLAUSE":
            for oid in oids(node.get("cycle_mark_neop")):
                found.add_operator(oid, node)
        elif name == "WINDOWCLAUSE":
            for key in ("startInRangeFunc", "endInRangeFunc"):
                for oid in oids(node.get(key)):
                    found.add_function(oid, node)
        elif name == "JOINEXPR" and node.get("jointype") == _JOIN_FULL:
            _check_full_join(node, found)
        elif name == "SUBLINK" and node.get("subLinkType") == _ARRAY_SUBLINK:
            raise UnsafeSQL(
                "ARRAY(subquery) folds any number of rows into one value of unbounded size; "
                "select the rows instead"
            )
        elif name in ("RANGETBLENTRY", "RTEPERMISSIONINFO"):
            relid = oids(node.get("relid"))
            if relid and (name == "RTEPERMISSIONINFO" or node.get("rtekind") == _RTE_RELATION):
                columns = found.relations.setdefault(relid[0], set())
                columns.update(bit - _ATTNO_OFFSET for bit in bitmap(node.get("selectedCols")))


def _check_full_join(join: Node, found: _Found) -> None:
    """A FULL JOIN can only be a merge join or a hash join. With hash joins off for the reader, a condition
    PostgreSQL cannot sort (xid = xid) still makes it a hash join, and a hash join's batch of rows that share
    one key never spills (a million of them took a backend to 350 MB): every condition must be an operator
    that can merge-join (checked with the operators)."""
    for condition in _conjuncts(join.get("quals")):
        if not (isinstance(condition, Node) and condition.name == "OPEXPR"):
            raise UnsafeSQL(
                "a FULL JOIN's ON must be equalities of sortable columns; rewrite it with UNION ALL"
            )
        found.full_join_operators.update(oids(condition.get("opno")))


def _check_query_node(query: Node) -> None:
    if query.get("commandType") != "1" or query.get("utilityStmt") is not None:
        raise UnsafeSQL("only SELECT queries are allowed, at every level of the query")
    if query.get("hasModifyingCTE") == "true" or query.get("resultRelation") not in (None, "0"):
        raise UnsafeSQL("a query that writes (a data-modifying WITH clause) is not allowed")
    if query.get("rowMarks"):
        raise UnsafeSQL(_REFUSED_NODES["ROWMARKCLAUSE"])


# ------------------------------------------------------------------------- plan shape: size and hashing


def _level_nodes(tree: Any) -> Iterator[Node]:
    """Every node of one query level: not into nested queries (subqueries, CTEs, sublinks' subselects)."""
    pending = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, Node):
            yield item
            if item.name != "QUERY" or item is tree:
                pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _conjuncts(quals: Any) -> Iterator[Any]:
    pending = [quals]
    while pending:
        item = pending.pop()
        if isinstance(item, list):  # an implicit AND (a qual list)
            pending.extend(item)
        elif isinstance(item, Node) and item.name == "BOOLEXPR" and item.get("boolop") == _AND_EXPR:
            pending.extend(item.get("args") or [])
        elif item is not None:
            yield item


def _references_level(tree: Any, level: int) -> bool:
    """Whether ``tree`` (a query at nesting ``level`` below the query of interest) reads a column of it."""
    pending = [(tree, level)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Node):
            if item.name == "VAR" and item.get("varlevelsup") == str(depth):
                return True
            inner = depth + 1 if item.name == "QUERY" and item is not tree else depth
            pending.extend((value, inner) for value in item.values())
        elif isinstance(item, list):
            pending.extend((value, depth) for value in item)
    return False


def _check_plan_shape(root: Node, found: _Found) -> None:
    """Hash tables PostgreSQL 15 never spills, and the query's depth; then its size."""
    pending = [(root, 1)]
    while pending:
        query, depth = pending.pop()
        if depth > bounds.MAX_QUERY_DEPTH:
            raise UnsafeSQL(f"the query nests more than {bounds.MAX_QUERY_DEPTH} levels of subqueries")
        jointree = query.get("jointree")
        conditions = {
            id(node) for node in _conjuncts(jointree.get("quals") if isinstance(jointree, Node) else None)
        }
        for node in _level_nodes(query):
            if node.name == "SUBLINK" and node.get("subLinkType") == _ANY_SUBLINK:
                _check_any_sublink(node, id(node) in conditions, found)
            elif node.name == "COMMONTABLEEXPR" and node.get("cterecursive") == "true":
                inner = node.get("ctequery")
                operation = inner.get("setOperations") if isinstance(inner, Node) else None
                if isinstance(operation, Node) and operation.get("all") != "true":
                    raise UnsafeSQL(
                        f"WITH RECURSIVE {node.get('ctename')} uses UNION: PostgreSQL 15 keeps its rows in "
                        "an in-memory hash table that never spills to disk; use UNION ALL (with a WHERE that "
                        "stops it, or a CYCLE clause)"
                    )
            elif node.name == "SETOPERATIONSTMT" and not (
                node.get("op") == _SETOP_UNION and node.get("all") == "true"
            ):
                for clause in node.get("groupClauses") or ():
                    if isinstance(clause, Node) and not oids(clause.get("sortop")):
                        raise UnsafeSQL(
                            "UNION, INTERSECT or EXCEPT over a column whose type cannot be sorted would need "
                            "an in-memory hash table that PostgreSQL 15 never spills; use UNION ALL"
                        )
            if node is not query and node.name == "QUERY":
                pending.append((node, depth + 1))
    nodes = _PlanSize().total(root)
    if nodes > bounds.MAX_PLAN_NODES:
        raise UnsafeSQL(
            f"the plan of this query would hold about {nodes:,} expression nodes (each column of a subquery "
            f"is copied into every place that uses it); the limit is {bounds.MAX_PLAN_NODES:,}: use fewer "
            "levels or fewer references to the same column"
        )


def _check_any_sublink(sublink: Node, is_condition: bool, found: _Found) -> None:
    """``x IN (subquery)`` / ``x op ANY (subquery)``: PostgreSQL 15 turns it into a join only as a condition
    of WHERE whose left side reads the query's own columns and calls nothing volatile; elsewhere, when the
    subquery is not correlated, it may build an in-memory hash table of the whole subquery that never spills
    (a one-row estimate and a million rows took the backend past a gigabyte)."""
    if _references_level(sublink.get("subselect"), 1):
        return  # correlated: run once per row, never hashed
    test = sublink.get("testexpr")
    if is_condition and _references_level(test, 0):
        for node in walk(test):  # (every built-in operator's function is stable or immutable)
            if node.name == "FUNCEXPR":
                found.join_conditions.update(oids(node.get("funcid")))
        return
    raise UnsafeSQL(
        "NOT IN (subquery), and IN (subquery) anywhere but as a condition of WHERE, make PostgreSQL 15 build "
        "an in-memory hash table of the whole subquery that never spills to disk; write NOT EXISTS "
        "(SELECT ... WHERE ...) or EXISTS instead"
    )


class _PlanSize:
    """How many expression nodes the planner may hold: every reference to a subquery's (or CTE's, or
    join's) column counts the nodes of that column's expression, as the planner copies it when it pulls
    the subquery up. Memoised per column, so the count itself stays linear in the tree."""

    def __init__(self) -> None:
        self.columns: dict[tuple[int, int], int] = {}

    def total(self, query: Node, outer: Sequence[Node] = ()) -> int:
        try:
            return self._total(query, list(outer))
        except RecursionError:
            raise UnsafeSQL("the query is nested too deeply to check") from None

    def _total(self, query: Node, outer: list[Node]) -> int:
        scope = [query, *outer]
        size = 0
        for key in ("targetList", "jointree", "havingQual", "limitCount", "limitOffset", "windowClause"):
            size += self._expr(query.get(key), scope)
        for rte in query.get("rtable") or ():
            if not isinstance(rte, Node):
                continue
            if rte.get("rtekind") == _RTE_SUBQUERY and isinstance(rte.get("subquery"), Node):
                size += self._total(rte["subquery"], scope)
            else:
                size += self._expr([rte.get("functions"), rte.get("values_lists")], scope)
        for cte in query.get("cteList") or ():
            if isinstance(cte, Node) and isinstance(cte.get("ctequery"), Node):
                size += self._total(cte["ctequery"], scope)
        return size

    def _expr(self, tree: Any, scope: list[Node]) -> int:
        size = 0
        pending = [tree]
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, Node):
                size += 1
                if item.name == "VAR":
                    size += self._var(item, scope) - 1
                elif item.name == "SUBLINK":
                    pending.append(item.get("testexpr"))
                    if isinstance(item.get("subselect"), Node):
                        size += self._total(item["subselect"], scope)
                elif item.name != "QUERY":
                    pending.extend(item.values())
        return size

    def _var(self, var: Node, scope: list[Node]) -> int:
        # A column of an outer query (a LATERAL subquery's, a correlated sublink's) is substituted too when
        # the planner pulls the inner query up: resolve it in the query it belongs to.
        levels = int(var.get("varlevelsup", "0"))
        if not 0 <= levels < len(scope):
            return 1
        scope = scope[levels:]
        rtable = scope[0].get("rtable") or []
        index, attno = int(var.get("varno", "0")), int(var.get("varattno", "0"))
        if not 1 <= index <= len(rtable) or not isinstance(rtable[index - 1], Node):
            return 1
        rte = rtable[index - 1]
        kind = rte.get("rtekind")
        if kind == _RTE_SUBQUERY and isinstance(rte.get("subquery"), Node):
            subquery = rte["subquery"]
            if subquery.get("limitCount") is not None or subquery.get("limitOffset") is not None:
                # PostgreSQL never pulls up nor pushes a condition into a subquery with LIMIT or OFFSET
                # (is_simple_subquery, subquery_is_pushdown_safe): its columns are computed once, not copied
                return 1
            return self._column(subquery, attno, scope)
        if kind == _RTE_JOIN:
            aliases = rte.get("joinaliasvars") or []
            return self._expr(aliases[attno - 1], scope) if 1 <= attno <= len(aliases) else 1
        if kind == _RTE_CTE:
            owner = int(rte.get("ctelevelsup", "0"))
            for cte in (scope[owner].get("cteList") or []) if owner < len(scope) else []:
                if isinstance(cte, Node) and cte.get("ctename") == rte.get("ctename"):
                    return self._column(cte["ctequery"], attno, scope[owner:])
        return 1

    def _column(self, query: Node, attno: int, outer: list[Node]) -> int:
        key = (id(query), attno)
        if key not in self.columns:
            self.columns[key] = 1  # a recursive CTE refers to itself: count the cycle once
            scope = [query, *outer]
            rtable = query.get("rtable") or () if query.get("setOperations") else ()
            leaves = [
                rte["subquery"]
                for rte in rtable
                if isinstance(rte, Node)
                and rte.get("rtekind") == _RTE_SUBQUERY
                and isinstance(rte.get("subquery"), Node)
            ]
            if leaves:  # UNION ALL branches are pulled up one by one: a reference becomes one per branch
                self.columns[key] = sum(self._column(leaf, attno, scope) for leaf in leaves)
            else:
                targets = [t for t in query.get("targetList") or () if isinstance(t, Node)]
                if attno == 0:  # a whole-row reference: every column
                    chosen = [t for t in targets if t.get("resjunk") != "true"]
                else:
                    chosen = [t for t in targets if t.get("resno") == str(attno)]
                self.columns[key] = max(1, sum(self._expr(t.get("expr"), scope) for t in chosen))
        return self.columns[key]


# -------------------------------------------------------------------------------------- argument rules


def _is_null(node: Any) -> bool:
    return isinstance(node, Node) and node.name == "CONST" and node.get("constisnull") == "true"


def _is_literal(node: Any) -> bool:
    while isinstance(node, Node) and node.name == "RELABELTYPE":
        node = node.get("arg")
    return isinstance(node, Node) and node.name == "CONST"


def _has_column(node: Any) -> bool:
    return any(item.name == "VAR" for item in walk(node))


def _check_numeric_source(arg: Any) -> None:
    """Text (or json) made into numeric: '1e60000' is 8 characters and 60,001 digits. A value read from a
    column is the data's own size; one computed from literals is refused unless it is the literal itself."""
    is_literal = isinstance(arg, Node) and arg.name == "CONST"
    if not is_literal and not _has_column(arg):
        raise UnsafeSQL(
            "a numeric computed from text or json literals can have 131,072 digits, and arithmetic on it "
            "cannot be cancelled; write the number itself"
        )


def _numeric_weight(raw: bytes) -> int:
    """The weight (base-10000 digits before the point) of a numeric datum (varlena, 4-byte header)."""
    header = int.from_bytes(raw[4:6], "little")
    if header & 0xC000 == 0x8000:  # short format: the weight is 7 signed bits of the header
        weight = header & 0x3F
        return weight - 64 if header & 0x40 else weight
    return int.from_bytes(raw[6:8], "little", signed=True) if len(raw) >= 8 else 0


def _check_numeric_size(node: Node) -> None:
    raw = const_bytes(node)
    if node.get("consttype") != _NUMERIC or not raw or raw[0] & 0x01:
        return
    # numeric stores four decimal digits in two bytes; the weight says how many digits precede the point
    too_long = len(raw) > policy.MAX_NUMERIC_DIGITS // 2 + 16
    if too_long or abs(_numeric_weight(raw)) * 4 > policy.MAX_NUMERIC_DIGITS:
        raise UnsafeSQL(
            f"a numeric literal has more than {policy.MAX_NUMERIC_DIGITS} digits: arithmetic on such "
            "numbers cannot be cancelled"
        )


def _check_typmod(node: Node) -> None:
    kind = node.get("consttype") or node.get("resulttype")
    typmod = node.get("consttypmod") or node.get("resulttypmod") or "-1"
    if kind in _LENGTH_TYPES and int(typmod) > policy.MAX_TYPMOD + 4:
        raise UnsafeSQL(f"a length of {int(typmod) - 4} is over the limit of {policy.MAX_TYPMOD}")


def _check_arguments(name: str, node: Node, arguments: str) -> None:
    args = node.get("args") or []
    if name == "power" and node.get("funcresulttype") == _NUMERIC:
        _check_exponent(args)
    if name == "numeric" and arguments in ("jsonb", "json") and args:
        _check_numeric_source(args[0])
    if name in ("gcd", "lcm") and "numeric" in arguments:
        raise UnsafeSQL(
            f"{name}() of numeric runs Euclid's algorithm on numbers of up to 147,455 digits without "
            "checking for cancellation; use it on integers"
        )
    if name in ("btrim", "ltrim", "rtrim") and len(args) == 2:
        characters = const_text(args[1])
        if characters is None or len(characters) > bounds.TRIM_SET_MAX:
            raise UnsafeSQL(
                f"TRIM, btrim, ltrim and rtrim take a literal set of at most {bounds.TRIM_SET_MAX} "
                "characters: each character of the value is compared with every character of the set, and "
                "that loop cannot be cancelled"
            )
    if name in _REGEX_FUNCTIONS:
        policy.check_regex_pattern(const_text(args[1]) if len(args) >= 2 else None)
    elif name == "similar_to_escape":
        policy.check_regex_pattern(const_text(args[0]) if args else None, similar=True)
    elif name == "substring" and arguments.startswith("text, text"):
        # substring(x FROM pattern) and substring(x SIMILAR pattern ESCAPE e) match a regular expression
        policy.check_regex_pattern(const_text(args[1]), similar=arguments == "text, text, text")
    if name == "concat_ws" and node.get("funcvariadic") == "true":
        raise UnsafeSQL(
            "concat_ws(sep, VARIADIC array) repeats the separator once per element; list the values"
        )
    if name in policy.NAME_LOOKUPS:
        policy.check_lookup_name_argument(const_text(args[0]) if args else None, name)
    if name == "regclass" and arguments == "text" and args and not _is_literal(args[0]):
        policy.refuse_name_text_input("regclass")  # CAST(text_column AS regclass) is this function
    if name in policy.PRIVILEGE_LOOKUPS:
        # a name it looks up (text) is a literal; the privilege, has_*_privilege's last argument, is parsed
        types = arguments.split(", ")
        for position, arg in enumerate(args if name == "pg_get_serial_sequence" else args[:-1]):
            if position < len(types) and types[position].split(" ")[-1] == "text" and not _is_literal(arg):
                policy.check_privilege_name_argument(None, name)
    if name in policy.ZONE_FUNCTIONS and len(args) > policy.ZONE_FUNCTIONS[name]:
        position = policy.ZONE_FUNCTIONS[name]
        if arguments.split(", ")[position].split(" ")[-1] == "text":  # timezone(interval, ...) is an offset
            policy.check_time_zone_argument(const_text(args[position]), name)
    if name in policy.FORMAT_FUNCTIONS and len(args) == 2:
        policy.check_format_argument(const_text(args[1]), name)
    if name == "format_type" and not (len(args) == 2 and _is_null(args[1])):
        raise UnsafeSQL(
            "format_type() takes NULL as its modifier, e.g. format_type(atttypid, NULL): a modifier runs the "
            "type's typmod_out function"
        )
    if name == "current_setting":
        policy.check_setting_name(const_text(args[0]) if args else None)
    elif name == "generate_series":
        policy.check_series_bounds([const_int(arg) for arg in args])
    elif node.name == "FUNCEXPR" and node.get("funcresulttype") in _LENGTH_TYPES:
        typmod = const_int(args[1]) if len(args) > 1 else None
        if typmod is not None and typmod > policy.MAX_TYPMOD + 4:
            raise UnsafeSQL(f"a length of {typmod - 4} is over the limit of {policy.MAX_TYPMOD}")


def _check_exponent(args: list[Any]) -> None:
    """numeric ^ y: y must be a small literal integer (huge numeric arithmetic cannot be cancelled)."""
    exponent = args[1] if len(args) == 2 else None
    if isinstance(exponent, Node) and exponent.name == "FUNCEXPR" and len(exponent.get("args") or []) == 1:
        exponent = exponent["args"][0]  # the cast of an integer literal to numeric
    value = const_int(exponent)
    if value is None or abs(value) > policy.MAX_NUMERIC_DIGITS:
        raise UnsafeSQL(
            f"the exponent of a numeric ^ or power() must be a literal integer of at most "
            f"{policy.MAX_NUMERIC_DIGITS}"
        )


# The functions behind ~, ~*, !~ and !~* (SIMILAR TO is ~ with similar_to_escape(pattern) on its right).
_REGEX_OPERATORS = frozenset(
    {"textregexeq", "textregexne", "texticregexeq", "texticregexne", "bpcharregexeq", "bpcharregexne",
     "bpcharicregexeq", "bpcharicregexne", "nameregexeq", "nameregexne", "nameicregexeq", "nameicregexne"}
)  # fmt: skip
_REGEX_FUNCTIONS = frozenset({"regexp_match", "regexp_matches", "regexp_split_to_array", "regexp_like"})


def _check_regex_operand(node: Node, function_names: dict[int, str]) -> None:
    """The pattern of ``x ~ pattern`` (or ``x ~ ANY (ARRAY[...])``): literals of a bounded compiled size."""
    args = node.get("args") or []
    pattern = args[1] if len(args) == 2 else None
    is_array = node.name == "SCALARARRAYOPEXPR"
    if is_array and not (isinstance(pattern, Node) and pattern.name == "ARRAYEXPR"):
        policy.check_regex_pattern(None)
    for item in (pattern.get("elements") or [None]) if is_array else [pattern]:
        if isinstance(item, Node) and item.name == "FUNCEXPR":
            called = [function_names.get(oid) for oid in oids(item.get("funcid"))]
            if called == ["similar_to_escape"]:
                continue  # SIMILAR TO: its pattern is checked with the call
        policy.check_regex_pattern(const_text(item))


def _check_like_pattern(node: Node) -> None:
    args = node.get("args") or []
    pattern = args[1] if len(args) == 2 else None
    patterns = (
        pattern.get("elements") if isinstance(pattern, Node) and pattern.name == "ARRAYEXPR" else [pattern]
    )
    for item in patterns or [None]:
        policy.check_like_pattern(const_text(item))


# ------------------------------------------------------------------------------------------- trust

_aliases = itertools.count(1)


def _trusted(column: str) -> str:
    """SQL that is true when function ``column`` is trusted: a built-in, or a C or internal function that an
    extension installed as a superuser (or as the bootstrap role, which runs a trusted extension's script).
    A function the migrator made and then added to an extension (ALTER EXTENSION ... ADD) is owned by the
    migrator, and so is not trusted. Each use gets its own aliases: an outer alias can never be shadowed."""
    n = next(_aliases)
    d, p, r, lang = f"trust_dep_{n}", f"trust_fn_{n}", f"trust_owner_{n}", f"trust_lang_{n}"
    return (
        f"({column} {_LT} {_BUILTIN} OR EXISTS (SELECT FROM pg_catalog.pg_depend {d}"
        f" JOIN pg_catalog.pg_proc {p} ON {p}.oid {_EQ} {d}.objid"
        f" JOIN pg_catalog.pg_roles {r} ON {r}.oid {_EQ} {p}.proowner"
        f" JOIN pg_catalog.pg_language {lang} ON {lang}.oid {_EQ} {p}.prolang"
        f" WHERE {d}.classid {_EQ} 'pg_catalog.pg_proc'::pg_catalog.regclass AND {d}.objid {_EQ} {column}"
        f" AND {d}.refclassid {_EQ} 'pg_catalog.pg_extension'::pg_catalog.regclass"
        f" AND {d}.deptype {_EQ} 'e'::pg_catalog.\"char\""
        f" AND ({r}.rolsuper OR {r}.oid {_EQ} 10::pg_catalog.oid)"
        f" AND {lang}.lanname {_EQ} ANY ('{{c,internal}}'::pg_catalog.name[])))"
    )


# ---------------------------------------------------------------------------------------- the check


def check(conn: psycopg.Connection, query: Node) -> bool:
    """Raise UnsafeSQL unless everything ``query`` (the analysis :func:`analysed_query` returned) resolves
    to is allowed. ``conn`` is in the READ ONLY transaction that analysed it, with :data:`CHECK_PATH`.

    Returns whether the query reads a relation whose plan would print what its definition hides (a
    row-level security policy, a user view's WHERE clause): EXPLAIN of it is refused."""
    found = _Found()
    _collect(query, found)
    _check_plan_shape(query, found)
    seen: set[int] = set()
    _check_relations(conn, found, seen)
    _check_locked_relations(conn, seen)
    _check_functions(conn, found)
    _check_operators(conn, found)
    numeric.check(query, found.function_names, found.operator_functions)
    jsontree.check(query, found.function_names, found.operator_functions)
    _check_types(conn, found)
    _check_parsed_types(conn, found)
    return found.row_security or found.user_views


def check_named_relations(conn: psycopg.Connection, text: str, schemas: Sequence[str]) -> None:
    """Before PostgreSQL analyses the query: a literal compared with a column takes the column's type while
    the query is analysed ('(7)' = a composite of a domain runs the domain's CHECK). So the column types of
    every relation the text names, in any schema of ``schemas`` (the query's search_path) or its own, are
    checked first, as if the query made values of them."""
    try:
        from pglast import ast, parse_sql

        from migrator.sqlaction.guard import iter_nodes

        names = {
            (node.schemaname, node.relname)
            for statement in parse_sql(text)
            for node in iter_nodes(statement.stmt)
            if isinstance(node, ast.RangeVar)
        }
    except Exception:
        return  # the server's own analysis (and the check of it) still follows
    if not names:
        return
    types = {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT a.atttypid FROM pg_catalog.pg_class c"
            f" JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} c.relnamespace"
            f" JOIN pg_catalog.pg_attribute a ON a.attrelid {_EQ} c.oid"
            f" WHERE c.relname {_EQ} ANY (%s::pg_catalog.name[])"
            f"   AND (n.nspname {_EQ} ANY (%s::pg_catalog.name[])"
            f"        OR n.oid {_EQ} pg_catalog.pg_my_temp_schema())"
            "   AND a.attnum OPERATOR(pg_catalog.>) 0::pg_catalog.int2 AND NOT a.attisdropped",
            (sorted({name for _, name in names}), sorted({*schemas, *(s for s, _ in names if s)})),
        )
    }
    if types:
        _check_types(conn, _Found(types=set(types), constructed=set(types)))


def _check_relations(conn: psycopg.Connection, found: _Found, seen: set[int]) -> None:
    """Check every relation read, then what the user views and row-level security policies among them
    read and call, level by level."""
    pending = dict(found.relations)
    depth = 0
    while pending:
        depth += 1
        if depth > _MAX_VIEW_DEPTH:
            raise UnsafeSQL(f"views nest more than {_MAX_VIEW_DEPTH} levels deep")
        rows = conn.execute(
            "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity"
            f"  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} c.relnamespace"
            f" WHERE c.oid {_EQ} ANY (%s::pg_catalog.oid[])",
            (list(pending),),
        ).fetchall()
        nested = _Found()
        shown = {oid: f"{schema}.{name}" for oid, schema, name, _, _ in rows}
        user: list[int] = []
        views: list[int] = []
        for oid, _, name, kind, row_security in rows:
            seen.add(oid)
            if oid < policy.BUILTIN_OID_LIMIT:
                _check_builtin_relation(conn, oid, name, shown[oid], pending[oid])
                continue
            if kind == "f":
                raise UnsafeSQL(f"{shown[oid]} is a foreign table: reading it runs a query on another server")
            found.row_security |= row_security
            found.user_views |= kind == "v"
            user.append(oid)
            if kind == "v":
                views.append(oid)
        if not user:
            break
        # One query per kind of check for the whole level: a table with thousands of partitions is one level.
        _check_indexes(conn, user, shown)
        _check_attached_code(conn, user, shown)
        # Inheritance children and partitions are scanned too, with their own indexes and constraints.
        for (child,) in conn.execute(
            f"SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent {_EQ} ANY (%s::pg_catalog.oid[])",
            (user,),
        ):
            if child not in seen:
                nested.relations.setdefault(child, set())
        # What a user view and a row-level security policy read and call is checked like the query.
        trees = conn.execute(
            "SELECT ev_class, ev_action FROM pg_catalog.pg_rewrite"
            f" WHERE ev_class {_EQ} ANY (%(views)s::pg_catalog.oid[])"
            f"   AND rulename {_EQ} '_RETURN'::pg_catalog.name"
            " UNION ALL SELECT polrelid, polqual FROM pg_catalog.pg_policy"
            f" WHERE polrelid {_EQ} ANY (%(user)s::pg_catalog.oid[])"
            f"   AND polcmd {_EQ} ANY ('{{r,*}}'::pg_catalog.\"char\"[]) AND polqual IS NOT NULL",
            {"user": user, "views": views},
        ).fetchall()
        for oid, tree in trees:
            try:
                _collect(parse_node_tree(tree), nested)
            except (ValueError, IndexError):
                raise UnsafeSQL(f"the definition of {shown[oid]} could not be read; refusing it") from None
        found.merge(nested)
        pending = {oid: cols for oid, cols in nested.relations.items() if oid not in seen}


def _check_locked_relations(conn: psycopg.Connection, seen: set[int]) -> None:
    """Parse analysis locks every relation it resolved. Each one must be among those the walk found: a
    disagreement means this module misread the tree, and the query is refused rather than trusted."""
    rows = conn.execute(
        "SELECT DISTINCT l.relation FROM pg_catalog.pg_locks l"
        f" WHERE l.pid {_EQ} pg_catalog.pg_backend_pid() AND l.locktype {_EQ} 'relation'::pg_catalog.text"
        f"   AND l.relation {_GE} {_BUILTIN}"
    ).fetchall()
    missed = sorted(oid for (oid,) in rows if oid not in seen)
    if missed:
        raise UnsafeSQL(
            "the server-side check's reading of the query misses relations PostgreSQL locked "
            f"({', '.join(map(str, missed))}); refusing it"
        )


def _check_builtin_relation(
    conn: psycopg.Connection, oid: int, name: str, shown: str, selected: set[int]
) -> None:
    if name in policy.DENIED_RELATIONS:
        raise UnsafeSQL(f"reading {shown} is not allowed: it holds {policy.DENIED_RELATIONS[name]}")
    named = policy.DENIED_COLUMNS.get(name, frozenset())
    columns = conn.execute(
        "SELECT attnum, attname, pg_catalog.format_type(atttypid, NULL) FROM pg_catalog.pg_attribute"
        f" WHERE attrelid {_EQ} %s::pg_catalog.oid AND attnum OPERATOR(pg_catalog.>) 0::pg_catalog.int2"
        "   AND NOT attisdropped",
        (oid,),
    ).fetchall()
    denied = {
        number: column for number, column, kind in columns if column in named or kind in policy.DATA_TYPES
    }
    if not denied:
        return
    if 0 in selected:
        raise UnsafeSQL(
            f"{shown} has columns that are not shown ({', '.join(sorted(denied.values()))}): name the "
            "columns you need instead of * or a whole-row reference"
        )
    hit = sorted(denied[number] for number in selected if number in denied)
    if hit:
        raise UnsafeSQL(
            f"column {shown}.{hit[0]} is not shown: it holds table data, stored expressions, source code, "
            "settings or secrets"
        )


def _check_functions(conn: psycopg.Connection, found: _Found) -> None:
    if not found.functions:
        return
    rows = conn.execute(
        "SELECT p.oid, n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid),"
        "       EXISTS (SELECT FROM pg_catalog.pg_cast c"
        f"               WHERE c.castfunc {_EQ} p.oid AND c.oid {_LT} {_BUILTIN}),"
        "       pg_catalog.format_type(p.prorettype, NULL), p.provolatile"
        f"  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} p.pronamespace"
        f" WHERE p.oid {_EQ} ANY (%s::pg_catalog.oid[])",
        (list(found.functions),),
    ).fetchall()
    for oid, schema, name, arguments, is_cast, result_type, volatility in rows:
        found.function_names[oid] = name
        nodes = found.functions[oid]
        shown = f"{schema}.{name}({arguments})"
        if oid >= policy.BUILTIN_OID_LIMIT or schema != "pg_catalog":
            raise UnsafeSQL(
                f"the query calls {shown}, which is not a built-in PostgreSQL function: the sql action only "
                "calls allow-listed functions from pg_catalog"
            )
        if oid in found.join_conditions and volatility == "v":
            raise UnsafeSQL(
                f"{name}() is volatile: IN (subquery) with it on the left is not turned into a join, and "
                "PostgreSQL 15 would build an in-memory hash table that never spills"
            )
        cast_only = all(n.name == "FUNCEXPR" and n.get("funcformat") in _CAST_FORMATS for n in nodes)
        if cast_only and is_cast:
            refusal = bounds.cast_refusal(name, result_type)
            if refusal:
                raise UnsafeSQL(f"the query casts with {shown}: {refusal}")
        elif name not in policy.ALLOWED_FUNCTIONS:
            reason = policy.REFUSED_FUNCTIONS.get(name, "it is not on the allow-list of read-only functions")
            raise UnsafeSQL(f"the query calls {shown}: {reason}")
        for node in nodes:
            _check_arguments(name, node, arguments)


def _check_operators(conn: psycopg.Connection, found: _Found) -> None:
    if not found.operators:
        return
    rows = conn.execute(
        "SELECT o.oid, n.nspname, o.oprname, o.oprcode::pg_catalog.oid, p.proname, o.oprcanmerge,"
        "       pg_catalog.format_type(o.oprleft, NULL), l.typname, l.typlen,"
        "       pg_catalog.format_type(o.oprright, NULL), r.typname, r.typlen"
        f"  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} o.oprnamespace"
        f"  JOIN pg_catalog.pg_proc p ON p.oid {_EQ} o.oprcode"
        f"  LEFT JOIN pg_catalog.pg_type l ON l.oid {_EQ} o.oprleft"
        f"  LEFT JOIN pg_catalog.pg_type r ON r.oid {_EQ} o.oprright"
        f" WHERE o.oid {_EQ} ANY (%s::pg_catalog.oid[])",
        (list(found.operators),),
    ).fetchall()
    for row in rows:
        oid, schema, name, function, function_name, mergeable, left, left_name, left_len = row[:9]
        right, right_name, right_len = row[9:]
        shown = f"operator {schema}.{name} ({left}, {right})"
        found.operator_functions[oid] = function_name
        if oid >= policy.BUILTIN_OID_LIMIT or function >= policy.BUILTIN_OID_LIMIT or schema != "pg_catalog":
            raise UnsafeSQL(f"the query uses {shown}, which is not a built-in PostgreSQL operator")
        operands = [(t, n) for t, n in ((left_name, left_len), (right_name, right_len)) if t is not None]
        entry, why = bounds.operator_verdict(function_name, operands)
        if entry is None:
            raise UnsafeSQL(f"the query uses {shown} ({function_name}): {why}")
        if oid in found.full_join_operators and not mergeable:
            raise UnsafeSQL(
                f"a FULL JOIN on {shown}, which PostgreSQL cannot sort, is run as a hash join whose rows "
                "sharing one key never spill to disk; join on sortable columns, or rewrite it with UNION ALL"
            )
        if function_name == "numeric_power":
            for node in found.operators[oid]:
                _check_exponent(node.get("args") or [])
        if function_name in policy.LIKE_FUNCTIONS:
            for node in found.operators[oid]:
                _check_like_pattern(node)
        if function_name in _REGEX_OPERATORS:
            for node in found.operators[oid]:
                _check_regex_operand(node, found.function_names)


# The functions an object records a dependency on: directly, or through an operator it uses (pinned built-in
# operators record nothing; an operator created later records its own OID, and its code runs).
_CALLED = (
    "SELECT d.refobjid FROM {deps} d WHERE d.refclassid {eq} 'pg_catalog.pg_proc'::pg_catalog.regclass"
    " UNION SELECT o.oprcode::pg_catalog.oid FROM {deps} d"
    " JOIN pg_catalog.pg_operator o ON o.oid {eq} d.refobjid"
    " WHERE d.refclassid {eq} 'pg_catalog.pg_operator'::pg_catalog.regclass"
)


def _check_attached_code(conn: psycopg.Connection, relations: list[int], shown: dict[int, str]) -> None:
    """Code stored with a table runs when it is read: the planner folds index expressions and partial-index
    predicates, partition keys, extended-statistics expressions and the CHECK constraints it uses to skip
    partitions. PostgreSQL records the functions and operators each of them calls (built-ins are pinned, so
    anything recorded is not a built-in); each function, and each operator's function, must be trusted.
    Triggers and defaults do not run on a read."""
    row = conn.execute(
        "WITH deps AS ("
        "  SELECT d.objid AS relation, d.refclassid, d.refobjid FROM pg_catalog.pg_depend d"
        f"  WHERE d.classid {_EQ} 'pg_catalog.pg_class'::pg_catalog.regclass"
        f"    AND d.objid {_EQ} ANY (%(relations)s::pg_catalog.oid[])"
        "  UNION"
        "  SELECT d1.refobjid, d2.refclassid, d2.refobjid"
        "    FROM pg_catalog.pg_depend d1 JOIN pg_catalog.pg_depend d2"
        f"      ON d2.classid {_EQ} d1.classid AND d2.objid {_EQ} d1.objid"
        f"   WHERE d1.refclassid {_EQ} 'pg_catalog.pg_class'::pg_catalog.regclass"
        f"     AND d1.refobjid {_EQ} ANY (%(relations)s::pg_catalog.oid[])"
        f"     AND d1.classid {_EQ} ANY (ARRAY['pg_catalog.pg_class'::pg_catalog.regclass,"
        "      'pg_catalog.pg_constraint'::pg_catalog.regclass,"
        "      'pg_catalog.pg_statistic_ext'::pg_catalog.regclass]))"
        " SELECT f.relation, f.oid::pg_catalog.regprocedure::pg_catalog.text FROM ("
        "  SELECT d.relation, d.refobjid FROM deps d"
        f"  WHERE d.refclassid {_EQ} 'pg_catalog.pg_proc'::pg_catalog.regclass"
        "  UNION SELECT d.relation, o.oprcode::pg_catalog.oid FROM deps d"
        f"  JOIN pg_catalog.pg_operator o ON o.oid {_EQ} d.refobjid"
        f"  WHERE d.refclassid {_EQ} 'pg_catalog.pg_operator'::pg_catalog.regclass"
        f") AS f(relation, oid) WHERE NOT {_trusted('f.oid')} LIMIT 1",
        {"relations": relations},
    ).fetchone()
    if row:
        raise UnsafeSQL(
            f"{shown[row[0]]} has an index, partition key, statistics or constraint that calls {row[1]}, "
            "which is not a built-in function or one a superuser installed with an extension: reading the "
            "table would run it"
        )


def _check_indexes(conn: psycopg.Connection, relations: list[int], shown: dict[int, str]) -> None:
    """An index (or partition key) whose operator class runs untrusted code runs it on every comparison."""
    row = conn.execute(
        "SELECT i.relation, i.name FROM ("
        "  SELECT x.indrelid, x.indexrelid::pg_catalog.regclass::pg_catalog.text,"
        "         x.indclass::pg_catalog.oid[]"
        f"   FROM pg_catalog.pg_index x WHERE x.indrelid {_EQ} ANY (%(relations)s::pg_catalog.oid[])"
        "  UNION ALL SELECT p.partrelid, 'the partition key', p.partclass::pg_catalog.oid[]"
        "   FROM pg_catalog.pg_partitioned_table p"
        f"  WHERE p.partrelid {_EQ} ANY (%(relations)s::pg_catalog.oid[])"
        " ) AS i(relation, name, classes)"
        " CROSS JOIN LATERAL pg_catalog.unnest(i.classes) AS c(opclass)"
        f" JOIN pg_catalog.pg_opclass oc ON oc.oid {_EQ} c.opclass"
        " WHERE ("
        f"   EXISTS (SELECT FROM pg_catalog.pg_amproc p WHERE p.amprocfamily {_EQ} oc.opcfamily"
        f"          AND NOT {_trusted('p.amproc::pg_catalog.oid')})"
        "   OR EXISTS (SELECT FROM pg_catalog.pg_amop o"
        f"              JOIN pg_catalog.pg_operator op ON op.oid {_EQ} o.amopopr"
        f"             WHERE o.amopfamily {_EQ} oc.opcfamily"
        f"               AND NOT {_trusted('op.oprcode::pg_catalog.oid')}))"
        " LIMIT 1",
        {"relations": relations},
    ).fetchone()
    if row:
        raise UnsafeSQL(
            f"{shown[row[0]]} has an index ({row[1]}) whose operator class runs functions that are not "
            "built-in; a scan would call them"
        )


_TYPE_FUNCTIONS = ("typinput", "typoutput", "typreceive", "typsend", "typsubscript", "typmodin", "typmodout",
                   "typanalyze")  # fmt: skip


def _check_types(conn: psycopg.Connection, found: _Found) -> None:
    """Every type a value has is output with its functions; every type the query makes a value of is input
    (a domain's CHECK, a range's canonical function). Follow arrays, domains, composite attributes and
    range subtypes down to the bottom: each untrusted type on the way must do nothing but store values."""
    if not found.types and not found.constructed:
        return
    refused = conn.execute(
        "SELECT pg_catalog.format_type(t.oid, NULL), t.typname FROM pg_catalog.pg_type t"
        f" WHERE t.oid {_EQ} ANY (%s::pg_catalog.oid[]) AND t.typname {_EQ} ANY (%s::pg_catalog.name[])",
        (sorted(found.constructed), sorted(bounds.REFUSED_INPUT_TYPES)),
    ).fetchone()
    if refused:
        raise UnsafeSQL(
            f"the query makes a value of type {refused[0]}: {bounds.REFUSED_INPUT_TYPES[refused[1]]}"
        )
    io = " AND ".join(_trusted(f"t.{column}::pg_catalog.oid") for column in _TYPE_FUNCTIONS)
    rows = conn.execute(
        "WITH RECURSIVE closure(oid, constructed) AS ("
        f"  SELECT u.t, u.t {_EQ} ANY (%(constructed)s::pg_catalog.oid[])"
        "    FROM pg_catalog.unnest(%(all)s::pg_catalog.oid[]) AS u(t)"
        "  UNION"
        f"  SELECT x.child, c.constructed FROM closure c JOIN pg_catalog.pg_type t ON t.oid {_EQ} c.oid"
        + _TYPE_CHILDREN
        + ")"
        " SELECT t.oid, pg_catalog.format_type(t.oid, NULL), t.typtype, pg_catalog.bool_or(c.constructed),"
        f"  {io},"
        # a domain's CHECK that calls only built-ins records no function or operator dependency
        "  EXISTS (SELECT FROM pg_catalog.pg_constraint k CROSS JOIN LATERAL ("
        + _CALLED.format(
            deps="(SELECT kd.refclassid, kd.refobjid FROM pg_catalog.pg_depend kd"
            f" WHERE kd.classid {_EQ} 'pg_catalog.pg_constraint'::pg_catalog.regclass"
            f" AND kd.objid {_EQ} k.oid)",
            eq=_EQ,
        )
        + f"         ) AS kf(oid) WHERE k.contypid {_EQ} t.oid AND NOT {_trusted('kf.oid')}),"
        "  EXISTS (SELECT FROM pg_catalog.pg_range r"
        f"           LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid {_EQ} r.rngsubopc"
        f"           LEFT JOIN pg_catalog.pg_amproc p ON p.amprocfamily {_EQ} oc.opcfamily"
        f"          WHERE (r.rngtypid {_EQ} t.oid OR r.rngmultitypid {_EQ} t.oid) AND ("
        f"            NOT {_trusted('r.rngcanonical::pg_catalog.oid')}"
        f"            OR NOT {_trusted('r.rngsubdiff::pg_catalog.oid')}"
        f"            OR (p.amproc IS NOT NULL AND NOT {_trusted('p.amproc::pg_catalog.oid')}))),"
        # array_eq, record_cmp, hashing, GREATEST... look up the type's default operator classes at run
        # time, and row_to_json (which builds every result row) calls a cast to json
        "  EXISTS (SELECT FROM pg_catalog.pg_opclass oc"
        f"           LEFT JOIN pg_catalog.pg_amproc p ON p.amprocfamily {_EQ} oc.opcfamily"
        f"           LEFT JOIN pg_catalog.pg_amop o ON o.amopfamily {_EQ} oc.opcfamily"
        f"           LEFT JOIN pg_catalog.pg_operator op ON op.oid {_EQ} o.amopopr"
        f"          WHERE oc.opcintype {_EQ} t.oid AND ("
        f"            (p.amproc IS NOT NULL AND NOT {_trusted('p.amproc::pg_catalog.oid')})"
        f"            OR (op.oprcode IS NOT NULL AND NOT {_trusted('op.oprcode::pg_catalog.oid')})))"
        f"  OR EXISTS (SELECT FROM pg_catalog.pg_cast k WHERE k.castsource {_EQ} t.oid"
        f"              AND k.casttarget {_EQ} ANY (ARRAY['pg_catalog.json'::pg_catalog.regtype,"
        "                'pg_catalog.jsonb'::pg_catalog.regtype]::pg_catalog.oid[])"
        f"             AND k.castfunc {_NE} 0::pg_catalog.oid"
        f"             AND NOT {_trusted('k.castfunc::pg_catalog.oid')})"
        f" FROM closure c JOIN pg_catalog.pg_type t ON t.oid {_EQ} c.oid"
        f" WHERE t.oid {_GE} {_BUILTIN}"
        " GROUP BY t.oid",
        {"all": sorted(found.types | found.constructed), "constructed": sorted(found.constructed)},
    ).fetchall()
    for _oid, shown, kind, constructed, io_trusted, constrained, untrusted_range, untrusted_support in rows:
        if not io_trusted:
            raise UnsafeSQL(f"type {shown} reads or writes its values with functions that are not built-in")
        if untrusted_support:
            raise UnsafeSQL(
                f"type {shown} has an operator class or a cast to json whose functions are not built-in: "
                "comparing, hashing or returning its values would run them"
            )
        if constructed and kind == "d" and constrained:
            raise UnsafeSQL(
                f"the query makes a value of domain {shown}, whose checks run code that is not built-in; "
                "compare with its base type instead"
            )
        if untrusted_range:
            # comparing, sorting or building its values calls the subtype's operator class
            raise UnsafeSQL(f"range type {shown} compares its values with functions that are not built-in")


# Text input that keeps something for the session (see policy): a date or time names a time zone, an object
# name that is not found leaves a negative catalog cache entry. Found down arrays, domains, ranges and
# composite types, whose input functions call their parts'.
_ZONE_TYPES = ("date", "time", "timetz", "timestamp", "timestamptz")
_NAME_TYPES = ("regclass", "regcollation", "regconfig", "regdictionary", "regnamespace", "regoper",
               "regoperator", "regproc", "regprocedure", "regrole", "regtype")  # fmt: skip


def _check_parsed_types(conn: psycopg.Connection, found: _Found) -> None:
    """Text that is not a literal may not be made into a date, a time or an object name (or a value that
    holds one)."""
    if not found.parsed:
        return
    row = conn.execute(
        "WITH RECURSIVE closure(top, oid) AS ("
        "  SELECT u.t, u.t FROM pg_catalog.unnest(%(parsed)s::pg_catalog.oid[]) AS u(t)"
        "  UNION"
        f"  SELECT c.top, x.child FROM closure c JOIN pg_catalog.pg_type t ON t.oid {_EQ} c.oid"
        + _TYPE_CHILDREN
        + ")"
        " SELECT pg_catalog.format_type(c.top, NULL), t.typname::pg_catalog.text"
        f"  FROM closure c JOIN pg_catalog.pg_type t ON t.oid {_EQ} c.oid"
        f" WHERE t.oid {_LT} {_BUILTIN} AND t.typname {_EQ} ANY (%(names)s::pg_catalog.name[])"
        " LIMIT 1",
        {"parsed": sorted(found.parsed), "names": [*_ZONE_TYPES, *_NAME_TYPES]},
    ).fetchone()
    if row:
        shown, part = row
        if part in _ZONE_TYPES:
            policy.refuse_zone_text_input(shown)
        policy.refuse_name_text_input(shown)
