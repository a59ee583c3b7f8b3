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

from migrator.errors import UnsafeSQL
from migrator.sqlaction import bounds
from migrator.sqlaction.bounds import Growth

__all__ = [
    "ALLOWED_FUNCTIONS",
    "BUILTIN_OID_LIMIT",
    "DATA_TYPES",
    "DENIED_COLUMNS",
    "DENIED_RELATIONS",
    "FORMAT_FUNCTIONS",
    "FUNCTION_GROWTH",
    "JSONB_BUILDERS",
    "JSONB_TREE_COPIES",
    "JSONB_TREE_FUNCTIONS",
    "LIKE_FUNCTIONS",
    "LIKE_PATTERN_MAX",
    "LIKE_RUN_MAX",
    "MAX_COPIES",
    "MAX_JSONB_TREES",
    "MAX_NUMERIC_DIGITS",
    "MAX_ROW_COPIES",
    "MAX_ROW_WORK",
    "MAX_SERIES_ROWS",
    "MAX_TYPMOD",
    "NAME_LOOKUPS",
    "PRIVILEGE_LOOKUPS",
    "REFUSED_FUNCTIONS",
    "REGEX_SIZE_MAX",
    "SECRET_SETTINGS",
    "ZONE_FUNCTIONS",
    "Growth",
    "check_format_argument",
    "check_like_pattern",
    "check_lookup_name_argument",
    "check_privilege_name_argument",
    "check_regex_pattern",
    "check_series_bounds",
    "check_setting_name",
    "check_time_zone_argument",
    "check_type_name_argument",
    "like_run",
    "refuse_name_text_input",
    "refuse_zone_text_input",
    "setting_refusal",
]

# PostgreSQL assigns OIDs below FirstNormalObjectId (16384) only while initdb builds the cluster: an object
# under it is a built-in. Nothing a user (or an extension installed later) creates can get one.
BUILTIN_OID_LIMIT = 16384


# Every allowed function, with its growth (for the size rule), cost class and why: see bounds.
FUNCTION_GROWTH: dict[str, Growth] = {name: entry.growth for name, entry in bounds.FUNCTIONS.items()}

ALLOWED_FUNCTIONS: frozenset[str] = frozenset(FUNCTION_GROWTH)

# Functions people reach for that are refused on purpose, with the reason the user is told.
_QUADRATIC = "takes time quadratic in its input and cannot be cancelled by the statement timeout"
_ROWS_TO_VALUE = "folds any number of rows into one value of unbounded size"
_JSONPATH = "runs a jsonpath, whose .** accessor visits every subtree: no bound we can prove"
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
    "normalize": "reorders combining marks in quadratic time without checking for cancellation (20,000 "
    "marks ran 4.7 s past a 1 s timeout)",
    "is_normalized": "reorders combining marks in quadratic time without checking for cancellation",
    "jsonb_path_query": _JSONPATH, "jsonb_path_query_array": _JSONPATH, "jsonb_path_query_first": _JSONPATH,
    "jsonb_path_exists": _JSONPATH, "jsonb_path_match": _JSONPATH,
}  # fmt: skip

# LIKE and ILIKE backtrack over the pattern without checking for cancellation: the pattern must be a
# literal of at most this many characters, which keeps each comparison linear in the value.
LIKE_PATTERN_MAX = 256
# After a %, MatchText tries the rest of the pattern at every position of the value: a run of m characters
# costs n x m comparisons, uncancellable (32 LIKEs of '%' and 250 characters on a 5 MB value ran 42 s past
# the deadline, holding their lock). A run after a % is at most this long, like trim's set, and the guard's
# work rule counts a LIKE as that many copies of its subject.
LIKE_RUN_MAX = 16
LIKE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "textlike", "textnlike", "texticlike", "texticnlike", "bpcharlike", "bpcharnlike",
        "bpchariclike", "bpcharicnlike", "namelike", "namenlike", "nameiclike", "nameicnlike",
        "bytealike", "byteanlike",
    }
)  # fmt: skip

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
# The work rule: what one row's calls may read and make, summed (see guard).
MAX_ROW_WORK = 256

# jsonb made from text or json, and every jsonb function that rebuilds a document, first builds the whole
# document as a tree of JsonbValues (pushJsonbValue; in PG15 it unpacks a nested container even when the
# iterator skipped it): about 450 bytes for a {} of 3 characters, kept until the row is done. Measured here:
# 211 MB per MB of '[{},{},...]' text (2.7 MB as jsonb), whichever of these built it: one build of a 5 MB
# stored document passes 1 GB. So none is allowed from a value that is not a literal: each counts more than
# the work rule allows a whole row (JSONB_TREE_COPIES), and the server-side check, which sees the types,
# allows MAX_JSONB_TREES (none) such builds in a query. Reading needs none: -> and ->> on jsonb, and on
# text made ::json, which parses as a stream.
JSONB_TREE_COPIES = 2 * (MAX_ROW_WORK + 1)
MAX_JSONB_TREES = 0
JSONB_TREE_FUNCTIONS: frozenset[str] = frozenset(
    {"jsonb_set", "jsonb_insert", "jsonb_strip_nulls", "jsonb_delete_path", "jsonb_concat", "jsonb_delete",
     "jsonb_delete_idx", "jsonb_in"}
)  # fmt: skip
# These build a tree of their arguments: one that is a json or jsonb document (or a row or array holding
# one) is rebuilt whole; scalars (text, numbers) are one JsonbValue each.
JSONB_BUILDERS: frozenset[str] = frozenset(
    {"to_jsonb", "jsonb_build_object", "jsonb_build_array", "jsonb_object"}
)

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

# Columns of built-in catalogs and views whose type holds table data, stored expressions or binary values,
# whatever their name: every such column is denied (the server-side check reads each column's type from
# pg_attribute; tests/integration/test_sql_action_bounds.py lists them all from pg_attribute). anyarray holds
# values of any type (pg_attribute.attmissingval: the value older rows get for a column added later;
# pg_statistic and pg_stats: sampled values); pg_node_tree holds expressions (defaults, CHECKs, index
# predicates, view and policy definitions); bytea holds trigger arguments and large objects.
DATA_TYPES: frozenset[str] = frozenset(
    {"anyarray", "pg_node_tree", "bytea", "pg_ndistinct", "pg_dependencies", "pg_mcv_list", "pg_statistic[]"}
)

# Columns of built-in catalogs that hold source code, settings or connection strings, as text. Reading the
# other columns is fine (``SELECT rolname FROM pg_roles``); ``SELECT *`` or a whole-row reference is refused.
DENIED_COLUMNS: dict[str, frozenset[str]] = {
    "pg_proc": frozenset({"prosrc", "probin", "prosqlbody", "proconfig", "proargdefaults"}),
    "pg_attribute": frozenset({"attmissingval", "attfdwoptions"}),
    "pg_aggregate": frozenset({"agginitval", "aggminitval"}),
    "pg_extension": frozenset({"extcondition"}),
    "parameters": frozenset({"parameter_default"}),
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
    if name.lower() in SECRET_SETTINGS:
        return f"setting {name!r} may hold a password or a command with credentials, and is not shown"
    return None


# Built-in settings that may hold a password (a replication connection string) or a command with credentials.
# PostgreSQL shows most of them to superusers only; the checks refuse them for everyone.
SECRET_SETTINGS = frozenset(
    {"primary_conninfo", "ssl_passphrase_command", "archive_command", "restore_command",
     "archive_cleanup_command", "recovery_end_command", "archive_library"}
)  # fmt: skip


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
    """LIKE/ILIKE: a literal pattern of at most LIKE_PATTERN_MAX characters, whose literal runs after a %
    are at most LIKE_RUN_MAX characters."""
    if pattern is None or len(pattern) > LIKE_PATTERN_MAX:
        raise UnsafeSQL(
            f"LIKE and ILIKE take a literal pattern of at most {LIKE_PATTERN_MAX} characters "
            "(matching cannot be cancelled once it starts)"
        )
    if like_run(pattern) > LIKE_RUN_MAX:
        raise UnsafeSQL(
            f"a LIKE or ILIKE pattern may have at most {LIKE_RUN_MAX} characters between a % and the next % "
            "(or its end): PostgreSQL compares that run at every position of the value, without checking "
            "for cancellation; split it, or search a long text with ~ (a regular expression)"
        )


def like_run(pattern: str) -> int:
    """The longest run of characters (an escaped one, and _, count one each) after a % in a LIKE pattern,
    up to the next % or the end: MatchText (like_match.c) tries it at every position of the value."""
    longest = run = 0
    after_wildcard = escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
            continue
        elif char == "%":
            after_wildcard, run = True, 0
            continue
        if after_wildcard:
            run += 1
            longest = max(longest, run)
    return longest


# A regular expression is compiled into an automaton that PostgreSQL keeps (up to 32 of them per session):
# each {m,n} copies what it repeats n times, so nested repetitions multiply. 40 patterns of
# ((\w|\d|\s|[[:punct:]]){1,100}){1,100} (40 characters, 40,000 copies) held 390 MB, and one compile
# peaked at 180 MB before PostgreSQL called it too complex. A pattern is a literal of at most this size,
# counting each character, class or escape once per copy its repetitions make.
REGEX_SIZE_MAX = 1000


def check_regex_pattern(pattern: str | None, *, similar: bool = False) -> None:
    """A regular expression (``~``, ``SIMILAR TO``, ``substring(x FROM pattern)``, ``regexp_*``): a literal
    whose compiled size stays small (:data:`REGEX_SIZE_MAX`)."""
    kind = "SIMILAR TO pattern" if similar else "regular expression"
    if pattern is None:
        raise UnsafeSQL(
            f"a {kind} must be a literal (PostgreSQL compiles and keeps each distinct pattern, and a pattern "
            "built from data can be any size)"
        )
    size = regex_size(pattern)
    if size > REGEX_SIZE_MAX:
        raise UnsafeSQL(
            f"the {kind} {pattern[:40]!r}... compiles to about {size} copies of its parts (each {{m,n}} "
            f"repeats what it follows n times, nested ones multiply); the limit is {REGEX_SIZE_MAX}"
        )


def regex_size(pattern: str) -> int:
    """How many characters, classes and escapes the compiled pattern holds, counting repetitions: an upper
    bound on the automaton PostgreSQL builds, within a small factor."""
    if pattern.startswith("***="):
        return len(pattern)  # the rest is a literal string
    text = pattern.removeprefix("***:")
    # frames: [alternatives so far, the current alternative, the last atom]
    frames: list[list[int]] = [[0, 0, 0]]
    index = 0
    while index < len(text):
        char = text[index]
        frame = frames[-1]
        atom = 0
        if char == "\\":
            index += 2
            atom = 1
        elif char == "[":
            index = _bracket_end(text, index)
            atom = 1
        elif char == "(":
            frames.append([0, 0, 0])
            index += 1
            if text.startswith("?", index):  # (?:...), (?=...), (?<=...), or embedded options (?i)
                index += 1
            continue
        elif char == ")":
            if len(frames) > 1:
                inner = frames.pop()
                atom = inner[0] + inner[1]
            index += 1
        elif char == "|":
            frame[0], frame[1], frame[2] = frame[0] + frame[1], 0, 0
            index += 1
            continue
        elif char == "{":
            end = text.find("}", index)
            bounds = text[index + 1 : end] if end > 0 else ""
            low, comma, high = bounds.partition(",")
            if end > 0 and low.strip().isdigit() and (high.strip().isdigit() or not high.strip()):
                # {m}: m copies; {m,n}: n; {m,}: m and a loop
                count = int(high) if high.strip() else int(low) + (1 if comma else 0)
                frames[-1] = [frame[0], frame[1] + frame[2] * (max(count, 1) - 1), frame[2] * max(count, 1)]
                index = end + 1
                continue
            index += 1
            atom = 1
        else:
            index += 1
            atom = 0 if char in "*+?^$" else 1
        frame = frames[-1]
        frame[1] += atom
        if atom:
            frame[2] = atom
    while len(frames) > 1:  # an unclosed group: PostgreSQL refuses the pattern; count it anyway
        inner = frames.pop()
        frames[-1][1] += inner[0] + inner[1]
    return frames[0][0] + frames[0][1]


def _bracket_end(text: str, start: int) -> int:
    """The index after the bracket expression that opens at ``start`` ([abc], []a], [^]a], [[:alpha:]])."""
    index = start + 1
    if text.startswith("^", index):
        index += 1
    if text.startswith("]", index):
        index += 1
    while index < len(text):
        if text[index] == "[" and index + 1 < len(text) and text[index + 1] in ":.=":
            close = text.find(text[index + 1] + "]", index + 2)
            index = close + 2 if close > 0 else len(text)
        elif text[index] == "]":
            return index + 1
        else:
            index += 1
    return index


def check_type_name_argument(name: str | None) -> None:
    """to_regtype('name'): a literal type name without a modifier (a modifier runs the type's typmod_in)."""
    if name is None or "(" in name:
        raise UnsafeSQL("to_regtype() takes a literal type name without a modifier, e.g. to_regtype('uuid')")


# A time zone named by a string goes to pg_tzset(), which parses it (a POSIX spec such as 'ABC+1:02:03' is
# any of millions) and keeps the result, about 23 KB, in a hash table for the rest of the session: nothing
# frees it (pgtz.c). 30,000 zones built from generate_series held 712 MB in 1.7 s. So a zone must be a
# literal: AT TIME ZONE / timezone(), make_timestamptz()'s and date_trunc()'s zone argument.
ZONE_FUNCTIONS: dict[str, int] = {"timezone": 0, "make_timestamptz": 6, "date_trunc": 2}


def check_time_zone_argument(zone: str | None, function: str) -> None:
    """The zone of AT TIME ZONE, timezone(), make_timestamptz() or date_trunc(): a literal."""
    if zone is None:
        shown = "AT TIME ZONE" if function == "timezone" else f"{function}()"
        raise UnsafeSQL(
            f"the time zone of {shown} must be a literal, e.g. AT TIME ZONE 'Europe/Paris' (PostgreSQL keeps "
            "every distinct zone a session names, about 23 KB each, until the session ends)"
        )


def refuse_zone_text_input(type_name: str) -> None:
    """Text made into a date or time value from anything but a literal: its input function looks up any zone
    the text names (date_in, timestamp_in and time_in too, not only timestamptz), and keeps each."""
    raise UnsafeSQL(
        f"text made into {type_name} must be a literal: a date or time parsed from a computed or stored "
        "string names a time zone PostgreSQL keeps for the session (about 23 KB each); parse it with "
        "to_timestamp(x, 'YYYY-MM-DD HH24:MI:SS') or to_date(x, 'YYYY-MM-DD') and a literal format"
    )


# to_char, to_date, to_timestamp and to_number parse their format into an array of format nodes and size
# their result buffer by it (formatting.c): a 5 MB stored format held 118 MB. A format is a literal.
FORMAT_FUNCTIONS: frozenset[str] = frozenset({"to_char", "to_date", "to_timestamp", "to_number"})


def check_format_argument(template: str | None, function: str) -> None:
    """The format of to_char, to_date, to_timestamp and to_number: a literal."""
    if template is None:
        raise UnsafeSQL(
            f"{function}() takes a literal format, e.g. {function}(x, 'YYYY-MM-DD'): PostgreSQL builds about "
            "24 bytes of parsed format and 12 bytes of result buffer per character of it"
        )


# A failed name lookup leaves a negative entry in the session's catalog cache (catcache.c) for good:
# to_regclass('x' || a || '_' || b) over a cross join held 45 MB a second. A name to look up is a literal.
NAME_LOOKUPS: frozenset[str] = frozenset({"to_regclass", "to_regtype", "to_regproc"})


def check_lookup_name_argument(name: str | None, function: str) -> None:
    """to_regclass, to_regtype and to_regproc: a literal name (to_regtype's without a modifier)."""
    if name is None:
        raise UnsafeSQL(
            f"{function}() takes a literal name, e.g. {function}('public.orders'): each name that is not "
            "found stays in the session's catalog cache, so names built per row fill it"
        )
    if function == "to_regtype":
        check_type_name_argument(name)


def refuse_name_text_input(type_name: str) -> None:
    """Text made into an object name (regclass, regtype...) from anything but a literal."""
    raise UnsafeSQL(
        f"text made into {type_name} must be a literal, e.g. 'public.orders'::regclass: each name that is "
        "not found stays in the session's catalog cache, so names built per row fill it"
    )


# has_table_privilege(table, column, privilege) and the like look their table, column, schema, database or
# role up by name; has_column_privilege(oid, name, ...) returns NULL for a table OID that does not exist,
# and every distinct column name it was asked for stays as a negative catalog cache entry (285 MB in 5 s
# over 'c' || a || '_' || b). A name they take is a literal (the privilege, their last argument, may be
# anything: it is parsed, not looked up).
PRIVILEGE_LOOKUPS: frozenset[str] = frozenset(
    {"has_table_privilege", "has_column_privilege", "has_schema_privilege", "has_database_privilege",
     "pg_get_serial_sequence"}
)  # fmt: skip


def check_privilege_name_argument(name: str | None, function: str) -> None:
    """A name that has_*_privilege() or pg_get_serial_sequence() looks up: a literal."""
    if name is None:
        raise UnsafeSQL(
            f"{function}() takes its names as literals, e.g. has_column_privilege('public.orders', 'total', "
            "'SELECT') (or a table's OID and a column's number): each name that is not found stays in the "
            "session's catalog cache, so names built per row fill it"
        )
