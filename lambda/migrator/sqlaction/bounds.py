"""Why each thing the ``sql`` action allows is bounded on PostgreSQL 15: the cost class of every function,
operator, cast and query construct, with the reason it holds. What is not classified here is refused.

A *cost class* says how much work one call does, in the size of its input:

* ``constant``: fixed-size input and output, or a catalog lookup;
* ``linear``: one pass (or a bounded number of passes) over the input;
* ``bounded``: more than linear, but the type's own maximum size caps it, and we measured that maximum;
* ``cancellable``: may take longer than linear, but checks for cancellation as it goes, so the action's
  deadline stops it.

Why it matters: PostgreSQL checks for a cancelled statement between rows, and inside only some functions.
A call that is quadratic and never checks (``btrim`` with a 10,000-character set, ``normalize`` on 20,000
combining marks, the distance between two large polygons) runs on past any timeout, holding its locks; and
PostgreSQL has no per-query memory limit. The same table is rendered into ``docs/decisions.md``
(:func:`markdown`), and a unit test keeps the two equal.

Growth (how big a *result* can be, for the guard's size rule) is in the same entries.

This module imports nothing from the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "CONSTRUCTS",
    "FUNCTIONS",
    "MAX_PLAN_NODES",
    "MAX_QUERY_DEPTH",
    "OPERATORS",
    "REFUSED_INPUT_TYPES",
    "TRIM_SET_MAX",
    "Cost",
    "Entry",
    "Growth",
    "cast_refusal",
    "markdown",
    "operator_verdict",
]


class Cost(Enum):
    CONSTANT = "constant"
    LINEAR = "linear"
    BOUNDED = "bounded"
    CANCELLABLE = "cancellable"


class Growth(Enum):
    """How big a function's result can be, in "copies" of its largest input (see guard's size rule)."""

    CONSTANT = "constant"  # bounded whatever the input: count(), length(), md5(), now()...
    MAX = "max"  # no bigger than its biggest argument: lower(), substr(), min(), lag()...
    SUM = "sum"  # about the sum of its arguments: concat(), array_cat(), jsonb_set()...
    DOUBLE = "double"  # up to twice the sum: quote_literal() (doubled quotes)
    QUADRUPLE = "quadruple"  # encode() (hex doubles, escape quadruples)
    SIXFOLD = "sixfold"  # JSON escaping: a control character becomes \u0001
    EIGHTFOLD = "eightfold"  # regexp_split_to_array(s, ''): one array element (header + padding) per byte


@dataclass(frozen=True)
class Entry:
    growth: Growth
    cost: Cost
    why: str


# The reasons, one per family. PostgreSQL 15 source files are named where the argument rests on them.
_FIXED = "fixed-size arguments and result"
_LOOKUP = "one catalog or cache lookup"
_ONE_PASS = "one pass over its input"  # noqa: S105 - a reason, not a password
_AGG = "updates a fixed-size state once per row (sum and avg of numeric: a numeric, at most 147,455 digits)"
_AGG_ONE = "keeps one input value; one comparison per row"
_ORDERED_SET = (
    "sorts its input with tuplesort, which spills to disk past work_mem and checks for cancellation"
)
_WINDOW = "constant per row; WindowAgg keeps the partition in a tuplestore, which spills past work_mem"
_WINDOW_VALUE = "returns one row of the partition (tuplestore, spills past work_mem)"
_CASE = "one pass; case mapping is per character (libc or ICU)"
_TRIM = (
    "length x set: the set must be a literal of at most 16 characters (argument rule), so linear; a 10,000-"
    "character set on 100,000 characters ran 1.3 s without checking for cancellation"
)
_CONCAT_WS = (
    "one pass; the separator is repeated once per value, and the size rule counts each repetition; "
    "VARIADIC is refused (one separator per array element)"
)
_REGEX = (
    "PostgreSQL's regex engine checks for cancellation while it compiles and matches (regcomp.c, "
    "regexec.c): a backtracking pattern on 5,000 characters stopped at the 1 s timeout; patterns are "
    "literals of at most 1,000 parts once repetitions are counted (a compiled pattern is kept: nested "
    "{m,n} held 12 MB each)"
)
_NUMERIC = (
    "numeric arithmetic is up to quadratic in digits, capped by the format (131,072 digits before the point, "
    "16,383 after): at the maximum, x * y took 0.4 s and mod 0.85 s here; values a query can build stay "
    "under 64,000 digits (1,000-digit literals, the size rule)"
)
_NUMERIC_LINEAR = "linear in the digits of a numeric (at most 147,455), fixed-size otherwise"
_SERIES = "literal integer bounds of at most 100,000 rows (argument rule); rows go to a tuplestore"
_SRF = "one pass; the rows go to a tuplestore, which spills past work_mem"
_JSON_BUILD = "one pass; escaping at most sixfolds the text"
_JSONB_BUILD = "one pass, then sorts the keys: n log n"
_CATALOG_SIZE = "stats the relation's files: linear in its 1 GB segments"
_DB_SIZE = "stats every file of the database (dbsize.c checks for cancellation in the loop)"
_LOCKS = "one pass over the lock table (max_locks_per_transaction x max_connections)"
_NAME = (
    "parses a name of at most 63 characters, then one catalog lookup; a literal name (argument rule): a name "
    "that is not found stays in the session's catalog cache as a negative entry"
)

_C, _M, _S = Growth.CONSTANT, Growth.MAX, Growth.SUM
_K, _L, _B, _X = Cost.CONSTANT, Cost.LINEAR, Cost.BOUNDED, Cost.CANCELLABLE


def _entries(growth: Growth, cost: Cost, why: str, names: str) -> dict[str, Entry]:
    return {name: Entry(growth, cost, why) for name in names.split()}


# Pure or stable functions without side effects. Several SQL-syntax forms appear in the analysed tree as
# pg_catalog calls: EXTRACT -> extract, SUBSTRING(x FROM y) -> substring, TRIM -> btrim/ltrim/rtrim,
# OVERLAY -> overlay, AT TIME ZONE -> timezone, SIMILAR TO -> similar_to_escape, OVERLAPS -> overlaps,
# COLLATION FOR -> pg_collation_for. COALESCE, NULLIF, GREATEST, LEAST, CASE, CURRENT_DATE and
# CURRENT_USER are their own nodes (see CONSTRUCTS).
FUNCTIONS: dict[str, Entry] = {
    # aggregates that fold rows into a bounded value (row-to-array/string/json builders are refused)
    **_entries(_C, _L, _AGG, "count sum avg bool_and bool_or every stddev stddev_pop stddev_samp variance "
               "var_pop var_samp corr"),
    **_entries(_M, _L, _AGG_ONE, "min max bit_and bit_or"),
    **_entries(_C, _L, _ORDERED_SET, "percentile_cont"),
    **_entries(_M, _L, _ORDERED_SET, "percentile_disc mode"),
    # window functions
    **_entries(_C, _K, _WINDOW, "row_number rank dense_rank percent_rank cume_dist ntile"),
    **_entries(_M, _K, _WINDOW_VALUE, "lag lead first_value last_value nth_value"),
    # strings (the quadratic and padding ones are in policy.REFUSED_FUNCTIONS)
    **_entries(_M, _L, _CASE, "lower upper initcap"),
    **_entries(_C, _L, "counts characters in one pass (octet_length: reads the header)",
               "length char_length character_length octet_length"),
    **_entries(_M, _L, _ONE_PASS, "substr left right reverse decode"),
    "substring": Entry(_M, _X, "one pass; substring(x FROM pattern) and substring(x SIMILAR pattern "
                       "ESCAPE e) match a regular expression: " + _REGEX),
    **_entries(_M, _L, _TRIM, "btrim ltrim rtrim"),
    **_entries(_S, _L, _ONE_PASS, "concat overlay"),
    "concat_ws": Entry(_S, _L, _CONCAT_WS),
    **_entries(_C, _L, _ONE_PASS, "starts_with md5"),
    **_entries(Growth.DOUBLE, _L, "one pass; quotes and backslashes are doubled",
               "quote_ident quote_literal quote_nullable similar_to_escape"),
    "encode": Entry(Growth.QUADRUPLE, _L, "one pass; hex doubles, escape at most quadruples"),
    **_entries(_C, _K, _FIXED, "to_hex ascii chr pg_collation_for"),
    **_entries(_M, _X, _REGEX, "regexp_match regexp_matches"),
    "regexp_like": Entry(_C, _X, _REGEX),
    "regexp_split_to_array": Entry(Growth.EIGHTFOLD, _X, _REGEX),
    # date and time
    **_entries(_C, _K, _FIXED, "now clock_timestamp statement_timestamp transaction_timestamp date_trunc "
               "date_part date_bin extract age make_date make_time make_timestamp make_timestamptz "
               "make_interval justify_days justify_hours justify_interval isfinite overlaps"),
    "timezone": Entry(_C, _K, "a time zone lookup and fixed-size arithmetic; the zone is a literal (argument "
                      "rule): pg_tzset keeps every zone a session names, about 23 KB each"),
    "to_char": Entry(_S, _L, "one pass over a literal format (argument rule); each format code prints a "
                     "bounded text"),
    **_entries(_C, _L, "one pass over the text and a literal format (argument rule)",
               "to_date to_timestamp to_number"),
    # numbers (numeric arguments: bounded by the format; see _NUMERIC)
    **_entries(_M, _L, _NUMERIC_LINEAR, "abs round ceil ceiling floor trunc sign"),
    **_entries(_M, _B, _NUMERIC, "mod div"),
    **_entries(_C, _B, _NUMERIC, "power sqrt cbrt exp ln log log10"),
    **_entries(_C, _K, _FIXED, "random"),
    "width_bucket": Entry(_C, _L, "fixed-size arithmetic, or a binary search of the thresholds array"),
    "in_range": Entry(_C, _L, "a window frame's RANGE offset: an addition and a comparison (numeric: linear "
                      "in digits)"),
    "gcd": Entry(_M, _K, "integer arguments only (argument rule): Euclid on fixed-size integers"),
    "lcm": Entry(_S, _K, "integer arguments only (argument rule): Euclid on fixed-size integers"),
    # arrays and sets
    **_entries(_C, _K, "reads the array header", "array_length array_lower array_upper array_dims "
               "array_ndims cardinality"),
    **_entries(_C, _L, _ONE_PASS, "array_position"),
    **_entries(_M, _L, _ONE_PASS, "array_positions array_remove"),
    **_entries(_S, _L, _ONE_PASS, "array_append array_prepend array_cat"),
    **_entries(_M, _L, _SRF, "unnest generate_subscripts"),
    "generate_series": Entry(_C, _L, _SERIES),
    # ranges
    **_entries(_S, _L, "compares its two bounds once with the subtype's comparison",
               "int4range int8range numrange daterange tsrange tstzrange range_merge"),
    **_entries(_C, _K, "reads the range's flags", "lower_inc upper_inc lower_inf upper_inf isempty"),
    # json and jsonb
    **_entries(Growth.SIXFOLD, _L, _JSON_BUILD, "to_json row_to_json array_to_json json_build_object "
               "json_build_array json_object"),
    **_entries(Growth.SIXFOLD, _L, _JSONB_BUILD, "to_jsonb jsonb_build_object jsonb_build_array "
               "jsonb_object"),
    **_entries(_C, _L, "json: one parse of the text; jsonb: reads the header",
               "json_typeof jsonb_typeof json_array_length jsonb_array_length"),
    **_entries(_M, _L, _SRF, "json_each jsonb_each json_each_text jsonb_each_text json_object_keys "
               "jsonb_object_keys json_array_elements jsonb_array_elements json_array_elements_text "
               "jsonb_array_elements_text"),
    **_entries(_M, _L, "one parse (json) or one walk per path element (jsonb)",
               "json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text "
               "jsonb_strip_nulls json_strip_nulls"),
    **_entries(_S, _L, "one walk of the document, then one copy", "jsonb_set jsonb_insert"),
    # uuids and misc pure helpers
    **_entries(_C, _K, _FIXED, "gen_random_uuid num_nulls num_nonnulls pg_typeof"),
    "format_type": Entry(_C, _K, "one catalog lookup; the modifier must be NULL (argument rule)"),
    # read-only inspection of the server and its catalogs (current_setting: built-in settings only)
    **_entries(_C, _K, _LOOKUP, "version current_database current_schema current_schemas current_setting "
               "pg_backend_pid pg_postmaster_start_time pg_is_in_recovery pg_last_xact_replay_timestamp "
               "pg_last_wal_receive_lsn pg_last_wal_replay_lsn pg_current_wal_lsn pg_get_userbyid "
               "pg_get_serial_sequence obj_description col_description has_table_privilege "
               "has_schema_privilege has_database_privilege has_column_privilege pg_table_is_visible "
               "pg_size_pretty"),
    "pg_wal_lsn_diff": Entry(_C, _K, _FIXED),
    **_entries(_C, _K, "reads the value's header (a TOAST pointer's sizes): no detoasting",
               "pg_column_size pg_column_compression"),
    "pg_blocking_pids": Entry(_C, _L, _LOCKS),
    "pg_database_size": Entry(_C, _L, _DB_SIZE),
    **_entries(_C, _L, _CATALOG_SIZE, "pg_relation_size pg_table_size pg_indexes_size "
               "pg_total_relation_size"),
    **_entries(_C, _L, _NAME, "to_regclass to_regtype to_regproc"),
}  # fmt: skip

# A literal set for btrim/ltrim/rtrim/TRIM: at most this many characters.
TRIM_SET_MAX = 16

# Plan size: the planner substitutes a subquery's column into every place the outer query uses it, so
# `a = a AND a = a` over `b = b AND b = b` over ... copies expressions exponentially (one 264-character query
# took the backend to 215 MB, one more level to gigabytes). The server-side check counts the expression
# nodes the query has once every column is substituted, and the query levels.
MAX_PLAN_NODES = 20_000
MAX_QUERY_DEPTH = 16


# --------------------------------------------------------------------------------------------- operators

_CMP = "compares the two values once (memcmp, or the collation's strcoll): linear in their length"
_CAT = "one copy of each side; the size rule counts the sum"
_LIKE = (
    "a literal pattern of at most 256 characters, at most 16 after a % (argument rule): at most 16 "
    "comparisons per character of the value"
)
_JSON_GET = "one parse (json) or one walk (jsonb) of the document"
_ARRAY_CMP = "compares element by element with the element type's comparison"
_RANGE = "a bounded number of comparisons of the bounds with the subtype's comparison"
_RECORD = "compares column by column with each column type's default comparison (checked for user types)"
_INET = "inet and cidr are at most 22 bytes"
_BITS = "one pass over the bit string"
_ACL = "one pass over the aclitem array"

# Operators by the function behind them (pg_operator.oprcode). An operator whose two operands (or one, for a
# prefix operator) are of fixed-size types (typlen > 0: integers, floats, dates and times, uuid, points,
# boxes, circles...) is constant-time and needs no entry: no built-in operator on fixed-size values loops.
OPERATORS: dict[str, Entry] = {
    **_entries(_C, _L, _CMP, "texteq textne text_lt text_le text_gt text_ge text_pattern_lt "
               "text_pattern_le text_pattern_gt text_pattern_ge bpchareq bpcharne bpcharlt bpcharle "
               "bpchargt bpcharge bpchar_pattern_lt bpchar_pattern_le bpchar_pattern_gt "
               "bpchar_pattern_ge byteaeq byteane bytealt byteale byteagt byteage starts_with "
               "nameeqtext namenetext namelttext nameletext namegttext namegetext texteqname textnename "
               "textltname textlename textgtname textgename oidvectoreq oidvectorne oidvectorlt "
               "oidvectorle oidvectorgt oidvectorge"),
    **_entries(_S, _L, _CAT, "textcat byteacat bitcat textanycat anytextcat"),
    **_entries(_C, _L, _LIKE, "textlike textnlike texticlike texticnlike bpcharlike bpcharnlike "
               "bpchariclike bpcharicnlike namelike namenlike nameiclike nameicnlike bytealike byteanlike"),
    **_entries(_C, _X, _REGEX, "textregexeq textregexne texticregexeq texticregexne bpcharregexeq "
               "bpcharregexne bpcharicregexeq bpcharicregexne nameregexeq nameregexne nameicregexeq "
               "nameicregexne"),
    **_entries(_C, _L, _NUMERIC_LINEAR, "numeric_eq numeric_ne numeric_lt numeric_le numeric_gt "
               "numeric_ge numeric_uplus numeric_uminus numeric_abs numeric_pl_pg_lsn pg_lsn_pli "
               "pg_lsn_mii"),
    **_entries(_S, _L, _NUMERIC_LINEAR, "numeric_add numeric_sub"),
    **_entries(_S, _B, _NUMERIC, "numeric_mul numeric_div numeric_mod"),
    "numeric_power": Entry(_C, _B, "the exponent must be a literal integer of at most 1,000 (argument "
                           "rule); the result is capped by the numeric format (0.09 s at its maximum)"),
    **_entries(_M, _L, _JSON_GET, "json_object_field json_object_field_text json_array_element "
               "json_array_element_text json_extract_path json_extract_path_text jsonb_object_field "
               "jsonb_object_field_text jsonb_array_element jsonb_array_element_text jsonb_extract_path "
               "jsonb_extract_path_text jsonb_delete_path"),
    **_entries(_C, _L, "one lookup in the top-level object (binary search of its sorted keys)",
               "jsonb_exists"),
    **_entries(_C, _L, "compares the two documents in one walk", "jsonb_eq jsonb_ne jsonb_lt jsonb_le "
               "jsonb_gt jsonb_ge"),
    "jsonb_concat": Entry(_S, _L, _CAT),
    **_entries(_C, _L, _ARRAY_CMP, "array_eq array_ne array_lt array_le array_gt array_ge"),
    **_entries(_S, _L, _CAT, "array_append array_prepend array_cat"),
    **_entries(_C, _L, _RANGE, "range_eq range_ne range_lt range_le range_gt range_ge range_overlaps "
               "range_contains range_contained_by range_adjacent range_before range_after range_overleft "
               "range_overright range_contains_elem elem_contained_by_range"),
    **_entries(_S, _L, _RANGE, "range_union range_intersect range_minus"),
    **_entries(_C, _K, _INET, "network_eq network_ne network_lt network_le network_gt network_ge "
               "network_sub network_subeq network_sup network_supeq network_overlap inetand inetor "
               "inetnot inetmi inetpl inetmi_int8 int8pl_inet"),
    **_entries(_C, _L, _BITS, "biteq bitne bitlt bitle bitgt bitge varbiteq varbitne varbitlt varbitle "
               "varbitgt varbitge bitand bitor bitxor bitnot bitshiftleft bitshiftright"),
    **_entries(_C, _L, _RECORD, "record_eq record_ne record_lt record_le record_gt record_ge "
               "record_image_eq record_image_ne record_image_lt record_image_le record_image_gt "
               "record_image_ge"),
    **_entries(_C, _L, _ACL, "aclcontains aclinsert aclremove"),
    **_entries(_C, _K, "reads the point count from the header", "path_npoints poly_npoints"),
}  # fmt: skip

# Why the operators people reach for most are refused (anything else unclassified is refused generically).
_REFUSED_OPERATORS: dict[str, str] = {
    **dict.fromkeys(
        ("arraycontains", "arraycontained", "arrayoverlap", "jsonb_contains", "jsonb_contained",
         "jsonb_exists_any", "jsonb_exists_all"),
        "containment, overlap and key-existence loop over both sides without checking for cancellation "
        "(3-15 s past a 300 ms timeout on 60,000 elements); compare with = ANY (...) or unnest() instead",
    ),
    **dict.fromkeys(
        ("jsonb_path_exists_opr", "jsonb_path_match_opr"),
        "a jsonpath's .** accessor visits every subtree: its cost has no bound we can prove",
    ),
}  # fmt: skip
_PATH_POLYGON = (
    "distance, intersection, containment and overlap of paths and polygons loop over every pair of "
    "segments without checking for cancellation"
)
_GEOMETRY_TYPES = frozenset({"path", "polygon"})


def operator_verdict(function: str, operand_types: list[tuple[str, int]]) -> tuple[Entry | None, str]:
    """The entry that allows the operator implemented by ``function`` on operands ``(type name, typlen)``,
    or (None, why it is refused)."""
    if function in _REFUSED_OPERATORS:
        return None, _REFUSED_OPERATORS[function]
    if function in OPERATORS:
        return OPERATORS[function], ""
    if any(name in _GEOMETRY_TYPES for name, _ in operand_types):
        return None, _PATH_POLYGON
    if operand_types and all(length > 0 for _, length in operand_types):
        return Entry(_C, _K, _FIXED), ""
    return None, "its cost is not classified (sqlaction/bounds.py); unclassified operators are refused"


# ----------------------------------------------------------------------------------- casts and inputs

# A built-in cast function converts one value once: linear in its input (char(n), varchar(n) and bit(n) pad
# or check to n, at most policy.MAX_TYPMOD). Text made into a value runs the type's input function, also
# one pass. Except:
REFUSED_INPUT_TYPES: dict[str, str] = {
    "xml": "parsing XML runs libxml2, which can fetch external entities and whose cost is not bounded here",
}


def cast_refusal(function: str, result_type: str) -> str | None:
    """Why a built-in cast (by function name, result type name) is refused, or None."""
    if result_type in REFUSED_INPUT_TYPES:
        return REFUSED_INPUT_TYPES[result_type]
    if function in ("xml", "texttoxml"):
        return REFUSED_INPUT_TYPES["xml"]
    return None


# ---------------------------------------------------------------------------------------- constructs

CONSTRUCTS: dict[str, Entry] = {
    "scan, join (nested loop, merge), LIMIT/OFFSET": Entry(_C, _K, "constant per row; every row checks for "
                                                       "cancellation (the deadline stops the statement)"),
    "joins": Entry(_C, _L, "nested loop and merge join (with sorts and materialisation that spill): the "
                   "reader role plans no hash join, whose batches cannot split rows that share one key"),
    "ORDER BY, DISTINCT, GROUP BY": Entry(_C, _L, "tuplesort spills to disk past work_mem; the reader role "
                                          "plans GROUP BY and DISTINCT without hashing (enable_hashagg off)"),
    "UNION, INTERSECT, EXCEPT": Entry(_C, _L, "PostgreSQL 15 never spills a hashed set operation, so they're "
                                      "planned with sorts (enable_hashagg off) and refused for types that "
                                      "cannot be sorted"),
    "WITH (CTE), subquery in FROM, LATERAL": Entry(_C, _L, "a materialized CTE is a tuplestore (spills); "
                                                   "the plan-size rule bounds how often a column is copied"),
    "WITH RECURSIVE ... UNION ALL": Entry(_C, _L, "the working table is a tuplestore, which spills; UNION "
                                          "(without ALL) is refused: its hash table never spills"),
    "EXISTS, NOT EXISTS, scalar subquery, IN (subquery) as a condition of WHERE": Entry(
        _C, _L, "planned as a semi or anti join, or a subplan per row; NOT IN (subquery), and IN (subquery) "
        "anywhere else, are refused unless correlated: PostgreSQL 15 builds an in-memory hash table of the "
        "subquery that never spills"),
    "window functions": Entry(_C, _L, _WINDOW),
    "CASE, COALESCE, NULLIF, GREATEST, LEAST, IS [NOT] DISTINCT FROM, ROW, ARRAY[...]": Entry(
        _M, _L, "evaluate each argument once; comparisons use the type's default operator class"),
    "subscripts, field selection, COLLATE, IS NULL, IS TRUE": Entry(_M, _K, "constant per value"),
    "casts and text input": Entry(_M, _L, "one pass of the cast or input function (xml refused)"),
    "ARRAY(subquery), array_agg, string_agg, json_agg": Entry(_S, _L, "refused: fold any number of rows into "
                                                              "one value"),
    "plan size": Entry(_C, _L, f"at most {MAX_PLAN_NODES:,} expression nodes with every subquery column "
                       f"substituted, and {MAX_QUERY_DEPTH} query levels"),
}  # fmt: skip


def markdown() -> str:
    """The classification as the tables ``docs/decisions.md`` holds (a unit test compares the two)."""
    lines = ["| function | cost | why (PostgreSQL 15) |", "|---|---|---|"]
    by_reason: dict[tuple[Cost, str], list[str]] = {}
    for name, entry in FUNCTIONS.items():
        by_reason.setdefault((entry.cost, entry.why), []).append(name)
    lines += [f"| {', '.join(f'`{n}`' for n in names)} | {cost.value} | {why} |"
              for (cost, why), names in by_reason.items()]  # fmt: skip
    lines += ["", "| operator (by its function) | cost | why |", "|---|---|---|",
              f"| any operator on fixed-size types (integers, floats, dates, times, uuid, points...) | "
              f"constant | {_FIXED} |"]  # fmt: skip
    by_reason = {}
    for name, entry in OPERATORS.items():
        by_reason.setdefault((entry.cost, entry.why), []).append(name)
    lines += [f"| {', '.join(f'`{n}`' for n in names)} | {cost.value} | {why} |"
              for (cost, why), names in by_reason.items()]  # fmt: skip
    lines += ["", "| construct | cost | why |", "|---|---|---|"]
    lines += [f"| {name} | {entry.cost.value} | {entry.why} |" for name, entry in CONSTRUCTS.items()]
    return "\n".join(lines) + "\n"
