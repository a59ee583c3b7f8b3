"""The pg_node_tree reader of the server-side check, on node text as PostgreSQL 15 writes it (no database)."""

from __future__ import annotations

import pytest
from migrator.sqlaction.nodetree import const_int as _const_int
from migrator.sqlaction.nodetree import const_text as _const_text
from migrator.sqlaction.nodetree import parse_node_tree

# Trimmed from a real pg_rewrite.ev_action: a FuncExpr over a Var and a text constant.
TREE = (
    "({QUERY :commandType 1 :rtable ({RANGETBLENTRY :alias <> :eref {ALIAS :aliasname t :colnames"
    ' ("id" "s")} :rtekind 0 :relid 16386 :relkind r :selectedCols (b 8 9)}) :targetList ({TARGETENTRY'
    " :expr {FUNCEXPR :funcid 2077 :funcresulttype 25 :funcformat 0 :args ({CONST :consttype 25"
    " :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 22"
    " :constvalue 15 [ 60 0 0 0 115 101 97 114 99 104 95 112 97 116 104 ]}) :location 6} :resno 1"
    " :resname current_setting}) :sortClause <>})"
)


def test_reads_nodes_lists_and_bitmaps() -> None:
    (query,) = parse_node_tree(TREE)
    assert query.name == "QUERY"
    (rte,) = query["rtable"]
    assert rte.name == "RANGETBLENTRY" and rte["relid"] == "16386"
    assert rte["eref"]["colnames"] == ['"id"', '"s"']
    assert rte["selectedCols"] == ["b", "8", "9"]
    assert query["sortClause"] is None


def test_reads_a_text_constant() -> None:
    (query,) = parse_node_tree(TREE)
    call = query["targetList"][0]["expr"]
    assert call.name == "FUNCEXPR" and call["funcid"] == "2077"
    assert _const_text(call["args"][0]) == "search_path"


def test_pass_by_value_constants_print_a_whole_datum_with_signed_bytes() -> None:
    # int4 -1 prints as 8 signed bytes
    (const,) = parse_node_tree(
        "({CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true"
        " :constisnull false :location 7 :constvalue 4 [ -1 -1 -1 -1 0 0 0 0 ]})"
    )
    assert _const_int(const) == -1
    (big,) = parse_node_tree(
        "({CONST :consttype 20 :constlen 8 :constbyval true :constisnull false"
        " :constvalue 8 [ 0 -31 -11 5 0 0 0 0 ]})"
    )
    assert _const_int(big) == 100_000_000


def test_escaped_characters_in_names() -> None:
    (node,) = parse_node_tree(r'({ALIAS :aliasname a\ b\(c\) :colnames ("x\"y")})')
    assert node["aliasname"] == r"a\ b\(c\)"


def test_null_constants_and_non_text_are_not_text() -> None:
    (null,) = parse_node_tree("({CONST :consttype 25 :constlen -1 :constisnull true :constvalue <>})")
    assert _const_text(null) is None
    assert _const_int(null) is None


@pytest.mark.parametrize("broken", ["({QUERY :a", "({QUERY a 1})", "({CONST :constvalue 4 1 2})"])
def test_unreadable_trees_raise(broken: str) -> None:
    with pytest.raises((ValueError, IndexError)):
        parse_node_tree(broken)
