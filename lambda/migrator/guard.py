"""The read-only SQL guard for the ``sql`` action.

``check_sql`` parses the text with pglast (PostgreSQL's own parser, libpg_query) and accepts exactly one
statement of this grammar, or raises ``UnsafeSQL`` naming what it refused:

    statement := select | EXPLAIN [(option, ...)] select | SHOW <setting> | SHOW ALL
    select    := SELECT ... | VALUES ... | TABLE name | select UNION/INTERSECT/EXCEPT select
                 | WITH [RECURSIVE] name AS (select) [, ...] select

with, anywhere in the tree (subqueries, CTEs, LATERAL, FROM-functions, casts, ORDER BY, window clauses...):

* no ``SELECT ... INTO``, no locking clause (``FOR UPDATE/SHARE/...``), no data-modifying CTE;
* every function call on ``ALLOWED_FUNCTIONS`` (compared exactly, as PostgreSQL resolves a quoted name
  case-sensitively), unqualified or qualified with ``pg_catalog`` only;
* operators unqualified or qualified with ``pg_catalog`` only;
* only the parse-tree node types in ``_ALLOWED_NODES``: anything the guard does not know (XMLTABLE,
  JSON_TABLE, TABLESAMPLE, ``$1`` parameters, ``DEFAULT``...) is refused rather than guessed about;
* EXPLAIN without ``ANALYZE`` (which would execute the statement).

Reading system catalogs and statistics views (``pg_stat_activity``, ``pg_locks``, ``pg_settings``) is allowed:
it is what an operator needs during a migration, the transaction is read-only and the database role's
privileges still decide what is visible. The few catalogs that hold credentials or server configuration files
(``DENIED_RELATIONS``) are refused by name.

The guard checks the statement, not the objects it references: a view or a user-defined operator that calls
a function with side effects runs with its owner's definition. That needs DDL, which this action can never
run, and ``run_readonly`` executes inside ``BEGIN READ ONLY`` as the second line of defence.

Attribute notation (``t.f`` calls ``f(t)`` when ``t`` has no column ``f``) is a function call the parse tree
shows as a column. PostgreSQL accepts it only for a function whose single argument takes the row (record,
"any", a polymorphic type); the built-in ones are all pure (row_to_json, pg_column_size...), which a test
against the real catalog keeps true.

sqlparse only tokenises and is not used here: it cannot tell a nested comment or a dollar quote from code.
"""

from __future__ import annotations

import re

from pglast import ast, parse_sql
from pglast.parser import ParseError

from migrator.errors import UnsafeSQL

__all__ = ["ALLOWED_FUNCTIONS", "DEFAULT_MAX_LENGTH", "DENIED_RELATIONS", "check_sql"]

DEFAULT_MAX_LENGTH = 10_000

ALLOWED_WHAT = "only one read-only SELECT, VALUES, TABLE, WITH ... SELECT, EXPLAIN (without ANALYZE) or SHOW"

# Pure or stable functions without side effects. Several SQL-syntax forms appear in the parse tree as
# pg_catalog calls: EXTRACT -> extract, SUBSTRING(x FROM y) -> substring, TRIM -> btrim/ltrim/rtrim,
# POSITION -> position, OVERLAY -> overlay, AT TIME ZONE -> timezone, SIMILAR TO -> similar_to_escape,
# OVERLAPS -> overlaps, IS NORMALIZED -> is_normalized, COLLATION FOR -> pg_collation_for.
# COALESCE, NULLIF, GREATEST, LEAST, CASE, CURRENT_DATE/CURRENT_TIMESTAMP/CURRENT_USER are their own nodes.
ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    {
        # aggregates
        "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "json_agg", "jsonb_agg",
        "json_object_agg", "jsonb_object_agg", "bool_and", "bool_or", "every", "bit_and", "bit_or",
        "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr",
        "percentile_cont", "percentile_disc", "mode",
        # window functions
        "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
        "first_value", "last_value", "nth_value",
        # strings
        "lower", "upper", "initcap", "length", "char_length", "character_length", "octet_length",
        "substring", "substr", "btrim", "ltrim", "rtrim", "concat", "concat_ws", "replace",
        "left", "right", "split_part", "position", "strpos", "overlay", "reverse", "starts_with",
        "format", "quote_ident", "quote_literal", "quote_nullable", "to_hex", "md5", "encode",
        "decode", "regexp_replace", "regexp_match", "regexp_matches", "regexp_split_to_array",
        "regexp_like", "string_to_array", "array_to_string", "similar_to_escape", "normalize",
        "is_normalized", "pg_collation_for", "translate", "ascii", "chr",
        # date and time
        "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp",
        "date_trunc", "date_part", "date_bin", "extract", "age", "to_char", "to_date", "to_timestamp",
        "to_number", "make_date", "make_time", "make_timestamp", "make_timestamptz", "make_interval",
        "justify_days", "justify_hours", "justify_interval", "isfinite", "timezone", "overlaps",
        # numbers
        "abs", "round", "ceil", "ceiling", "floor", "trunc", "mod", "div", "power", "sqrt", "cbrt",
        "sign", "exp", "ln", "log", "log10", "width_bucket", "random", "gcd", "lcm",
        # arrays and sets
        "array_length", "array_lower", "array_upper", "array_dims", "array_ndims", "cardinality",
        "array_position", "array_positions", "array_remove", "array_replace", "array_append",
        "array_prepend", "array_cat", "unnest", "generate_series", "generate_subscripts",
        # ranges
        "int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange", "lower_inc", "upper_inc",
        "lower_inf", "upper_inf", "isempty", "range_merge",
        # json and jsonb
        "to_json", "to_jsonb", "row_to_json", "array_to_json", "json_build_object", "jsonb_build_object",
        "json_build_array", "jsonb_build_array", "json_object", "jsonb_object", "json_typeof",
        "jsonb_typeof", "json_array_length", "jsonb_array_length", "json_each", "jsonb_each",
        "json_each_text", "jsonb_each_text", "json_object_keys", "jsonb_object_keys",
        "json_array_elements", "jsonb_array_elements", "json_array_elements_text",
        "jsonb_array_elements_text", "json_extract_path", "jsonb_extract_path",
        "json_extract_path_text", "jsonb_extract_path_text", "jsonb_pretty", "jsonb_strip_nulls",
        "json_strip_nulls", "jsonb_set", "jsonb_insert", "jsonb_path_query", "jsonb_path_query_array",
        "jsonb_path_query_first", "jsonb_path_exists", "jsonb_path_match",
        # uuids and misc pure helpers
        "gen_random_uuid", "num_nulls", "num_nonnulls", "pg_typeof", "format_type",
        # read-only inspection of the server and its catalogs
        "version", "current_database", "current_schema", "current_schemas", "current_setting",
        "pg_backend_pid", "pg_postmaster_start_time", "pg_is_in_recovery", "pg_blocking_pids",
        "pg_database_size", "pg_relation_size", "pg_table_size", "pg_indexes_size",
        "pg_total_relation_size", "pg_size_pretty", "pg_get_viewdef", "pg_get_indexdef",
        "pg_get_constraintdef", "pg_get_expr", "pg_get_userbyid", "obj_description",
        "col_description", "has_table_privilege", "has_schema_privilege", "has_database_privilege",
        "has_column_privilege", "pg_table_is_visible",
    }
)  # fmt: skip

# Catalogs that hold password hashes, user-mapping options (FDW passwords) or server configuration files.
DENIED_RELATIONS: frozenset[str] = frozenset(
    {
        "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_file_settings",
        "pg_hba_file_rules", "pg_ident_file_mappings", "pg_largeobject",
    }
)  # fmt: skip

_ALLOWED_EXPLAIN_OPTIONS = frozenset({"verbose", "costs", "settings", "generic_plan", "buffers", "summary",
                                      "memory", "format"})  # fmt: skip

# Every node type a read-only query may contain. FuncCall, RangeVar, A_Expr and CommonTableExpr get
# extra checks below; the statement-level nodes (SelectStmt, ExplainStmt, VariableShowStmt) are checked
# where they may appear.
_ALLOWED_NODES: frozenset[type] = frozenset(
    {
        ast.SelectStmt, ast.ResTarget, ast.ColumnRef, ast.A_Star, ast.A_Const, ast.String, ast.Integer,
        ast.Float, ast.Boolean, ast.BitString, ast.A_Expr, ast.BoolExpr, ast.NullTest, ast.BooleanTest,
        ast.SubLink, ast.CaseExpr, ast.CaseWhen, ast.CoalesceExpr, ast.MinMaxExpr, ast.TypeCast,
        ast.TypeName, ast.FuncCall, ast.NamedArgExpr, ast.RangeVar, ast.RangeSubselect,
        ast.RangeFunction, ast.JoinExpr, ast.Alias, ast.SortBy, ast.WindowDef, ast.WithClause,
        ast.CommonTableExpr, ast.CTESearchClause, ast.CTECycleClause, ast.A_Indirection, ast.A_Indices,
        ast.A_ArrayExpr, ast.RowExpr, ast.CollateClause, ast.GroupingSet, ast.GroupingFunc,
        ast.SQLValueFunction, ast.ColumnDef,
    }
)  # fmt: skip

# Nodes refused with a message that says why, rather than just the node's name.
_REFUSED_NODES: dict[type, str] = {
    ast.IntoClause: "SELECT ... INTO creates a table; use a plain SELECT",
    ast.LockingClause: "locking clauses (FOR UPDATE/NO KEY UPDATE/SHARE/KEY SHARE) take row locks",
    ast.ParamRef: "parameter placeholders ($1) have no value here; write the value in the query",
    ast.SetToDefault: "DEFAULT is not an expression of a read-only query",
    ast.RangeTableSample: "TABLESAMPLE is not allowed",
    ast.RangeTableFunc: "XMLTABLE is not allowed",
    ast.XmlExpr: "XML functions are not allowed",
    ast.XmlSerialize: "XML functions are not allowed",
    ast.CurrentOfExpr: "WHERE CURRENT OF is not allowed",
}

_DATA_MODIFYING = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)

# A readable command name for the statements people most often try; anything else is derived from the
# node name (CreateExtensionStmt -> CREATE EXTENSION).
_COMMAND_NAMES: dict[type, str] = {
    ast.InsertStmt: "INSERT", ast.UpdateStmt: "UPDATE", ast.DeleteStmt: "DELETE", ast.MergeStmt: "MERGE",
    ast.CreateStmt: "CREATE TABLE", ast.CreateTableAsStmt: "CREATE TABLE AS", ast.CopyStmt: "COPY",
    ast.DoStmt: "DO", ast.CallStmt: "CALL", ast.PrepareStmt: "PREPARE", ast.ExecuteStmt: "EXECUTE",
    ast.DeallocateStmt: "DEALLOCATE", ast.LockStmt: "LOCK", ast.NotifyStmt: "NOTIFY",
    ast.ListenStmt: "LISTEN", ast.UnlistenStmt: "UNLISTEN", ast.DiscardStmt: "DISCARD",
    ast.DeclareCursorStmt: "DECLARE CURSOR", ast.FetchStmt: "FETCH/MOVE", ast.ClosePortalStmt: "CLOSE",
    ast.DropStmt: "DROP", ast.TruncateStmt: "TRUNCATE", ast.AlterTableStmt: "ALTER TABLE",
    ast.GrantStmt: "GRANT/REVOKE", ast.GrantRoleStmt: "GRANT/REVOKE role", ast.CreateRoleStmt: "CREATE ROLE",
    ast.AlterRoleStmt: "ALTER ROLE", ast.CreateFunctionStmt: "CREATE FUNCTION", ast.LoadStmt: "LOAD",
    ast.CheckPointStmt: "CHECKPOINT", ast.ReindexStmt: "REINDEX", ast.ClusterStmt: "CLUSTER",
    ast.RefreshMatViewStmt: "REFRESH MATERIALIZED VIEW", ast.ViewStmt: "CREATE VIEW",
    ast.AlterSystemStmt: "ALTER SYSTEM", ast.IndexStmt: "CREATE INDEX",
    ast.SecLabelStmt: "SECURITY LABEL", ast.CommentStmt: "COMMENT ON",
}  # fmt: skip


def check_sql(sql: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Return the single read-only statement in ``sql`` (without its trailing semicolon), or raise UnsafeSQL.

    The returned text is exactly what the parser saw as the statement, so it is what should be executed.
    """
    if not isinstance(sql, str):
        raise UnsafeSQL(f"the SQL must be a string, not {type(sql).__name__}")
    if "\x00" in sql:
        raise UnsafeSQL("the SQL contains a NUL byte; remove it")
    if len(sql) > max_length:
        raise UnsafeSQL(f"the SQL is {len(sql)} characters long; the limit is {max_length}")
    if not sql.strip():
        raise UnsafeSQL(f"the SQL is empty; {ALLOWED_WHAT} statement is allowed")
    try:
        statements = parse_sql(sql)
    except ParseError as exc:
        raise UnsafeSQL(f"the SQL could not be parsed ({exc}); {ALLOWED_WHAT} statement is allowed") from None
    except RecursionError:
        raise UnsafeSQL("the SQL is nested too deeply to check") from None
    if not statements:
        raise UnsafeSQL(
            f"the SQL holds no statement (only comments or semicolons); {ALLOWED_WHAT} is allowed"
        )
    if len(statements) > 1:
        found = ", ".join(_command_name(raw.stmt) for raw in statements)
        raise UnsafeSQL(f"{ALLOWED_WHAT} statement is allowed; found {len(statements)} statements ({found})")

    raw = statements[0]
    _check_statement(raw.stmt)
    start = raw.stmt_location or 0
    text = sql[start : start + raw.stmt_len] if raw.stmt_len else sql[start:]
    return text.strip()


def _check_statement(stmt: ast.Node) -> None:
    if isinstance(stmt, ast.VariableShowStmt):
        return
    if isinstance(stmt, ast.ExplainStmt):
        for option in stmt.options or ():
            name = option.defname.lower()
            if name == "analyze":
                raise UnsafeSQL(
                    "EXPLAIN ANALYZE executes the statement and is not allowed; use EXPLAIN without ANALYZE"
                )
            if name not in _ALLOWED_EXPLAIN_OPTIONS:
                allowed = ", ".join(sorted(_ALLOWED_EXPLAIN_OPTIONS))
                raise UnsafeSQL(f"EXPLAIN option {name.upper()} is not allowed; allowed options: {allowed}")
        if not isinstance(stmt.query, ast.SelectStmt):
            raise UnsafeSQL(
                f"EXPLAIN may only explain a read-only SELECT; found EXPLAIN {_command_name(stmt.query)}"
            )
        _check_tree(stmt.query)
        return
    if isinstance(stmt, ast.SelectStmt):
        _check_tree(stmt)
        return
    raise UnsafeSQL(f"{ALLOWED_WHAT} statement is allowed; found {_command_name(stmt)}")


def _check_tree(root: ast.Node) -> None:
    """Walk every node under ``root`` (iteratively: deep nesting must not blow the Python stack)."""
    pending: list[object] = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, (list, tuple)):
            pending.extend(item)
            continue
        if not isinstance(item, ast.Node):
            continue  # scalars: names, flags, enum values
        _check_node(item)
        pending.extend(getattr(item, name, None) for name in item.__slots__)


def _check_node(node: ast.Node) -> None:
    kind = type(node)
    if kind in _REFUSED_NODES:
        raise UnsafeSQL(f"{_REFUSED_NODES[kind]}; {ALLOWED_WHAT} statement is allowed")
    if isinstance(node, _DATA_MODIFYING):
        raise UnsafeSQL(
            f"{_command_name(node)} inside a query (a data-modifying WITH clause) is not allowed; "
            f"{ALLOWED_WHAT} statement is allowed"
        )
    if kind not in _ALLOWED_NODES:
        raise UnsafeSQL(
            f"{_command_name(node)} is not allowed in a read-only query; {ALLOWED_WHAT} statement is allowed"
        )
    if isinstance(node, ast.FuncCall):
        _check_function(node)
    elif isinstance(node, ast.A_Expr):
        _check_operator(node)
    elif isinstance(node, ast.RangeVar):
        _check_relation(node)


def _check_function(call: ast.FuncCall) -> None:
    parts = [part.sval for part in call.funcname]
    shown = ".".join(_quote_if_needed(part) for part in parts)
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "pg_catalog"):
        raise UnsafeSQL(
            f"function {shown}() is not allowed: only allow-listed built-in functions may be called, "
            "unqualified or as pg_catalog.<name> (see migrator.guard.ALLOWED_FUNCTIONS)"
        )
    if parts[-1] not in ALLOWED_FUNCTIONS:
        raise UnsafeSQL(
            f"function {shown}() is not allowed: only allow-listed read-only functions may be called "
            "(aggregates, window, string, date/time, math, array and JSON functions; "
            "see migrator.guard.ALLOWED_FUNCTIONS)"
        )


def _check_operator(expr: ast.A_Expr) -> None:
    names = [part.sval for part in expr.name or () if isinstance(part, ast.String)]
    if len(names) > 1 and names[0] != "pg_catalog":
        raise UnsafeSQL(
            f"operator OPERATOR({'.'.join(names)}) is not allowed: only built-in operators, unqualified "
            "or as OPERATOR(pg_catalog.<op>), may be used"
        )


def _check_relation(relation: ast.RangeVar) -> None:
    if relation.relname in DENIED_RELATIONS and relation.schemaname in (None, "pg_catalog"):
        raise UnsafeSQL(
            f"reading {relation.relname} is not allowed: it holds credentials or server configuration; "
            "other tables, views and system catalogs (pg_stat_activity, pg_locks, pg_settings...) may be read"
        )


def _command_name(node: ast.Node | None) -> str:
    if node is None:
        return "nothing"
    kind = type(node)
    if kind in _COMMAND_NAMES:
        return _COMMAND_NAMES[kind]
    if isinstance(node, ast.SelectStmt):
        return "SELECT"
    if isinstance(node, ast.ExplainStmt):
        return "EXPLAIN"
    if isinstance(node, ast.VariableShowStmt):
        return "SHOW"
    if isinstance(node, ast.VariableSetStmt):
        return "RESET" if node.kind.name.startswith("VAR_RESET") else "SET"
    if isinstance(node, ast.TransactionStmt):
        return node.kind.name.removeprefix("TRANS_STMT_").replace("_", " ")
    if isinstance(node, ast.VacuumStmt):
        return "VACUUM" if node.is_vacuumcmd else "ANALYZE"
    words = re.findall(r"[A-Z][a-z]*|[a-z]+", kind.__name__.removesuffix("Stmt"))
    return " ".join(words).upper() or kind.__name__


def _quote_if_needed(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'
