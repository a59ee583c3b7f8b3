"""The server-side check's count of jsonb documents a query builds as trees in memory.

jsonb made from text or json (``jsonb_in``), every jsonb function that rebuilds a document (``jsonb_set``,
``jsonb_insert``, ``#-``, ``||``, ``jsonb_strip_nulls``) and ``to_jsonb``/``jsonb_build_*`` of a document
first build the whole of it as a tree of ``JsonbValue``s (``pushJsonbValue``), about 211 bytes per byte of
'[{},{},...]' text, kept until the row is done: one call on a 5 MB document went past 1 GB, 20 calls on a
200 KB one held 881 MB. The guard counts the calls it can see in its work rule; this check, which sees every
value's type, allows :data:`policy.MAX_JSONB_TREES` of them on a value that is not a literal in a query
(a literal is the query's own size). Reading a document is not building one: ``->``, ``->>``,
``jsonb_array_length``, ``jsonb_each`` and reading the column as it is walk the stored binary form.

This module imports nothing from the package but ``nodetree``, ``policy`` and ``errors``.
"""

from __future__ import annotations

from typing import Any

from migrator.errors import UnsafeSQL
from migrator.sqlaction import policy
from migrator.sqlaction.nodetree import Node, oids, walk

__all__ = ["check"]

_JSONB = "3802"
# Types a builder turns into one JsonbValue each (anything else may hold a document: json, jsonb, arrays,
# rows): bool, name, int8, int2, int4, text, oid, float4, float8, bpchar, varchar, date, time, timestamp,
# timestamptz, interval, numeric, uuid.
_SCALARS = frozenset(
    {"16", "19", "20", "21", "23", "25", "26", "700", "701", "1042", "1043", "1082", "1083", "1114", "1184",
     "1186", "1700", "2950"}
)  # fmt: skip
_TYPE_KEYS = ("vartype", "consttype", "funcresulttype", "opresulttype", "resulttype", "aggtype", "wintype",
              "row_typeid", "array_typeid", "minmaxtype", "coalescetype", "casetype")  # fmt: skip


def _is_literal(node: Any) -> bool:
    while isinstance(node, Node) and node.name == "RELABELTYPE":
        node = node.get("arg")
    return not isinstance(node, Node) or node.name == "CONST"


def _type_of(node: Any) -> str | None:
    for key in _TYPE_KEYS:
        if isinstance(node, Node) and key in node:
            return node.get(key)
    return None


def _builds_tree(
    node: Node, function_names: dict[int, str], operator_functions: dict[int, str]
) -> str | None:
    """The name of what builds a jsonb tree at ``node`` from a value that is not a literal, or None."""
    args = node.get("args") or []
    if node.name == "COERCEVIAIO" and node.get("resulttype") == _JSONB and not _is_literal(node.get("arg")):
        return "text or json made into jsonb"
    if node.name == "FUNCEXPR":
        names = {function_names.get(int(oid)) for oid in oids(node.get("funcid"))}
    elif node.name == "OPEXPR":
        names = {operator_functions.get(int(oid)) for oid in oids(node.get("opno"))}
    else:
        return None
    for name in names:
        if name in policy.JSONB_TREE_FUNCTIONS and not all(_is_literal(arg) for arg in args):
            return f"{name}()"
        if name in policy.JSONB_BUILDERS and any(
            not _is_literal(arg) and _type_of(arg) not in _SCALARS for arg in args
        ):
            return f"{name}() of a document"
    return None


def check(query: Node, function_names: dict[int, str], operator_functions: dict[int, str]) -> None:
    """Refuse a query that builds more than MAX_JSONB_TREES jsonb trees from values that are not literals."""
    built = [
        found
        for node in walk(query)
        if (found := _builds_tree(node, function_names, operator_functions)) is not None
    ]
    if len(built) > policy.MAX_JSONB_TREES:
        raise UnsafeSQL(
            f"this query builds {len(built)} jsonb document(s) in memory from stored or computed values "
            f"({', '.join(sorted(set(built)))}): each holds about 200 bytes per byte of its JSON until the "
            "row is done, so one stored document of 5 MB needs a gigabyte. Read fields with -> and ->> (on "
            "text too, made ::json, which parses as a stream)"
        )
