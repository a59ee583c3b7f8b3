"""The classification behind the sql action's allow-list, the node-text reader, and the guard's round-2 rules,
without a database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from migrator.cli import event_from_env
from migrator.errors import InvalidEvent, UnsafeSQL
from migrator.events import ReportRequest, parse_event
from migrator.sqlaction import bounds, messages, policy, reports, workmem
from migrator.sqlaction.guard import check_sql
from migrator.sqlaction.nodetree import LINE_BYTES, Node, parse_node_tree, undo_line_breaks

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------- classification


def test_every_allowed_function_has_a_cost_class_and_a_reason() -> None:
    for name in policy.ALLOWED_FUNCTIONS:
        entry = bounds.FUNCTIONS[name]
        assert isinstance(entry.cost, bounds.Cost) and isinstance(entry.growth, bounds.Growth), name
        assert len(entry.why) > 15, name
    for name, entry in bounds.OPERATORS.items():
        assert isinstance(entry.cost, bounds.Cost) and len(entry.why) > 15, name


def test_refused_functions_are_not_allowed_and_say_why() -> None:
    for name in ("normalize", "is_normalized", "jsonb_path_query_array", "replace", "string_agg"):
        assert name not in policy.ALLOWED_FUNCTIONS
        assert policy.REFUSED_FUNCTIONS[name]


def test_decisions_holds_the_classification_as_the_code_has_it() -> None:
    decisions = (REPO / "docs" / "decisions.md").read_text()
    assert bounds.markdown() in decisions, (
        "regenerate the table: python -c 'from migrator.sqlaction import bounds; print(bounds.markdown())'"
    )


@pytest.mark.parametrize(
    ("function", "operands", "allowed"),
    [
        ("int4eq", [("int4", 4), ("int4", 4)], True),  # fixed-size operands: constant
        ("point_distance", [("point", 16), ("point", 16)], True),
        ("texteq", [("text", -1), ("text", -1)], True),
        ("poly_distance", [("polygon", -1), ("polygon", -1)], False),
        ("path_inter", [("path", -1), ("path", -1)], False),
        ("dist_cpoly", [("circle", 24), ("polygon", -1)], False),
        ("arraycontains", [("anyarray", -1), ("anyarray", -1)], False),
        ("jsonb_path_exists_opr", [("jsonb", -1), ("jsonpath", -1)], False),
        ("ts_match_vq", [("tsvector", -1), ("tsquery", -1)], False),  # not classified
        ("multirange_union", [("anymultirange", -1), ("anymultirange", -1)], False),
    ],
)
def test_operator_verdicts(function: str, operands: list[tuple[str, int]], allowed: bool) -> None:
    entry, why = bounds.operator_verdict(function, operands)
    assert (entry is not None) is allowed, why
    if not allowed:
        assert why


def test_xml_is_never_built() -> None:
    assert bounds.cast_refusal("xml", "xml")
    assert bounds.cast_refusal("int4", "integer") is None


# ------------------------------------------------------------------------------------ node-text reader


def _format_node_dump(dump: str) -> str:
    """PostgreSQL's format_node_dump (src/backend/nodes/print.c), byte for byte (ASCII input)."""
    out, i = [], 0
    while True:
        line = dump[i : i + LINE_BYTES]
        i += len(line)
        if i >= len(dump):
            out.append(line)
            break
        if dump[i] == " ":
            i += 1  # ok to break at adjacent space
        else:
            k = line.rfind(" ", 1)
            if k > 0:
                i -= len(line) - k - 1  # back up; will reprint all after space
                line = line[:k]
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(
    "dump",
    [
        "{QUERY :commandType 1 :rtable <> :targetList ({TARGETENTRY :expr {CONST :consttype 23 :constvalue 4 "
        "[ 1 0 0 0 0 0 0 0 ]} :resno 1 :resname one})}",
        "{ALIAS :aliasname a\\ b\\ c\\ d\\ e\\ f\\ g\\ h\\ i\\ j\\ k\\ l\\ m\\ n\\ o\\ p\\ q"
        "\\ r\\ s\\ t\\ u\\ v :colnames <>}" * 3,
    ],
)
def test_line_breaks_are_undone_exactly(dump: str) -> None:
    assert undo_line_breaks(_format_node_dump(dump)) == dump


def test_a_token_longer_than_a_line_is_refused_not_guessed() -> None:
    # a long escaped identifier has no space to break at: the dump cuts it mid-token
    dump = ":resname " + "\\(" * 60 + "a :resno 1"
    with pytest.raises(ValueError, match="longer than a line"):
        undo_line_breaks(_format_node_dump(dump))


def test_the_reader_is_iterative() -> None:
    depth = 50_000
    tree = parse_node_tree("{A :x " * depth + "1" + "}" * depth)
    assert tree.name == "A"


# ------------------------------------------------------------------------------------ the guard, round 2


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        # concat_ws repeats a literal separator once per value: each repetition counts
        ("SELECT concat_ws('" + "s" * 100 + "', " + ", ".join(["1"] * 99) + ")", "copies of its inputs"),
        ("SELECT concat_ws(',', VARIADIC ARRAY['a', 'b'])", "VARIADIC"),
        ("SELECT btrim(email, '" + "x" * 17 + "') FROM users", "literal set"),
        ("SELECT ltrim(email, email) FROM users", "literal set"),
        ("SELECT TRIM(BOTH email FROM email) FROM users", "literal set"),
        ("SELECT normalize(email) FROM users", "normalize"),
        ("SELECT email IS NFD NORMALIZED FROM users", "is_normalized"),
        ("SELECT jsonb_path_query('{}', '$.**')", "jsonb_path_query"),
        ("SELECT 1 WHERE 1 NOT IN (SELECT id FROM users)", "NOT IN (subquery)"),
        ("SELECT id FROM users WHERE id = 1 OR id IN (SELECT id FROM users)", "IN (subquery)"),
        ("SELECT (SELECT 1 WHERE 1 IN (SELECT id FROM users))", "IN (subquery)"),
        ("SELECT id FROM users WHERE random() IN (SELECT id FROM users)", "IN (subquery)"),
        ("WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT n + 1 FROM r) SELECT * FROM r", "uses UNION"),
        ("SELECT attmissingval FROM pg_attribute", "attmissingval"),
        ("SHOW primary_conninfo", "password"),
        ("SELECT current_setting('archive_command')", "password"),
        ("SELECT stavalues1 FROM pg_statistic", "pg_statistic"),
        ("SELECT a FROM (SELECT (b = b AND b = b AND b = b AND b = b AND b = b AND b = b)::int AS a FROM ("
         "SELECT (c = c AND c = c AND c = c AND c = c AND c = c AND c = c)::int AS b FROM ("
         "SELECT (d = d AND d = d AND d = d AND d = d AND d = d AND d = d)::int AS c FROM ("
         "SELECT (e = e AND e = e AND e = e AND e = e AND e = e AND e = e)::int AS d FROM ("
         "SELECT (f = f AND f = f AND f = f AND f = f AND f = f AND f = f)::int AS e FROM ("
         "SELECT (g = g AND g = g AND g = g AND g = g AND g = g AND g = g)::int AS f FROM ("
         "SELECT 1 AS g) s0) s1) s2) s3) s4) s5) s6", "expression nodes"),
        ("SELECT 1 FROM " + "(SELECT 1 FROM " * 17 + "users" + ") s" * 17, "levels of subqueries"),
    ],
)  # fmt: skip
def test_round_two_refusals(sql: str, fragment: str) -> None:
    with pytest.raises(UnsafeSQL) as refused:
        check_sql(sql)
    assert fragment in str(refused.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT btrim(email), trim(both ' \t' from email), rtrim(email, '.') FROM users",
        "SELECT concat_ws(', ', id, email) FROM users",
        "SELECT id FROM users WHERE id IN (SELECT id FROM users WHERE id > 1) AND email <> ''",
        "SELECT id FROM users u WHERE NOT EXISTS (SELECT 1 FROM users v WHERE v.id = u.id)",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
        "SELECT id FROM users EXCEPT SELECT 1",
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')",
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = 'users'::regclass",
    ],
)
def test_round_two_allows(sql: str) -> None:
    assert check_sql(sql)


# ------------------------------------------------------------------------------------- capped messages


def test_messages_are_capped() -> None:
    text = messages.describe("invalid input syntax for type integer: " + "9" * 5_000_000, "22P02",
                             "x" * 100_000, "hint")  # fmt: skip
    assert len(text) <= messages.MAX_MESSAGE + 60
    assert (
        text.startswith("PostgreSQL refused the query: invalid input syntax") and "(SQLSTATE 22P02)" in text
    )
    assert "more characters not shown" in text


# ------------------------------------------------------------------------------------------- reports


def test_a_report_event_takes_a_name() -> None:
    assert parse_event({"action": "report", "name": "locks"}) == ReportRequest(name="locks")
    bad_events = (
        {"action": "report"},
        {"action": "report", "name": "Locks; DROP"},
        {"action": "report", "name": 3},
        {"action": "report", "name": "locks", "sql": "SELECT 1"},
    )
    for bad in bad_events:
        with pytest.raises(InvalidEvent):
            parse_event(bad)


def test_the_cli_passes_name_through() -> None:
    assert event_from_env({"KIT_ACTION": "report", "KIT_NAME": "sizes"}) == {
        "action": "report",
        "name": "sizes",
    }


def test_unknown_reports_are_refused_by_name() -> None:
    with pytest.raises(InvalidEvent, match="the reports are: locks, activity"):
        reports.report_sql("everything", ("public",))


def test_make_help_lists_every_report_and_make_passes_name() -> None:
    makefile = (REPO / "Makefile").read_text()
    help_line = next(line for line in makefile.splitlines() if line.startswith("reports:"))
    assert help_line.split("## ")[1].split(": ", 1)[1].split() == list(reports.REPORTS)
    assert re.search(r"RELEASE_VARS = [^\n]*(\\\n[^\n]*)*\bNAME\b", makefile)


def test_reports_name_the_minimum_set_and_read_no_query_text() -> None:
    assert {
        "locks",
        "activity",
        "indexes",
        "constraints",
        "columns",
        "sequences",
        "replication",
        "sizes",
    } <= set(reports.REPORTS)
    for name, report in reports.REPORTS.items():
        assert ".query" not in report.sql and " query," not in report.sql, name


def test_the_handler_caps_any_error_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from migrator import handler

    # the parser quotes the unterminated string, 9,000 characters (under the 10,000-character limit)
    statement = "SELECT 'x" + "x" * 9_000
    result = handler.handle(
        {"action": "sql", "sql": statement}, environ={"DATABASE_URL": "postgresql://a@b/c"}
    )
    assert result["error"]["type"] == "UnsafeSQL"
    assert (
        len(result["error"]["message"]) < 4096 + 60
        and "more characters not shown" in result["error"]["message"]
    )


# --- red team, round 5


@pytest.mark.parametrize(
    ("pattern", "size"),
    [
        ("abc", 3),
        (r"\d{4}-\d{2}-\d{2}", 10),
        (r"((\w|\d|\s|[[:punct:]]){1,100}){1,100}", 40_000),  # nested repetitions multiply
        (r"(((a|b){1,20}){1,20}){1,20}", 16_000),
        ("[]a]{3}", 3),  # a bracket expression is one part, ] first is a member
        ("***=a{1000}", 11),  # the rest is a literal string
    ],
)
def test_a_patterns_size_counts_the_copies_its_repetitions_make(pattern: str, size: int) -> None:
    assert policy.regex_size(pattern) == size


def test_work_mem_is_the_budget_divided_among_the_plans_operations() -> None:
    assert workmem.work_mem_kb(1) == workmem.MAX_WORK_MEM_KB
    assert workmem.work_mem_kb(100) * 100 <= workmem.BUDGET_KB
    assert workmem.work_mem_kb(10_000) == workmem.MIN_WORK_MEM_KB
    assert workmem.MAX_AREAS * workmem.MIN_WORK_MEM_KB == workmem.BUDGET_KB


def _node(name: str, **fields: object) -> Node:
    node = Node(name)
    node.update(fields)
    return node


def test_each_sorting_aggregate_is_an_operation_of_its_own() -> None:
    # GIVEN the analysis of SELECT count(DISTINCT a + n), ... (300 of them) FROM generate_series(...) a
    aggregates = [_node("AGGREF", aggdistinct=[_node("SORTGROUPCLAUSE")]) for _ in range(300)]
    query = _node(
        "QUERY",
        targetList=[_node("TARGETENTRY", expr=aggregate) for aggregate in aggregates],
        rtable=[_node("RANGETBLENTRY", rtekind="3", functions=[_node("RANGETBLFUNCTION")])],
    )
    # THEN each holds its own sort: more than the budget allows
    assert workmem.work_areas(query) > workmem.MAX_AREAS


def test_grouping_sets_sort_one_phase_at_a_time() -> None:
    # GIVEN GROUP BY CUBE (12 columns): 4,096 grouping sets, sorted in phases of at most 13
    cube = _node("GROUPINGSET", kind="3", content=[_node("GROUPINGSET", kind="1") for _ in range(12)])
    query = _node(
        "QUERY",
        groupingSets=[cube],
        groupClause=[_node("SORTGROUPCLAUSE") for _ in range(12)],
        targetList=[_node("TARGETENTRY", expr=_node("AGGREF", aggdistinct=[_node("SORTGROUPCLAUSE")]))],
        rtable=[_node("RANGETBLENTRY", rtekind="0")],
    )
    assert workmem.work_areas(query) < 32
