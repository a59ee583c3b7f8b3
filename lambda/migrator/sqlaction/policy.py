"""What the ``sql`` action may call and read: one policy, enforced by two independent layers.

``guard`` checks it on the text, with PostgreSQL's parser (pglast), before anything reaches the server.
``resolver`` checks it again on the server, on what the query really resolves to (function, operator, type
and relation OIDs), before the query runs. Each layer holds on its own; the tests switch each one off.

Every allowed function has a *growth* class, used to bound how big a value a query can build (see
``guard``'s size rule): a function is refused when it cannot be interrupted and costs more than linear time
(PostgreSQL checks for cancellation between rows, not inside one call), or when it turns small input into a
huge value (padding, repetition, row-to-value aggregation).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from migrator.errors import UnsafeSQL

__all__ = [
    "ALLOWED_FUNCTIONS",
    "BUILTIN_OID_LIMIT",
    "DENIED_COLUMNS",
    "DENIED_OPERATOR_FUNCTIONS",
    "DENIED_RELATIONS",
    "FUNCTION_GROWTH",
    "LIKE_FUNCTIONS",
    "LIKE_PATTERN_MAX",
    "MAX_COPIES",
    "MAX_NUMERIC_DIGITS",
    "MAX_ROW_COPIES",
    "MAX_SERIES_ROWS",
    "MAX_TYPMOD",
    "REFUSED_FUNCTIONS",
    "Growth",
    "check_like_pattern",
    "check_series_bounds",
    "check_setting_name",
    "check_type_name_argument",
    "setting_refusal",
]

# PostgreSQL assigns OIDs below FirstNormalObjectId (16384) only while initdb builds the cluster: an object
# under it is a built-in. Nothing a user (or an extension installed later) creates can get one.
BUILTIN_OID_LIMIT = 16384


class Growth(Enum):
    """How big a function's result can be, in "copies" of its largest input (see guard's size rule)."""

    CONSTANT = "constant"  # bounded whatever the input: count(), length(), md5(), now()...
    MAX = "max"  # no bigger than its biggest argument: lower(), substr(), min(), lag()...
    SUM = "sum"  # about the sum of its arguments: concat(), array_cat(), jsonb_set()...
    DOUBLE = "double"  # up to twice the sum: quote_literal() (doubled quotes), jsonb_path_query()
    QUADRUPLE = "quadruple"  # encode() (hex doubles, escape quadruples)
    SIXFOLD = "sixfold"  # JSON escaping: a control character becomes \u0001
    EIGHTEENFOLD = "eighteenfold"  # normalize(): Unicode compatibility forms expand up to 18 characters


_C, _M, _S = Growth.CONSTANT, Growth.MAX, Growth.SUM

# Pure or stable functions without side effects, by growth. Several SQL-syntax forms appear in the parse
# tree as pg_catalog calls: EXTRACT -> extract, SUBSTRING(x FROM y) -> substring, TRIM -> btrim/ltrim/rtrim,
# OVERLAY -> overlay, AT TIME ZONE -> timezone, SIMILAR TO -> similar_to_escape, OVERLAPS -> overlaps,
# IS NORMALIZED -> is_normalized, COLLATION FOR -> pg_collation_for. COALESCE, NULLIF, GREATEST, LEAST,
# CASE and CURRENT_DATE/CURRENT_TIMESTAMP/CURRENT_USER are their own nodes.
FUNCTION_GROWTH: dict[str, Growth] = {
    # aggregates that fold rows into a bounded value (row-to-array/string/json builders are refused)
    "count": _C, "sum": _C, "avg": _C, "min": _M, "max": _M, "bool_and": _C, "bool_or": _C,
    "every": _C, "bit_and": _M, "bit_or": _M, "stddev": _C, "stddev_pop": _C, "stddev_samp": _C,
    "variance": _C, "var_pop": _C, "var_samp": _C, "corr": _C, "percentile_cont": _C,
    "percentile_disc": _M, "mode": _M,
    # window functions
    "row_number": _C, "rank": _C, "dense_rank": _C, "percent_rank": _C, "cume_dist": _C, "ntile": _C,
    "lag": _M, "lead": _M, "first_value": _M, "last_value": _M, "nth_value": _M,
    # strings (linear time; the quadratic and padding ones are in REFUSED_FUNCTIONS)
    "lower": _M, "upper": _M, "initcap": _M, "length": _C, "char_length": _C, "character_length": _C,
    "octet_length": _C, "substring": _M, "substr": _M, "btrim": _M, "ltrim": _M, "rtrim": _M,
    "concat": _S, "concat_ws": _S, "left": _M, "right": _M, "overlay": _S, "reverse": _M,
    "starts_with": _C, "quote_ident": Growth.DOUBLE, "quote_literal": Growth.DOUBLE,
    "quote_nullable": Growth.DOUBLE, "to_hex": _C, "md5": _C, "encode": Growth.QUADRUPLE, "decode": _M,
    "regexp_match": _M, "regexp_matches": _M, "regexp_split_to_array": Growth.QUADRUPLE, "regexp_like": _C,
    "similar_to_escape": Growth.DOUBLE, "normalize": Growth.EIGHTEENFOLD, "is_normalized": _C,
    "pg_collation_for": _C, "ascii": _C, "chr": _C,
    # date and time
    "now": _C, "clock_timestamp": _C, "statement_timestamp": _C, "transaction_timestamp": _C,
    "date_trunc": _C, "date_part": _C, "date_bin": _C, "extract": _C, "age": _C, "to_char": _S,
    "to_date": _C, "to_timestamp": _C, "to_number": _C, "make_date": _C, "make_time": _C,
    "make_timestamp": _C, "make_timestamptz": _C, "make_interval": _C, "justify_days": _C,
    "justify_hours": _C, "justify_interval": _C, "isfinite": _C, "timezone": _C, "overlaps": _C,
    # numbers
    "abs": _M, "round": _M, "ceil": _M, "ceiling": _M, "floor": _M, "trunc": _M, "mod": _M, "div": _M,
    "power": _C, "sqrt": _C, "cbrt": _C, "sign": _C, "exp": _C, "ln": _C, "log": _C, "log10": _C,
    "width_bucket": _C, "random": _C, "gcd": _M, "lcm": _S,
    # arrays and sets (generate_series only with literal integer bounds: see MAX_SERIES_ROWS)
    "array_length": _C, "array_lower": _C, "array_upper": _C, "array_dims": _C, "array_ndims": _C,
    "cardinality": _C, "array_position": _C, "array_positions": _M, "array_remove": _M,
    "array_append": _S, "array_prepend": _S, "array_cat": _S, "unnest": _M, "generate_series": _C,
    "generate_subscripts": _C,
    # ranges
    "int4range": _S, "int8range": _S, "numrange": _S, "daterange": _S, "tsrange": _S, "tstzrange": _S,
    "lower_inc": _C, "upper_inc": _C, "lower_inf": _C, "upper_inf": _C, "isempty": _C, "range_merge": _S,
    # json and jsonb (to_json and friends escape: a control character becomes six)
    "to_json": Growth.SIXFOLD, "to_jsonb": Growth.SIXFOLD, "row_to_json": Growth.SIXFOLD,
    "array_to_json": Growth.SIXFOLD, "json_build_object": Growth.SIXFOLD,
    "jsonb_build_object": Growth.SIXFOLD, "json_build_array": Growth.SIXFOLD,
    "jsonb_build_array": Growth.SIXFOLD, "json_object": Growth.SIXFOLD, "jsonb_object": Growth.SIXFOLD,
    "json_typeof": _C, "jsonb_typeof": _C, "json_array_length": _C, "jsonb_array_length": _C,
    "json_each": _M, "jsonb_each": _M, "json_each_text": _M, "jsonb_each_text": _M,
    "json_object_keys": _M, "jsonb_object_keys": _M, "json_array_elements": _M,
    "jsonb_array_elements": _M, "json_array_elements_text": _M, "jsonb_array_elements_text": _M,
    "json_extract_path": _M, "jsonb_extract_path": _M, "json_extract_path_text": _M,
    "jsonb_extract_path_text": _M, "jsonb_strip_nulls": _M, "json_strip_nulls": _M, "jsonb_set": _S,
    "jsonb_insert": _S, "jsonb_path_query": Growth.DOUBLE, "jsonb_path_query_array": Growth.DOUBLE,
    "jsonb_path_query_first": Growth.DOUBLE, "jsonb_path_exists": _C, "jsonb_path_match": _C,
    # uuids and misc pure helpers
    "gen_random_uuid": _C, "num_nulls": _C, "num_nonnulls": _C, "pg_typeof": _C, "format_type": _C,
    # read-only inspection of the server and its catalogs (current_setting: built-in settings only)
    "version": _C, "current_database": _C, "current_schema": _C, "current_schemas": _C,
    "current_setting": _C, "pg_backend_pid": _C, "pg_postmaster_start_time": _C,
    "pg_is_in_recovery": _C, "pg_last_xact_replay_timestamp": _C, "pg_last_wal_receive_lsn": _C,
    "pg_last_wal_replay_lsn": _C, "pg_blocking_pids": _C, "pg_database_size": _C,
    "pg_relation_size": _C, "pg_table_size": _C, "pg_indexes_size": _C, "pg_total_relation_size": _C,
    "pg_size_pretty": _C, "pg_get_userbyid": _C,
    "pg_get_serial_sequence": _C, "to_regclass": _C, "to_regtype": _C, "to_regproc": _C,
    "obj_description": _C, "col_description": _C, "has_table_privilege": _C, "has_schema_privilege": _C,
    "has_database_privilege": _C, "has_column_privilege": _C, "pg_table_is_visible": _C,
}  # fmt: skip

ALLOWED_FUNCTIONS: frozenset[str] = frozenset(FUNCTION_GROWTH)

# Functions people reach for that are refused on purpose, with the reason the user is told.
_QUADRATIC = "takes time quadratic in its input and cannot be cancelled by the statement timeout"
_ROWS_TO_VALUE = "folds any number of rows into one value of unbounded size"
REFUSED_FUNCTIONS: dict[str, str] = {
    "translate": _QUADRATIC, "replace": _QUADRATIC, "strpos": _QUADRATIC, "position": _QUADRATIC,
    "split_part": _QUADRATIC, "string_to_array": _QUADRATIC,
    "format": "pads and repeats its arguments into values of unbounded size",
    "lpad": "pads into values of unbounded size", "rpad": "pads into values of unbounded size",
    "repeat": "repeats into values of unbounded size", "array_fill": "builds arrays of unbounded size",
    "array_to_string": "repeats its separator once per element (a value of unbounded size)",
    "array_replace": "replaces each matching element with a value of any size",
    "regexp_replace": "repeats its replacement (and back-references) once per match",
    "jsonb_pretty": "indents each level (quadratic output for deeply nested input)",
    "array_agg": _ROWS_TO_VALUE, "string_agg": _ROWS_TO_VALUE, "json_agg": _ROWS_TO_VALUE,
    "jsonb_agg": _ROWS_TO_VALUE, "json_object_agg": _ROWS_TO_VALUE, "jsonb_object_agg": _ROWS_TO_VALUE,
    "xmlagg": _ROWS_TO_VALUE,
    "pg_get_viewdef": "shows the definition of any view, including ones the role may not read",
    "pg_get_functiondef": "shows function source", "pg_get_ruledef": "shows view and rule definitions",
    "pg_get_expr": "decodes stored expressions of objects the role may not read",
    "pg_get_triggerdef": "shows trigger definitions",
    "pg_get_indexdef": "shows index expressions and predicates, also of tables the role may not read",
    "pg_get_constraintdef": "shows constraint expressions, also of tables the role may not read",
}  # fmt: skip

# LIKE and ILIKE backtrack over the pattern without checking for cancellation: the pattern must be a
# literal of at most this many characters, which keeps each comparison linear in the value.
LIKE_PATTERN_MAX = 256
LIKE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "textlike", "textnlike", "texticlike", "texticnlike", "bpcharlike", "bpcharnlike",
        "bpchariclike", "bpcharicnlike", "namelike", "namenlike", "nameiclike", "nameicnlike",
        "bytealike", "byteanlike",
    }
)  # fmt: skip

# Operators (by the function behind them) whose nested loops cannot be cancelled: array and jsonb
# containment, overlap and key-existence took 3-15 s against a 300 ms statement timeout on 60,000 elements.
DENIED_OPERATOR_FUNCTIONS: dict[str, str] = {
    "arraycontains": "array @> array", "arraycontained": "array <@ array", "arrayoverlap": "array && array",
    "jsonb_contains": "jsonb @> jsonb", "jsonb_contained": "jsonb <@ jsonb",
    "jsonb_exists_any": "jsonb ?| text[]", "jsonb_exists_all": "jsonb ?& text[]",
}  # fmt: skip

# numeric: multiplying two 60,000-digit numbers took 40 ms that no timeout can cancel, 100 of them per row
# 4 s past a 300 ms timeout. Literals and exponents stay at most this many digits.
MAX_NUMERIC_DIGITS = 1000

# generate_series takes literal integer bounds that give at most this many rows.
MAX_SERIES_ROWS = 100_000

# char(n), varchar(n) and bit(n) pad or check to n; a cast to char(10485760) pads to 10 MB.
MAX_TYPMOD = 10_000

# Size rule: a value may hold at most MAX_COPIES "copies" of the largest input (a stored row or the query
# text), and one output row at most MAX_ROW_COPIES. See guard.
MAX_COPIES = 64
MAX_ROW_COPIES = 256

# Built-in catalogs and views that hold credentials, server configuration or every custom setting.
DENIED_RELATIONS: dict[str, str] = {
    "pg_authid": "password hashes", "pg_shadow": "password hashes", "pg_user_mapping": "FDW credentials",
    "pg_user_mappings": "FDW credentials", "user_mapping_options": "FDW credentials",
    "_pg_user_mappings": "FDW credentials",
    "pg_file_settings": "server configuration files", "pg_hba_file_rules": "server configuration files",
    "pg_ident_file_mappings": "server configuration files", "pg_largeobject": "large object contents",
    "pg_settings": "every setting, including custom ones that may hold secrets (use SHOW <name>)",
    "pg_db_role_setting": "per-role and per-database settings, which may hold secrets",
    "pg_config": "server build paths", "pg_stat_statements": "other roles' query text",
    "pg_stats_ext": "sampled values of columns", "pg_stats_ext_exprs": "sampled values of expressions",
    "pg_statistic_ext_data": "sampled values of columns", "pg_statistic": "sampled values of columns",
}  # fmt: skip

# Columns of built-in catalogs that hold source code, settings or connection strings. Reading the other
# columns is fine (``SELECT rolname FROM pg_roles``); ``SELECT *`` or a whole-row reference is refused.
DENIED_COLUMNS: dict[str, frozenset[str]] = {
    "pg_proc": frozenset({"prosrc", "probin", "prosqlbody", "proconfig", "proargdefaults"}),
    # sampled values: the statistics of pg_db_role_setting hold its settings
    "pg_stats": frozenset({"most_common_vals", "most_common_elems", "histogram_bounds"}),
    "pg_rules": frozenset({"definition"}),
    "pg_trigger": frozenset({"tgargs", "tgqual"}),
    "pg_attrdef": frozenset({"adbin"}),
    "pg_constraint": frozenset({"conbin"}),
    "pg_index": frozenset({"indexprs", "indpred"}),
    "pg_type": frozenset({"typdefaultbin", "typdefault"}),
    "pg_partitioned_table": frozenset({"partexprs"}),
    "pg_statistic_ext": frozenset({"stxexprs"}),
    "pg_indexes": frozenset({"indexdef"}),
    "pg_class": frozenset({"relpartbound"}),
    "pg_publication_tables": frozenset({"rowfilter"}),
    "pg_publication_rel": frozenset({"prqual"}),
    "domains": frozenset({"domain_default"}),
    "columns": frozenset({"column_default", "generation_expression"}),
    "attributes": frozenset({"attribute_default"}),
    "pg_roles": frozenset({"rolconfig"}),
    "pg_user": frozenset({"useconfig"}),
    "pg_views": frozenset({"definition"}),
    "pg_matviews": frozenset({"definition"}),
    "pg_rewrite": frozenset({"ev_action", "ev_qual"}),
    "pg_policy": frozenset({"polqual", "polwithcheck"}),
    "pg_policies": frozenset({"qual", "with_check"}),
    "pg_subscription": frozenset({"subconninfo"}),
    "pg_foreign_server": frozenset({"srvoptions"}),
    "pg_foreign_table": frozenset({"ftoptions"}),
    "pg_foreign_data_wrapper": frozenset({"fdwoptions"}),
    "pg_stat_activity": frozenset({"query"}),
    "routines": frozenset({"routine_definition"}),
    "views": frozenset({"view_definition"}),
    "foreign_server_options": frozenset({"option_value"}),
    "foreign_table_options": frozenset({"option_value"}),
    "foreign_data_wrapper_options": frozenset({"option_value"}),
}


def setting_refusal(name: str) -> str | None:
    """Why reading setting ``name`` is refused, or None. Custom settings (``app.secret``) can be set per
    database or role by anyone with the privilege, and are readable by every role: they may hold secrets."""
    if "." in name:
        return (
            f"setting {name!r} is a custom setting: custom settings may hold secrets and are not shown; "
            "built-in settings (SHOW work_mem, current_setting('server_version')) are"
        )
    return None


# The argument rules, shared by both layers: each layer reads the argument from its own tree (the guard
# from pglast's, the server-side check from PostgreSQL's) and hands the value here.


def check_setting_name(setting: str | None) -> None:
    """current_setting(name): a literal, built-in setting name."""
    if setting is None:
        raise UnsafeSQL("current_setting() takes a literal setting name, e.g. current_setting('work_mem')")
    refusal = setting_refusal(setting)
    if refusal:
        raise UnsafeSQL(refusal)


def check_series_bounds(bounds: Sequence[int | None]) -> None:
    """generate_series(start, stop[, step]): literal integers giving at most MAX_SERIES_ROWS rows."""
    if len(bounds) not in (2, 3) or None in bounds:
        raise UnsafeSQL(
            "generate_series() takes literal integer bounds, e.g. generate_series(0, 30); "
            "for dates use now() - g * interval '1 day'"
        )
    start, stop, step = (*bounds, 1)[:3]
    if step == 0:
        raise UnsafeSQL("generate_series() step must not be zero")
    rows = max(0, (stop - start) // step + 1)  # type: ignore[operator]
    if rows > MAX_SERIES_ROWS:
        raise UnsafeSQL(f"generate_series() would make {rows} rows; the limit is {MAX_SERIES_ROWS}")


def check_like_pattern(pattern: str | None) -> None:
    """LIKE/ILIKE: a literal pattern of at most LIKE_PATTERN_MAX characters."""
    if pattern is None or len(pattern) > LIKE_PATTERN_MAX:
        raise UnsafeSQL(
            f"LIKE and ILIKE take a literal pattern of at most {LIKE_PATTERN_MAX} characters "
            "(matching cannot be cancelled once it starts)"
        )


def check_type_name_argument(name: str | None) -> None:
    """to_regtype('name'): a literal type name without a modifier (a modifier runs the type's typmod_in)."""
    if name is None or "(" in name:
        raise UnsafeSQL("to_regtype() takes a literal type name without a modifier, e.g. to_regtype('uuid')")
