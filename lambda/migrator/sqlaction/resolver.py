"""The server-side layer of the ``sql`` action: check what the query really calls, by OID, before it runs.

The guard reads names in the text; PostgreSQL decides what those names mean. ``(pid).pg_terminate_backend``
is a call the text shows as a column, ``lower(email)`` may resolve to an overload in ``public``, ``1::d`` runs
the checks of a domain, ``ORDER BY x USING <<<`` calls whatever function backs that operator. So the query is
analysed by PostgreSQL itself: ``check`` creates a temporary view of it inside a savepoint that is always
rolled back (parse analysis only: nothing is planned or executed), reads the view's stored query tree from
``pg_rewrite`` and walks it:

* every function call (including attribute notation, casts, aggregates and window functions) must be a
  built-in (OID < 16384) in ``pg_catalog`` whose name is allowed (``policy``), or a built-in cast;
* every operator (in expressions, ``op ANY/ALL``, row comparisons, ``ORDER BY ... USING``, DISTINCT and
  GROUP BY) must be a built-in, and its function not one that cannot be cancelled;
* every type must do its input and output with built-in functions, and a value may only be coerced to a
  built-in domain (a domain's CHECK runs code);
* every relation must be readable without running code: built-in catalogs (minus the denied ones and denied
  columns), tables, sequences and materialized views; a user view is checked the same way, recursively, and so
  are the row-level security policies of the tables read; foreign tables are refused;
* ``current_setting`` only with a literal built-in setting name, LIKE only with a short literal pattern,
  ``generate_series`` only with literal integer bounds, no ARRAY(subquery).

Parse analysis itself runs one kind of code: the input function of a literal's type (``'x'::t``). Only a
superuser can create a base type, so that code is PostgreSQL's or an installed extension's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from migrator.errors import QueryFailed, UnsafeSQL
from migrator.sqlaction import policy

__all__ = ["check", "parse_node_tree"]

_VIEW = "migrator_sql_check"
_SAVEPOINT = "migrator_sql_check"
_MAX_VIEW_DEPTH = 16

# enum SubLinkType: ARRAY_SUBLINK folds the rows of a subquery into one array value.
_ARRAY_SUBLINK = 6
# enum CoercionForm: a FuncExpr printed as a cast.
_CAST_FORMATS = {1, 2}
# Bitmapset offset of column numbers (FirstLowInvalidHeapAttributeNumber is -7 in PostgreSQL 12 to 17).
_ATTNO_OFFSET = 7
# char(n), varchar(n), bit(n), varbit(n): the typmod is the length (+ 4 for the character types).
_LENGTH_TYPES = frozenset({"1042", "1043", "1560", "1562"})
_NUMERIC = "1700"
# regproc, regprocedure, regoper, regoperator, regclass, regtype: a constant that names an object (PostgreSQL
# records a dependency on it) without calling or reading it.
_OBJECT_NAME_TYPES = frozenset({"24", "2202", "2203", "2204", "2205", "2206"})


# ------------------------------------------------------------------------------ pg_node_tree reader


class _Node(dict):
    """One ``{NAME :field value ...}`` of PostgreSQL's node text format."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


# As PostgreSQL's pg_strtok reads it: a token runs to whitespace or a bracket, a backslash protects the next
# character, and a double quote is an ordinary character (outToken escapes only a leading one, so an
# identifier such as a" prints as "a"" and must not pair up with the next quote).
_TOKEN = re.compile(r"\s*((?:[^\s(){}\\]|\\.)+|[(){}])", re.DOTALL)


def _tokens(text: str) -> Iterator[str]:
    pos = 0
    while True:
        match = _TOKEN.match(text, pos)
        if not match:
            if text[pos:].strip():
                raise ValueError(f"unreadable node tree at {pos}")
            return
        pos = match.end()
        yield match.group(1)


def parse_node_tree(text: str) -> Any:
    """Read a ``pg_node_tree`` (``nodeToString``'s format) into _Node dicts, lists and strings."""
    tokens = list(_tokens(text))
    pos = 0

    def value() -> Any:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            node = _Node(tokens[pos])
            pos += 1
            while tokens[pos] != "}":
                key = tokens[pos]
                if not key.startswith(":"):
                    raise ValueError(f"expected a field name, found {key!r}")
                pos += 1
                if key == ":constvalue" and tokens[pos] != "<>":
                    # "<length> [ b0 b1 ... ]": a pass-by-value datum prints all 8 bytes of a Datum, and
                    # bytes print as signed chars.
                    if tokens[pos + 1] != "[":
                        raise ValueError("a constant's bytes must follow its length")
                    end = tokens.index("]", pos + 2)
                    node[key[1:]] = [int(b) & 0xFF for b in tokens[pos + 2 : end]]
                    pos = end + 1
                else:
                    node[key[1:]] = value()
            pos += 1
            return node
        if tok == "(":
            items: list[Any] = []
            while tokens[pos] != ")":
                items.append(value())
            pos += 1
            return items
        if tok == "<>":
            return None
        return tok

    return value()


def _walk(tree: Any) -> Iterator[_Node]:
    pending = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, _Node):
            yield item
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _oids(value: Any) -> list[int]:
    """OIDs from a field: one number, or a list such as ``(o 23 25)``."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return [int(value)] if int(value) > 0 else []
    if isinstance(value, list):
        return [int(v) for v in value if isinstance(v, str) and v.isdigit() and int(v) > 0]
    return []


def _bitmap(value: Any) -> list[int]:
    if isinstance(value, list) and value and value[0] == "b":
        return [int(v) for v in value[1:]]
    return []


def _const_bytes(node: Any) -> bytes | None:
    if not isinstance(node, _Node) or node.name != "CONST" or node.get("constisnull") == "true":
        return None
    raw = node.get("constvalue")
    return bytes(raw) if isinstance(raw, list) else None


def _const_text(node: Any) -> str | None:
    """The value of a text-like constant (a varlena with a 4-byte or a 1-byte header), or None."""
    raw = _const_bytes(node)
    if raw is None or node.get("constlen") != "-1" or not raw:
        return None
    if raw[0] & 0x01:  # 1-byte header
        return raw[1 : raw[0] >> 1].decode("utf-8", "replace")
    length = int.from_bytes(raw[:4], "little") >> 2
    return raw[4:length].decode("utf-8", "replace")


def _const_int(node: Any) -> int | None:
    raw = _const_bytes(node)
    kind = node.get("consttype") if raw is not None else None
    if kind in ("20", "21", "23"):
        return int.from_bytes(raw[: int(node.get("constlen", "8"))], "little", signed=True)
    if kind in _OBJECT_NAME_TYPES:  # an OID: four unsigned bytes
        return int.from_bytes(raw[:4], "little", signed=False)
    return None


# -------------------------------------------------------------------------------------- the check


@dataclass
class _Found:
    functions: dict[int, list[_Node]] = field(default_factory=dict)  # FuncExpr, Aggref, WindowFunc
    operators: dict[int, list[_Node]] = field(default_factory=dict)
    types: set[int] = field(default_factory=set)  # every type a value of the query has
    constructed: set[int] = field(default_factory=set)  # types the query makes values of (input, casts)
    relations: dict[int, set[int]] = field(default_factory=dict)  # relid -> selected column numbers
    named: set[int] = field(default_factory=set)  # objects only named by a constant ('users'::regclass)
    row_security: bool = False  # a relation read has row-level security (EXPLAIN would print its policy)
    user_views: bool = False  # a user view is read (EXPLAIN would print its WHERE clause)

    def add_function(self, oid: int, node: _Node) -> None:
        self.functions.setdefault(oid, []).append(node)

    def add_operator(self, oid: int, node: _Node) -> None:
        self.operators.setdefault(oid, []).append(node)


_TYPE_FIELDS = (
    "vartype", "consttype", "resulttype", "funcresulttype", "opresulttype", "aggtype", "wintype",
    "row_typeid", "array_typeid", "element_typeid", "minmaxtype", "coalescetype", "casetype", "typeId",
    "paramtype", "aggargtypes", "coltypes", "funccoltypes", "refcontainertype", "refelemtype", "refrestype",
    "aggtranstype",
)  # fmt: skip


def _collect(tree: Any, found: _Found) -> None:
    for node in _walk(tree):
        name = node.name
        for key in _TYPE_FIELDS:
            if key in node:
                found.types.update(_oids(node[key]))
        if name == "COERCEVIAIO" and node.get("resulttype") == _NUMERIC:
            _check_numeric_source(node.get("arg"))
        if name == "CONST":
            _check_numeric_size(node)
            if node.get("consttype") in _OBJECT_NAME_TYPES:
                found.named.add(_const_int(node) or 0)
        if name in ("CONST", "RELABELTYPE", "COERCEVIAIO", "ARRAYCOERCEEXPR", "COERCETODOMAIN"):
            _check_typmod(node)
            found.constructed.update(_oids(node.get("consttype") or node.get("resulttype")))
        if name == "FUNCEXPR" and node.get("funcformat") in ("1", "2"):
            found.constructed.update(_oids(node.get("funcresulttype")))
        if name in ("FUNCEXPR", "AGGREF", "WINDOWFUNC"):
            key = {"FUNCEXPR": "funcid", "AGGREF": "aggfnoid", "WINDOWFUNC": "winfnoid"}[name]
            for oid in _oids(node.get(key)):
                found.add_function(oid, node)
        elif name in ("OPEXPR", "DISTINCTEXPR", "NULLIFEXPR", "SCALARARRAYOPEXPR"):
            for oid in _oids(node.get("opno")):
                found.add_operator(oid, node)
        elif name == "ROWCOMPAREEXPR":
            for oid in _oids(node.get("opnos")):
                found.add_operator(oid, node)
        elif name == "SORTGROUPCLAUSE":
            for key in ("eqop", "sortop"):
                for oid in _oids(node.get(key)):
                    found.add_operator(oid, node)
        elif name == "WINDOWCLAUSE":
            for key in ("startInRangeFunc", "endInRangeFunc"):
                for oid in _oids(node.get(key)):
                    found.add_function(oid, node)
        elif name == "SUBLINK" and node.get("subLinkType") == str(_ARRAY_SUBLINK):
            raise UnsafeSQL(
                "ARRAY(subquery) folds any number of rows into one value of unbounded size; "
                "select the rows instead"
            )
        elif name in ("RANGETBLENTRY", "RTEPERMISSIONINFO"):
            relid = _oids(node.get("relid"))
            if relid and (name == "RTEPERMISSIONINFO" or node.get("rtekind") == "0"):
                columns = found.relations.setdefault(relid[0], set())
                columns.update(bit - _ATTNO_OFFSET for bit in _bitmap(node.get("selectedCols")))
        elif name == "TABLEFUNC":
            raise UnsafeSQL("XMLTABLE and JSON_TABLE are not allowed")


_FORMAT_TYPE_RULE = (
    "format_type() takes NULL as its modifier, e.g. format_type(atttypid, NULL): a modifier runs the "
    "type's typmod_out function"
)


def _is_null(node: Any) -> bool:
    return isinstance(node, _Node) and node.name == "CONST" and node.get("constisnull") == "true"


def _has_column(node: Any) -> bool:
    return any(item.name == "VAR" for item in _walk(node))


def _check_numeric_source(arg: Any) -> None:
    """Text (or json) made into numeric: '1e60000' is 8 characters and 60,001 digits. A value read from a
    column is the data's own size; one computed from literals is refused unless it is the literal itself."""
    is_literal = isinstance(arg, _Node) and arg.name == "CONST"
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


def _check_numeric_size(node: _Node) -> None:
    raw = _const_bytes(node)
    if node.get("consttype") != _NUMERIC or not raw or raw[0] & 0x01:
        return
    # numeric stores four decimal digits in two bytes; the weight says how many digits precede the point
    too_long = len(raw) > policy.MAX_NUMERIC_DIGITS // 2 + 16
    if too_long or abs(_numeric_weight(raw)) * 4 > policy.MAX_NUMERIC_DIGITS:
        raise UnsafeSQL(
            f"a numeric literal has more than {policy.MAX_NUMERIC_DIGITS} digits: arithmetic on such "
            "numbers cannot be cancelled"
        )


def _check_typmod(node: _Node) -> None:
    kind = node.get("consttype") or node.get("resulttype")
    typmod = node.get("consttypmod") or node.get("resulttypmod") or "-1"
    if kind in _LENGTH_TYPES and int(typmod) > policy.MAX_TYPMOD + 4:
        raise UnsafeSQL(f"a length of {int(typmod) - 4} is over the limit of {policy.MAX_TYPMOD}")


def check(conn: psycopg.Connection, query: str) -> bool:
    """Raise UnsafeSQL unless everything ``query`` (one SELECT, VALUES or TABLE) resolves to is allowed.

    ``conn`` must be inside a read-write transaction with the search_path the query will run with; the
    check leaves the transaction as it found it (its savepoint is always rolled back). Returns whether the
    query reads a relation whose plan would print what its definition hides (a row-level security policy,
    a user view's WHERE clause): EXPLAIN of it is refused."""
    _refuse_untrusted_event_triggers(conn)
    _check_named_relations(conn, query)
    conn.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        try:
            # A newline on each side: a trailing line comment in the query cannot swallow the parenthesis.
            conn.execute(f"CREATE TEMPORARY VIEW {_VIEW} AS SELECT 1 FROM (\n{query}\n) AS _q")
        except psycopg.Error as exc:
            # PostgreSQL's own refusal (no such column, a lock it waited for too long): nothing ran.
            raise QueryFailed(f"PostgreSQL refused the query: {_reason(exc)}") from None
        tree = conn.execute(
            "SELECT ev_action FROM pg_catalog.pg_rewrite WHERE ev_class = %s::regclass",
            (f"pg_temp.{_VIEW}",),
        ).fetchone()[0]
        found = _Found()
        try:
            _collect(parse_node_tree(tree), found)
        except (ValueError, IndexError):
            # Fail closed: a tree this reader does not understand (a future PostgreSQL) is not allowed.
            raise UnsafeSQL("the server's analysis of the query could not be read; refusing it") from None
        view = conn.execute("SELECT %s::regclass::oid", (f"pg_temp.{_VIEW}",)).fetchone()[0]
        _check_recorded_dependencies(conn, view, found)
        _check_relations(conn, found, seen={view})
        _check_functions(conn, found)
        _check_operators(conn, found)
        _check_types(conn, found)
        return found.row_security or found.user_views
    finally:
        conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")


def _refuse_untrusted_event_triggers(conn: psycopg.Connection) -> None:
    """The check creates a temporary view: an event trigger on DDL would run its function right there."""
    row = conn.execute(
        "SELECT evtname FROM pg_catalog.pg_event_trigger"
        f" WHERE evtenabled <> 'D' AND NOT {_trusted('evtfoid::oid')} LIMIT 1"
    ).fetchone()
    if row:
        raise UnsafeSQL(
            f"event trigger {row[0]} would run on the check's temporary view, and its function is not a "
            "built-in or extension function; the sql action is unavailable while it is enabled"
        )


def _check_named_relations(conn: psycopg.Connection, query: str) -> None:
    """Before PostgreSQL analyses the query: a literal compared with a column takes the column's type while
    the query is analysed ('(7)' = a composite of a domain runs the domain's CHECK). So the column types of
    every relation the text names are checked first, as if the query made values of them."""
    try:
        from pglast import ast, parse_sql

        from migrator.sqlaction.guard import iter_nodes

        names = {
            (node.schemaname, node.relname)
            for statement in parse_sql(query)
            for node in iter_nodes(statement.stmt)
            if isinstance(node, ast.RangeVar)
        }
    except Exception:
        return
    if not names:
        return
    qualified = [f"{schema}.{name}" if schema else name for schema, name in names]
    types = {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT a.atttypid FROM unnest(%s::text[]) AS n(name)"
            " JOIN pg_catalog.pg_attribute a ON a.attrelid = pg_catalog.to_regclass(n.name)"
            " WHERE a.attnum > 0 AND NOT a.attisdropped",
            (qualified,),
        )
    }
    if types:
        _check_types(conn, _Found(types=set(types), constructed=set(types)))


def _reason(exc: psycopg.Error) -> str:
    message = exc.diag.message_primary or str(exc).strip().splitlines()[0]
    return f"{message} (SQLSTATE {exc.diag.sqlstate})" if exc.diag.sqlstate else message


def _check_relations(conn: psycopg.Connection, found: _Found, seen: set[int]) -> None:
    """Check every relation read, then what the user views and row-level security policies among them
    read and call, level by level (``seen`` starts with the check's own view)."""
    pending = {oid: cols for oid, cols in found.relations.items() if oid not in seen}
    depth = 0
    while pending:
        depth += 1
        if depth > _MAX_VIEW_DEPTH:
            raise UnsafeSQL(f"views nest more than {_MAX_VIEW_DEPTH} levels deep")
        rows = conn.execute(
            "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity"
            "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.oid = ANY(%s::oid[])",
            (list(pending),),
        ).fetchall()
        nested = _Found()
        for oid, schema, name, kind, row_security in rows:
            seen.add(oid)
            shown = f"{schema}.{name}"
            if oid < policy.BUILTIN_OID_LIMIT:
                _check_builtin_relation(conn, oid, name, shown, pending[oid])
                continue
            if kind == "f":
                raise UnsafeSQL(f"{shown} is a foreign table: reading it runs a query on another server")
            if row_security:
                found.row_security = True
            _check_indexes(conn, oid, shown)
            _check_attached_code(conn, oid, shown)
            # Inheritance children and partitions are scanned too, with their own indexes and constraints.
            for (child,) in conn.execute(
                "SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = %s", (oid,)
            ):
                if child not in seen:
                    nested.relations.setdefault(child, set())
            trees = []
            if kind == "v":
                found.user_views = True
                trees += conn.execute(
                    "SELECT ev_action FROM pg_catalog.pg_rewrite"
                    " WHERE ev_class = %s AND rulename = '_RETURN'",
                    (oid,),
                ).fetchall()
            if row_security:
                trees += conn.execute(
                    "SELECT polqual FROM pg_catalog.pg_policy WHERE polrelid = %s AND polcmd IN ('r', '*')"
                    " AND polqual IS NOT NULL",
                    (oid,),
                ).fetchall()
            for (tree,) in trees:
                _collect(parse_node_tree(tree), nested)
        for oid, nodes in nested.functions.items():
            found.functions.setdefault(oid, []).extend(nodes)
        for oid, nodes in nested.operators.items():
            found.operators.setdefault(oid, []).extend(nodes)
        found.types |= nested.types
        found.constructed |= nested.constructed
        pending = {oid: cols for oid, cols in nested.relations.items() if oid not in seen}


def _check_builtin_relation(
    conn: psycopg.Connection, oid: int, name: str, shown: str, selected: set[int]
) -> None:
    if name in policy.DENIED_RELATIONS:
        raise UnsafeSQL(f"reading {shown} is not allowed: it holds {policy.DENIED_RELATIONS[name]}")
    denied = policy.DENIED_COLUMNS.get(name)
    if not denied:
        return
    columns = {
        column
        for (column,) in conn.execute(
            "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s AND attnum = ANY(%s::int2[])",
            (oid, sorted(selected)),
        )
    }
    if 0 in selected:
        raise UnsafeSQL(
            f"{shown} has columns that are not shown ({', '.join(sorted(denied))}): name the columns "
            "you need instead of * or a whole-row reference"
        )
    hit = sorted(columns & denied)
    if hit:
        raise UnsafeSQL(f"column {shown}.{hit[0]} is not shown: it may hold source code, settings or secrets")


def _check_functions(conn: psycopg.Connection, found: _Found) -> None:
    if not found.functions:
        return
    rows = conn.execute(
        "SELECT p.oid, n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid),"
        "       EXISTS (SELECT 1 FROM pg_catalog.pg_cast c WHERE c.castfunc = p.oid AND c.oid < %s)"
        "  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
        " WHERE p.oid = ANY(%s::oid[])",
        (policy.BUILTIN_OID_LIMIT, list(found.functions)),
    ).fetchall()
    for oid, schema, name, arguments, is_cast in rows:
        nodes = found.functions[oid]
        shown = f"{schema}.{name}({arguments})"
        if oid >= policy.BUILTIN_OID_LIMIT or schema != "pg_catalog":
            raise UnsafeSQL(
                f"the query calls {shown}, which is not a built-in PostgreSQL function: the sql action only "
                "calls allow-listed functions from pg_catalog"
            )
        cast_only = all(n.name == "FUNCEXPR" and n.get("funcformat") in ("1", "2") for n in nodes)
        if name in policy.ALLOWED_FUNCTIONS or (cast_only and is_cast):
            for node in nodes:
                _check_arguments(name, node, arguments)
            continue
        reason = policy.REFUSED_FUNCTIONS.get(name, "it is not on the allow-list of read-only functions")
        raise UnsafeSQL(f"the query calls {shown}: {reason}")


def _check_arguments(name: str, node: _Node, arguments: str) -> None:
    args = node.get("args") or []
    if name == "power" and node.get("funcresulttype") == _NUMERIC:
        _check_exponent(args)
    if name == "numeric" and arguments in ("jsonb", "json") and args:
        _check_numeric_source(args[0])
    if name == "to_regtype":
        policy.check_type_name_argument(_const_text(args[0]) if args else None)
    if name == "format_type" and not (len(args) == 2 and _is_null(args[1])):
        raise UnsafeSQL(_FORMAT_TYPE_RULE)
    if name == "current_setting":
        policy.check_setting_name(_const_text(args[0]) if args else None)
    elif name == "generate_series":
        policy.check_series_bounds([_const_int(arg) for arg in args])
    elif node.name == "FUNCEXPR" and node.get("funcresulttype") in _LENGTH_TYPES:
        typmod = _const_int(args[1]) if len(args) > 1 else None
        if typmod is not None and typmod > policy.MAX_TYPMOD + 4:
            raise UnsafeSQL(f"a length of {typmod - 4} is over the limit of {policy.MAX_TYPMOD}")


def _check_operators(conn: psycopg.Connection, found: _Found) -> None:
    if not found.operators:
        return
    rows = conn.execute(
        "SELECT o.oid, n.nspname, o.oprname, pg_catalog.format_type(o.oprleft, NULL),"
        "       pg_catalog.format_type(o.oprright, NULL), o.oprcode::oid, p.proname"
        "  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace"
        "  JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode"
        " WHERE o.oid = ANY(%s::oid[])",
        (list(found.operators),),
    ).fetchall()
    for oid, schema, name, left, right, function, function_name in rows:
        shown = f"operator {schema}.{name} ({left}, {right})"
        if oid >= policy.BUILTIN_OID_LIMIT or function >= policy.BUILTIN_OID_LIMIT or schema != "pg_catalog":
            raise UnsafeSQL(f"the query uses {shown}, which is not a built-in PostgreSQL operator")
        if function_name in policy.DENIED_OPERATOR_FUNCTIONS:
            raise UnsafeSQL(
                f"the query uses {policy.DENIED_OPERATOR_FUNCTIONS[function_name]}, whose nested loops "
                "cannot be cancelled by the statement timeout; compare with = ANY (...) or unnest() instead"
            )
        if function_name == "numeric_power":
            for node in found.operators[oid]:
                _check_exponent(node.get("args") or [])
        if function_name in policy.LIKE_FUNCTIONS:
            for node in found.operators[oid]:
                _check_like_pattern(node)


def _check_exponent(args: list[Any]) -> None:
    """numeric ^ y: y must be a small literal integer (huge numeric arithmetic cannot be cancelled)."""
    exponent = args[1] if len(args) == 2 else None
    if isinstance(exponent, _Node) and exponent.name == "FUNCEXPR" and len(exponent.get("args") or []) == 1:
        exponent = exponent["args"][0]  # the cast of an integer literal to numeric
    value = _const_int(exponent)
    if value is None or abs(value) > policy.MAX_NUMERIC_DIGITS:
        raise UnsafeSQL(
            f"the exponent of a numeric ^ or power() must be a literal integer of at most "
            f"{policy.MAX_NUMERIC_DIGITS}"
        )


def _check_like_pattern(node: _Node) -> None:
    args = node.get("args") or []
    pattern = args[1] if len(args) == 2 else None
    patterns = (
        pattern.get("elements") if isinstance(pattern, _Node) and pattern.name == "ARRAYEXPR" else [pattern]
    )
    for item in patterns or [None]:
        policy.check_like_pattern(_const_text(item))


# A function is trusted when PostgreSQL built it in (initdb) or an extension installed it (a superuser's act
# of trust). Reading a citext column, or using a pg_trgm index, needs the extension's functions.
_TRUSTED_FUNCTION = (
    "({f} < {limit} OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_proc'::regclass"
    " AND d.objid = {f} AND d.deptype = 'e'))"
)


def _trusted(column: str) -> str:
    return _TRUSTED_FUNCTION.format(f=column, limit=policy.BUILTIN_OID_LIMIT)


def _check_attached_code(conn: psycopg.Connection, relation: int, shown: str) -> None:
    """Code stored with a table runs when it is read: the planner folds index expressions and partial-index
    predicates, partition keys, extended-statistics expressions and the CHECK constraints it uses to skip
    partitions. PostgreSQL records the functions each of them calls (built-ins are pinned, so any recorded
    function is not a built-in); each must be an extension's. Triggers and defaults do not run on a read."""
    row = conn.execute(
        "SELECT f.oid::regprocedure::text FROM ("
        "  SELECT d.refobjid FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass"
        "     AND d.objid = %(relation)s AND d.refclassid = 'pg_proc'::regclass"
        "  UNION"
        "  SELECT d2.refobjid FROM pg_catalog.pg_depend d1 JOIN pg_catalog.pg_depend d2"
        "      ON d2.classid = d1.classid AND d2.objid = d1.objid AND d2.refclassid = 'pg_proc'::regclass"
        "   WHERE d1.refclassid = 'pg_class'::regclass AND d1.refobjid = %(relation)s AND d1.classid IN"
        "     ('pg_class'::regclass, 'pg_constraint'::regclass, 'pg_statistic_ext'::regclass)"
        f") AS f(oid) WHERE NOT {_trusted('f.oid')} LIMIT 1",
        {"relation": relation},
    ).fetchone()
    if row:
        raise UnsafeSQL(
            f"{shown} has an index, partition key, statistics or constraint that calls {row[0]}, which is "
            "not a built-in or extension function: reading the table would run it"
        )


def _check_indexes(conn: psycopg.Connection, relation: int, shown: str) -> None:
    """An index (or partition key) whose operator class runs untrusted code runs it on every comparison."""
    row = conn.execute(
        "SELECT i.relname FROM ("
        "  SELECT x.indexrelid::regclass::text, x.indclass::oid[] FROM pg_catalog.pg_index x"
        "   WHERE x.indrelid = %(relation)s"
        "  UNION ALL SELECT 'the partition key', p.partclass::oid[] FROM pg_catalog.pg_partitioned_table p"
        "   WHERE p.partrelid = %(relation)s"
        " ) AS i(relname, classes)"
        " CROSS JOIN LATERAL unnest(i.classes) AS c(opclass)"
        " JOIN pg_catalog.pg_opclass oc ON oc.oid = c.opclass"
        " WHERE ("
        "   EXISTS (SELECT 1 FROM pg_catalog.pg_amproc p WHERE p.amprocfamily = oc.opcfamily"
        f"          AND NOT {_trusted('p.amproc')})"
        "   OR EXISTS (SELECT 1 FROM pg_catalog.pg_amop o"
        "              JOIN pg_catalog.pg_operator op ON op.oid = o.amopopr"
        f"             WHERE o.amopfamily = oc.opcfamily AND NOT {_trusted('op.oprcode::oid')}))"
        " LIMIT 1",
        {"relation": relation},
    ).fetchone()
    if row:
        raise UnsafeSQL(
            f"{shown} has an index ({row[0]}) whose operator class runs functions that are not built-in; "
            "a scan would call them"
        )


def _check_recorded_dependencies(conn: psycopg.Connection, view: int, found: _Found) -> None:
    """PostgreSQL records every dependency of the view on an object that is not pinned (that is, on anything
    but initdb's own objects). Each one must also be in what the tree walk found: a disagreement means
    this module misread the tree, and the query is refused rather than trusted."""
    rows = conn.execute(
        "SELECT d.refclassid::regclass::text, d.refobjid, d.refobjsubid FROM pg_catalog.pg_depend d"
        " JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass"
        " WHERE r.ev_class = %s AND d.refobjid <> %s",
        (view, view),
    ).fetchall()
    missed = []
    for catalog, oid, column in rows:
        if oid in found.named:
            continue
        if catalog == "pg_proc" and oid not in found.functions:
            missed.append(f"function {oid}")
        elif catalog == "pg_operator" and oid not in found.operators:
            missed.append(f"operator {oid}")
        elif catalog == "pg_class" and oid not in found.relations:
            missed.append(f"relation {oid}")
        elif catalog == "pg_type":
            found.types.add(oid)
        elif catalog == "pg_class" and column > 0:
            found.relations[oid].add(column)
    if missed:
        raise UnsafeSQL(
            "the server-side check's reading of the query misses what PostgreSQL recorded "
            f"({', '.join(missed)}); refusing it"
        )


def _check_types(conn: psycopg.Connection, found: _Found) -> None:
    """Every type a value has is output with its functions; every type the query makes a value of is input
    (a domain's CHECK, a range's canonical function). Follow arrays, domains, composite attributes and
    range subtypes down to the bottom: each untrusted type on the way must do nothing but store values."""
    if not found.types and not found.constructed:
        return
    rows = conn.execute(
        "WITH RECURSIVE closure(oid, constructed) AS ("
        "  SELECT t, t = ANY(%(constructed)s::oid[]) FROM unnest(%(all)s::oid[]) AS u(t)"
        "  UNION"
        "  SELECT x.child, c.constructed FROM closure c JOIN pg_catalog.pg_type t ON t.oid = c.oid"
        "  CROSS JOIN LATERAL ("
        "    SELECT t.typelem WHERE t.typelem <> 0"
        "    UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'"
        "    UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a"
        "     WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped"
        "    UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid"
        "    UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid"
        "  ) AS x(child))"
        " SELECT t.oid, pg_catalog.format_type(t.oid, NULL), t.typtype, bool_or(c.constructed),"
        f"  {_trusted('t.typinput::oid')} AND {_trusted('t.typoutput::oid')}"
        f"  AND {_trusted('t.typreceive::oid')} AND {_trusted('t.typsend::oid')}"
        f"  AND {_trusted('t.typsubscript::oid')} AND {_trusted('t.typmodin::oid')}"
        f"  AND {_trusted('t.typmodout::oid')} AND {_trusted('t.typanalyze::oid')},"
        # a domain's CHECK that calls only built-ins records no function dependency
        "  EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_depend d"
        "          ON d.classid = 'pg_constraint'::regclass AND d.objid = k.oid"
        "         AND d.refclassid = 'pg_proc'::regclass"
        f"         WHERE k.contypid = t.oid AND NOT {_trusted('d.refobjid')}),"
        "  EXISTS (SELECT 1 FROM pg_catalog.pg_range r"
        "           LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc"
        "           LEFT JOIN pg_catalog.pg_amproc p ON p.amprocfamily = oc.opcfamily"
        "          WHERE (r.rngtypid = t.oid OR r.rngmultitypid = t.oid) AND ("
        f"            NOT {_trusted('r.rngcanonical::oid')} OR NOT {_trusted('r.rngsubdiff::oid')}"
        f"            OR (p.amproc IS NOT NULL AND NOT {_trusted('p.amproc::oid')}))),"
        # array_eq, record_cmp, hashing, GREATEST... look up the type's default operator classes at run
        # time, and row_to_json (which builds every result row) calls a cast to json
        "  EXISTS (SELECT 1 FROM pg_catalog.pg_opclass oc"
        "           LEFT JOIN pg_catalog.pg_amproc p ON p.amprocfamily = oc.opcfamily"
        "           LEFT JOIN pg_catalog.pg_amop o ON o.amopfamily = oc.opcfamily"
        "           LEFT JOIN pg_catalog.pg_operator op ON op.oid = o.amopopr"
        "          WHERE oc.opcintype = t.oid AND ("
        f"            (p.amproc IS NOT NULL AND NOT {_trusted('p.amproc::oid')})"
        f"            OR (op.oprcode IS NOT NULL AND NOT {_trusted('op.oprcode::oid')})))"
        "  OR EXISTS (SELECT 1 FROM pg_catalog.pg_cast k WHERE k.castsource = t.oid"
        "              AND k.casttarget IN ('json'::regtype, 'jsonb'::regtype)"
        f"             AND k.castfunc <> 0 AND NOT {_trusted('k.castfunc::oid')})"
        " FROM closure c JOIN pg_catalog.pg_type t ON t.oid = c.oid"
        f" WHERE t.oid >= {policy.BUILTIN_OID_LIMIT}"
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
