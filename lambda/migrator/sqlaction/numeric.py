"""How many digits each numeric value of a query can have, and what its arithmetic costs in one row.

numeric arithmetic is up to quadratic in the digits, and PostgreSQL checks for cancellation between rows,
not between the calls of one row's expressions. A query can build the format's largest numbers from a few
characters (``power(<990-digit literal>, 130)``: 128,000 digits; ``x * 1e999`` on each iteration of a
recursive CTE), and ``mod`` of two of them took 0.5 s: twelve of them in one row ran six seconds past the
action's deadline, holding the query's locks after the action had returned.

So, from PostgreSQL's own analysis of the query (the server-side check's tree, with function and operator
names resolved by OID), :func:`check` computes an upper bound on each numeric value's digits, and sums what
the super-linear calls of one row cost (digits times digits, a division eight times a multiplication, as
measured here), counting a subquery's column again wherever the planner copies it. A stored numeric column
counts its declared precision; without one, or a number read from stored text or json, it counts what the
format can hold, :data:`MAX_DIGITS` (a text field held 131,000 digits, and mod() of it by a 65,000-digit one
ran 28 s past the deadline, holding its lock). So one multiplication or division of two such values is over
the limit, and a cast to numeric(p, s) or float8 says how big they are; additions, sums and comparisons are
linear and stay allowed. A recursive CTE may not multiply in its recursive step: a number gains digits
on every iteration.

This module imports nothing from the package but ``nodetree`` and ``errors``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from migrator.errors import UnsafeSQL
from migrator.sqlaction.nodetree import Node, const_bytes, const_int, const_text, oids

__all__ = ["MAX_DIGITS", "MAX_ROW_COST", "check"]

_NUMERIC = "1700"
_INTEGERS = {"20": 19, "21": 5, "23": 10}  # int8, int2, int4: their largest number of digits
_FLOATS = {"700": 60, "701": 330}  # float4, float8 made numeric: up to 309 digits before the point + 17
# One row's numeric work: 2e10 "digit products" is about 0.2 s here (mod of a 110,000-digit number by a
# 55,000-digit one: 0.48 s for 8 x 6e9). Past it, one row could outlast the deadline uncancellably.
MAX_ROW_COST = 20_000_000_000
_DIVIDE = 8  # a division or remainder costs about eight multiplications of the same sizes (measured)

_RTE_SUBQUERY, _RTE_JOIN, _RTE_FUNCTION, _RTE_VALUES, _RTE_CTE = "1", "2", "3", "5", "6"
MAX_DIGITS = 147_455  # the numeric format's largest: 131,072 digits before the point and 16,383 after
_MULTIPLY = frozenset({"numeric_mul"})
_DIVISION = frozenset({"numeric_div", "numeric_div_trunc", "numeric_mod", "div", "mod"})
_POWER = frozenset({"numeric_power", "power"})
_SERIES = frozenset({"sqrt", "ln", "log", "log10", "exp", "numeric_sqrt", "numeric_ln", "numeric_log",
                     "numeric_exp"})  # fmt: skip
_SQUARING_AGGREGATES = frozenset({"stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp"})
_GROWS_IN_RECURSION = _MULTIPLY | _POWER | frozenset({"exp", "numeric_exp"})
_COSTLY = _MULTIPLY | _DIVISION | _POWER | _SERIES | _SQUARING_AGGREGATES


def check(query: Node, functions: dict[int, str], operators: dict[int, str]) -> None:
    """Raise UnsafeSQL when one row of ``query`` could cost more numeric work than :data:`MAX_ROW_COST`,
    or a recursive CTE multiplies. ``functions`` and ``operators`` name the functions (by OID) and the
    functions behind operators (by operator OID) the query calls."""
    _Numbers(functions, operators).total(query, [])


def _is_numeric(node: Node) -> bool:
    for key in ("consttype", "vartype", "funcresulttype", "opresulttype", "aggtype", "wintype", "resulttype",
                "casetype", "coalescetype", "minmaxtype", "paramtype"):  # fmt: skip
        if key in node:
            return node.get(key) == _NUMERIC
    return False


def _fixed_digits(node: Node) -> int | None:
    """The digits of an integer or float value, whatever it was computed from (None for other types)."""
    for key in ("funcresulttype", "opresulttype", "aggtype", "wintype", "resulttype"):
        if key in node:
            kind = node.get(key)
            return _INTEGERS.get(kind) or _FLOATS.get(kind)
    return None


def _const_digits(node: Node) -> int:
    kind = node.get("consttype")
    if node.get("constisnull") == "true":
        return 0
    if kind == _NUMERIC:
        raw = const_bytes(node) or b""
        header = int.from_bytes(raw[4:6], "little") if len(raw) >= 6 else 0
        weight = (
            header & 0x3F if header & 0xC000 == 0x8000 else int.from_bytes(raw[6:8], "little", signed=True)
        )
        # two bytes hold four digits; digits before the point that are zeros are not stored
        return max(2 * len(raw), 4 * (abs(weight) + 1))
    if kind in _INTEGERS:
        value = const_int(node)
        return len(str(abs(value))) if value is not None else _INTEGERS[kind]
    if kind in _FLOATS:
        return _FLOATS[kind]
    text = const_text(node)
    return len(text) if text is not None else 0


class _Numbers:
    def __init__(self, functions: dict[int, str], operators: dict[int, str]) -> None:
        self.functions = functions
        self.operators = operators
        self.column_digits: dict[tuple[int, int], int] = {}
        self.column_cost: dict[tuple[int, int], int] = {}
        self.memo: dict[int, int] = {}
        self.depth = 0

    # ------------------------------------------------------------------------------- a row's cost

    def total(self, query: Node, outer: Sequence[Node]) -> int:
        """The numeric work of one row of ``query`` and everything the planner folds into it."""
        scope = [query, *outer]
        cost = 0
        for cte in query.get("cteList") or ():
            if isinstance(cte, Node) and isinstance(cte.get("ctequery"), Node):
                if cte.get("cterecursive") == "true":
                    self._refuse_growth(cte)
                cost = max(cost, self.total(cte["ctequery"], scope))
        for rte in query.get("rtable") or ():
            if (
                isinstance(rte, Node)
                and rte.get("rtekind") == _RTE_SUBQUERY
                and isinstance(rte.get("subquery"), Node)
            ):
                cost = max(cost, self.total(rte["subquery"], scope))
        own = 0
        for key in ("targetList", "jointree", "havingQual", "limitCount", "limitOffset", "windowClause"):
            own += self._cost(query.get(key), scope)
        for rte in query.get("rtable") or ():
            if isinstance(rte, Node):
                own += self._cost([rte.get("functions"), rte.get("values_lists")], scope)
        if own > MAX_ROW_COST:
            raise UnsafeSQL(
                f"one row of this query could spend about {own / 1e8:,.0f} x 10^8 digit operations on "
                "numeric arithmetic, which PostgreSQL cannot cancel within a row (a division of two "
                "50,000-digit numbers takes a tenth of a second; a numeric column without a precision, or a "
                "number read from text or json, can hold 147,455 digits); cast to numeric(p, s) or float8, "
                "or use fewer calls"
            )
        return max(cost, own)

    def _cost(self, tree: Any, scope: list[Node]) -> int:
        cost = 0
        pending = [tree]
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, Node):
                if item.name == "QUERY":
                    continue
                if item.name == "SUBLINK":
                    pending.append(item.get("testexpr"))
                    if isinstance(item.get("subselect"), Node):
                        self.total(item["subselect"], scope)  # its own rows
                    continue
                if item.name == "VAR":
                    cost += self._var_cost(item, scope)
                    continue
                cost += self._call_cost(item, scope)
                pending.extend(item.values())
        return cost

    def _call_cost(self, node: Node, scope: list[Node]) -> int:
        name = self._name(node)
        if name not in _COSTLY or not _is_numeric(node):
            return 0
        args = [arg for arg in node.get("args") or [] if isinstance(arg, Node)]
        if node.name == "AGGREF":
            args = [t.get("expr") for t in args if t.name == "TARGETENTRY"] or args
        digits = [self.digits(arg, scope) for arg in args]
        result = self.digits(node, scope)  # refuses a power or exp it cannot bound
        if name in _MULTIPLY and len(digits) == 2:
            return digits[0] * digits[1]
        if name in _DIVISION and len(digits) == 2:
            return _DIVIDE * digits[0] * digits[1]
        if name in _POWER:
            return result * result // 2  # repeated squaring: the last square dominates
        if name in _SERIES and digits:
            return _DIVIDE * digits[0] * digits[0]
        if name in _SQUARING_AGGREGATES and digits:
            return digits[0] * digits[0]  # each row's value is squared
        return 0

    def _var_cost(self, var: Node, scope: list[Node]) -> int:
        """A subquery's column is computed again wherever the planner copies it: its cost again."""
        found = self._column_of(var, scope)
        if found is None:
            return 0
        query, attno, owner = found
        if query.get("limitCount") is not None or query.get("limitOffset") is not None:
            return 0  # never pulled up: computed once, for its own rows
        key = (id(query), attno)
        if key not in self.column_cost:
            self.column_cost[key] = 0  # a recursive CTE refers to itself: count the cycle once
            # UNION ALL branches are pulled up one by one: a reference becomes one per branch
            self.column_cost[key] = sum(
                self._cost(t.get("expr"), [leaf, *owner])
                for leaf in _leaves(query)
                for t in _targets(leaf, attno)
            )
        return self.column_cost[key]

    # ------------------------------------------------------------------------------------ digits

    def digits(self, node: Any, scope: list[Node]) -> int:
        """An upper bound on the digits of ``node``'s value (0 for a value that is not a number)."""
        if not isinstance(node, Node):
            return 0
        if id(node) in self.memo:  # a node is always read in the same scope
            return self.memo[id(node)]
        self.depth += 1
        try:
            if self.depth > 200:
                raise UnsafeSQL("the query's numbers nest too deeply to bound")
            self.memo[id(node)] = self._digits(node, scope)
            return self.memo[id(node)]
        finally:
            self.depth -= 1

    def _digits(self, node: Node, scope: list[Node]) -> int:
        """Digits of a number, or of the numbers a value holds (an array, a row, json or text can carry a
        number out of an expression and back into one): its parts' digits, summed."""
        name = node.name
        if name == "CONST":
            return _const_digits(node)
        if name == "VAR":
            return self._var_digits(node, scope)
        if name == "SUBLINK":
            subselect = node.get("subselect")
            targets = [t for t in (subselect.get("targetList") or []) if isinstance(t, Node)] if isinstance(
                subselect, Node) else []  # fmt: skip
            return self.digits(targets[0].get("expr"), [subselect, *scope]) if targets else 0
        if name in ("CASEEXPR", "COALESCEEXPR", "MINMAXEXPR", "CASEWHEN"):
            parts = [node.get("defresult"), node.get("result"), *(node.get("args") or [])]
            return max((self.digits(part, scope) for part in parts), default=0)
        if name in ("FUNCEXPR", "OPEXPR", "AGGREF", "WINDOWFUNC") and _is_numeric(node):
            return self._call_digits(node, scope)
        if name == "COERCEVIAIO" and _is_numeric(node):  # text made a number: a literal's length, or any
            return min(MAX_DIGITS, self._parts(node, scope))
        fixed = _fixed_digits(node)
        if fixed is not None:  # an integer or a float (length(big), count(*)): its own size
            return fixed
        return min(MAX_DIGITS, self._parts(node, scope))

    def _parts(self, node: Node, scope: list[Node]) -> int:
        """The digits of everything under ``node``, summed (``x::text || y::text`` holds both numbers)."""
        total = 0
        for value in node.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Node) and item.name != "QUERY":
                    total += self.digits(item, scope)
        return total

    def _call_digits(self, node: Node, scope: list[Node]) -> int:
        name = self._name(node)
        args = [arg for arg in node.get("args") or [] if isinstance(arg, Node)]
        if node.name == "AGGREF":
            args = [t.get("expr") for t in args if t.name == "TARGETENTRY"] or args
        digits = [self.digits(arg, scope) for arg in args]
        if name in _MULTIPLY:
            return min(MAX_DIGITS, sum(digits))
        if name in ("numeric_div", "numeric_div_trunc", "div"):
            return min(MAX_DIGITS, sum(digits) + 20)  # the result's scale is at least 16 digits
        if name in ("numeric_mod", "mod"):
            return max(digits, default=0)
        if name in _POWER:
            exponent = _exponent(args[1]) if len(args) == 2 else None
            if exponent is None:
                raise UnsafeSQL(
                    "a numeric power needs a literal exponent (its result can have 131,072 digits); cast to "
                    "float8 for other powers"
                )
            return min(MAX_DIGITS, digits[0] * max(abs(exponent), 1) + 20)
        if name in ("exp", "numeric_exp"):
            value = _exponent(args[0]) if args else None
            if value is None:
                raise UnsafeSQL(
                    "exp() of a numeric needs a literal argument (exp(300000) has 130,000 digits); cast to "
                    "float8 for other values"
                )
            return min(MAX_DIGITS, abs(value) // 2 + 40)
        if name in ("round", "trunc") and len(args) == 2:
            scale = const_int(args[1])
            return min(MAX_DIGITS, digits[0] + (abs(scale) if scale is not None else 2000))
        if name == "numeric" and len(args) == 2:  # numeric(p, s): a cast with a precision
            typmod = const_int(args[1])
            if typmod is not None and typmod >= 4:
                return min(max(digits[0], 1), ((typmod - 4) >> 16) & 0xFFFF)
        if name in _SQUARING_AGGREGATES:
            return min(MAX_DIGITS, 2 * max(digits, default=0) + 20)
        # addition, sums, averages, min and max, window values, casts from integers, floats, json and text:
        # at most one more digit than their largest argument, and a scale of a few digits
        return min(MAX_DIGITS, max(digits, default=0) + 20)

    def _var_digits(self, var: Node, scope: list[Node]) -> int:
        levels = int(var.get("varlevelsup") or "0")
        rte = self._range_entry(var, scope)
        found = self._column_of(var, scope)
        if found is not None:  # a subquery's or CTE's column: what its expression holds
            query, attno, owner = found
            key = (id(query), attno)
            if key not in self.column_digits:
                self.column_digits[key] = 1  # a recursive CTE refers to itself (its growth is refused apart)
                self.column_digits[key] = max(
                    min(
                        MAX_DIGITS,
                        sum(self.digits(t.get("expr"), [leaf, *owner]) for t in _targets(leaf, attno)),
                    )
                    for leaf in _leaves(query)
                )
            return self.column_digits[key]
        inner = scope[levels:]
        attno = int(var.get("varattno") or "0")
        kind = rte.get("rtekind") if rte is not None else None
        if kind == _RTE_JOIN:
            aliases = rte.get("joinaliasvars") or []
            alias = aliases[attno - 1] if 1 <= attno <= len(aliases) else None
            return self.digits(alias, inner) if isinstance(alias, Node) else MAX_DIGITS
        if kind == _RTE_FUNCTION:  # unnest(ARRAY[x]), a function in FROM: what its arguments hold
            return min(MAX_DIGITS, sum(self.digits(f, inner) for f in rte.get("functions") or []))
        if kind == _RTE_VALUES:
            rows = [row for row in rte.get("values_lists") or [] if isinstance(row, list)]
            cells = [row[attno - 1] for row in rows if 1 <= attno <= len(row)] if attno else [
                cell for row in rows for cell in row]  # fmt: skip
            return min(MAX_DIGITS, max((self.digits(cell, inner) for cell in cells), default=0))
        vartype = var.get("vartype") or ""
        if vartype == _NUMERIC:  # a table's column: its declared precision, or what the format holds
            typmod = int(var.get("vartypmod") or "-1")
            return ((typmod - 4) >> 16) & 0xFFFF if typmod >= 4 else MAX_DIGITS
        # an integer or a float: its size; text, json, arrays and rows: any number the format can hold
        return _INTEGERS.get(vartype) or _FLOATS.get(vartype) or MAX_DIGITS

    def _range_entry(self, var: Node, scope: list[Node]) -> Node | None:
        levels = int(var.get("varlevelsup") or "0")
        if not 0 <= levels < len(scope):
            return None
        rtable = scope[levels].get("rtable") or []
        index = int(var.get("varno") or "0")
        return (
            rtable[index - 1] if 1 <= index <= len(rtable) and isinstance(rtable[index - 1], Node) else None
        )

    # ---------------------------------------------------------------------------------- helpers

    def _column_of(self, var: Node, scope: list[Node]) -> tuple[Node, int, list[Node]] | None:
        """The query (and the scope outside it) whose target list defines ``var``, or None for a table's."""
        levels = int(var.get("varlevelsup") or "0")
        if not 0 <= levels < len(scope):
            return None
        scope = scope[levels:]
        rtable = scope[0].get("rtable") or []
        index, attno = int(var.get("varno") or "0"), int(var.get("varattno") or "0")
        if not 1 <= index <= len(rtable) or not isinstance(rtable[index - 1], Node):
            return None
        rte = rtable[index - 1]
        kind = rte.get("rtekind")
        if kind == _RTE_SUBQUERY and isinstance(rte.get("subquery"), Node):
            subquery = rte["subquery"]
            return (subquery, attno, scope)
        if kind == _RTE_JOIN:
            aliases = rte.get("joinaliasvars") or []
            alias = aliases[attno - 1] if 1 <= attno <= len(aliases) else None
            return self._column_of(alias, scope) if isinstance(alias, Node) and alias.name == "VAR" else None
        if kind == _RTE_CTE:
            owner = int(rte.get("ctelevelsup") or "0")
            for cte in (scope[owner].get("cteList") or []) if owner < len(scope) else []:
                if isinstance(cte, Node) and cte.get("ctename") == rte.get("ctename"):
                    return (cte["ctequery"], attno, scope[owner:])
        return None

    def _name(self, node: Node) -> str:
        if node.name in ("OPEXPR", "DISTINCTEXPR", "NULLIFEXPR"):
            return next((self.operators.get(oid, "") for oid in oids(node.get("opno"))), "")
        key = {"FUNCEXPR": "funcid", "AGGREF": "aggfnoid", "WINDOWFUNC": "winfnoid"}.get(node.name)
        return next((self.functions.get(oid, "") for oid in oids(node.get(key))), "") if key else ""

    def _refuse_growth(self, cte: Node) -> None:
        """A recursive CTE's step may not multiply, raise to a power or exponentiate numbers."""
        query = cte.get("ctequery")
        operation = query.get("setOperations") if isinstance(query, Node) else None
        branches = [rte.get("subquery") for rte in (query.get("rtable") or []) if isinstance(rte, Node)]
        steps = [b for b in branches if isinstance(b, Node)][1:] if isinstance(operation, Node) else []
        pending: list[Any] = list(steps)
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, Node):
                grows = item.name in ("FUNCEXPR", "OPEXPR") and self._name(item) in _GROWS_IN_RECURSION
                if grows and _is_numeric(item):
                    raise UnsafeSQL(
                        f"the recursive query {cte.get('ctename')} multiplies numbers in its recursive step: "
                        "they gain digits on every iteration; compute the product outside the recursion"
                    )
                pending.extend(item.values())


def _literal_length(tree: Any) -> int:
    """How many characters the text constants under ``tree`` hold together."""
    total = 0
    pending = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, Node):
            if item.name == "CONST":
                raw = const_bytes(item)
                total += len(raw) if raw is not None and item.get("constlen") == "-1" else 0
            else:
                pending.extend(item.values())
    return total


def _targets(query: Node, attno: int) -> list[Node]:
    """The target entry for column ``attno`` (every output column for a whole-row reference, 0)."""
    targets = [t for t in query.get("targetList") or () if isinstance(t, Node) and t.get("resjunk") != "true"]
    return [t for t in targets if t.get("resno") == str(attno)] if attno else targets


def _leaves(query: Node) -> list[Node]:
    """The queries whose target lists define a query's columns: itself, or each branch of a set operation
    (a recursive CTE's too: its step is refused apart if it multiplies)."""
    if query.get("setOperations") is None:
        return [query]
    branches = [rte["subquery"] for rte in query.get("rtable") or []
                if isinstance(rte, Node) and isinstance(rte.get("subquery"), Node)]  # fmt: skip
    return [leaf for branch in branches for leaf in _leaves(branch)] or [query]


def _exponent(node: Any) -> int | None:
    """The size (rounded up) of a literal number, possibly cast to numeric (the exponent of power(x, 2))."""
    while isinstance(node, Node) and node.name in ("FUNCEXPR", "RELABELTYPE"):
        inner = node.get("args") or [node.get("arg")]
        if len(inner) != 1:
            break
        node = inner[0]
    if not isinstance(node, Node) or node.name != "CONST":
        return None
    value = const_int(node)
    if value is not None:
        return value
    if node.get("consttype") == _NUMERIC:
        raw = const_bytes(node) or b""
        return None if len(raw) > 16 else _small_numeric(raw)
    return None


def _small_numeric(raw: bytes) -> int | None:
    """The absolute value, rounded up, of a short-format numeric literal (power(x, 2.5) has numeric 2.5)."""
    if len(raw) < 6:
        return None
    header = int.from_bytes(raw[4:6], "little")
    if header & 0xC000 != 0x8000:  # only the short format, which every small literal uses
        return None
    weight = header & 0x3F
    weight = weight - 64 if header & 0x40 else weight
    digits = [int.from_bytes(raw[i : i + 2], "little") for i in range(6, len(raw), 2)]
    value = Fraction(0)
    for position, digit in enumerate(digits):
        value += digit * Fraction(10000) ** (weight - position)
    return math.ceil(value)
