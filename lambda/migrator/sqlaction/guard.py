"""The parser layer of the ``sql`` action: what the text may say, before anything reaches the server.

``plan_sql`` (and ``check_sql``) parse the text with pglast (PostgreSQL's own parser, libpg_query) and accept
exactly one statement of this grammar, or raise ``UnsafeSQL`` naming what was refused and why:

    statement := select | EXPLAIN [ANALYZE] [(option, ...)] select | SHOW <built-in setting>
    select    := SELECT ... | VALUES ... | TABLE name | select UNION/INTERSECT/EXCEPT select
                 | WITH [RECURSIVE] name AS (select) [, ...] select

with, anywhere in the tree (subqueries, CTEs, LATERAL, FROM-functions, casts, ORDER BY, window clauses...):

* no ``SELECT ... INTO``, no locking clause, no data-modifying CTE, no ``$n`` (except under
  ``EXPLAIN (GENERIC_PLAN)``), and only the parse-tree node types in ``_ALLOWED_NODES``;
* every function call allow-listed in ``policy`` (compared exactly: PostgreSQL resolves a quoted name
  case-sensitively), unqualified or as ``pg_catalog.<name>``; refused ones (quadratic, padding, row-to-value
  aggregates, definition readers) say why;
* attribute notation: ``x.f`` and ``(x).f`` call ``f(x)`` when x has no column f, for scalar values too, so
  a field named like a function that must not run is refused;
* operators (in expressions, ``op ANY/ALL (subquery)`` and ``ORDER BY ... USING``) and type names
  unqualified or in ``pg_catalog`` only; LIKE with a short literal pattern; ``generate_series`` with literal
  integer bounds; ``current_setting`` and ``SHOW`` with a built-in setting's name; no denied relation or
  column;
* the size rule (``_Sizer``): no value may hold more than ``MAX_COPIES`` copies of the largest input.

This layer reads names, so it cannot tell ``lower(varchar)`` in ``public`` from ``pg_catalog.lower``, nor a
column from a function of the same name. The server-side check (``resolver``) reads what the names resolve
to, and the reader role limits what any of it may touch: see ``readonly`` for the layers.

sqlparse only tokenises and is not used here: it cannot tell a nested comment or a dollar quote from code.
pglast 8 parses PostgreSQL 17's grammar, newer than the server's (15 locally): a statement pglast accepts
that the server parses differently is analysed again by the server itself in ``resolver``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, SetOperation, SubLinkType
from pglast.parser import ParseError, scan

from migrator.errors import UnsafeSQL
from migrator.sqlaction import bounds, policy

__all__ = [
    "ALLOWED_FUNCTIONS",
    "DEFAULT_MAX_LENGTH",
    "DENIED_RELATIONS",
    "CheckedSQL",
    "check_sql",
    "plan_sql",
]

DEFAULT_MAX_LENGTH = 10_000

ALLOWED_WHAT = "only one read-only SELECT, VALUES, TABLE, WITH ... SELECT, EXPLAIN or SHOW"

ALLOWED_FUNCTIONS = policy.ALLOWED_FUNCTIONS
DENIED_RELATIONS: frozenset[str] = frozenset(policy.DENIED_RELATIONS)

_ALLOWED_EXPLAIN_OPTIONS = frozenset(
    {"analyze", "verbose", "costs", "settings", "generic_plan", "buffers", "wal", "timing", "summary",
     "memory", "serialize", "format"}
)  # fmt: skip

# Every node type a read-only query may contain. FuncCall, RangeVar, A_Expr and friends get extra checks
# below; the statement-level nodes (SelectStmt, ExplainStmt, VariableShowStmt) are checked where they appear.
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
    ast.ParamRef: "parameter placeholders ($1) have no value here; write the value in the query "
    "(EXPLAIN (GENERIC_PLAN) accepts them)",
    ast.SetToDefault: "DEFAULT is not an expression of a read-only query",
    ast.RangeTableSample: "TABLESAMPLE is not allowed",
    ast.RangeTableFunc: "XMLTABLE is not allowed",
    ast.XmlExpr: "XML functions are not allowed",
    ast.XmlSerialize: "XML functions are not allowed",
    ast.CurrentOfExpr: "WHERE CURRENT OF is not allowed",
}

_DATA_MODIFYING = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)

# Attribute notation: `x.f` and `(x).f` call f(x) when x has no column f, for scalar values too. The guard
# cannot see which it is, so a field named like a function that must not run is refused. (The server-side
# check sees the real call whatever its name.)
_DANGEROUS_NAMES: frozenset[str] = frozenset(
    {
        "pg_terminate_backend", "pg_cancel_backend", "pg_sleep", "pg_sleep_for", "pg_sleep_until",
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
        "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_file_write", "lo_get", "lo_import",
        "lo_export", "lo_open", "lo_create", "lo_creat", "lo_unlink", "lo_from_bytea", "lo_put",
        "loread", "lowrite", "pg_advisory_lock", "pg_try_advisory_lock", "pg_advisory_xact_lock",
        "pg_try_advisory_xact_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock_shared",
        "pg_advisory_xact_lock_shared", "pg_try_advisory_xact_lock_shared", "pg_advisory_unlock",
        "pg_advisory_unlock_all", "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u",
        "dblink_send_query", "ts_stat", "ts_rewrite", "query_to_xml", "query_to_xmlschema",
        "query_to_xml_and_xmlschema", "cursor_to_xml", "table_to_xml", "schema_to_xml",
        "database_to_xml", "set_config", "nextval", "setval", "pg_notify", "pg_reload_conf",
        "pg_rotate_logfile", "pg_switch_wal", "pg_create_restore_point", "pg_logical_emit_message",
        "pg_current_xact_id", "txid_current", "pg_export_snapshot", "pg_log_backend_memory_contexts",
        "pg_promote", "pg_stat_reset", "pg_stat_reset_shared", "pg_stat_reset_single_table_counters",
        "pg_import_system_collations", "pg_replication_origin_create", "pg_create_logical_replication_slot",
        "pg_create_physical_replication_slot", "pg_drop_replication_slot", "xpath", "xpath_exists",
    }
) | frozenset(policy.REFUSED_FUNCTIONS)  # fmt: skip

# Denied columns with names distinctive enough to refuse wherever they appear. The generic ones
# (pg_views.definition, pg_stat_activity.query) are refused when their relation is read (see _Scan).
_DISTINCT_DENIED_COLUMNS = frozenset(
    {
        "prosrc", "probin", "prosqlbody", "proconfig", "rolconfig", "useconfig", "ev_action", "ev_qual",
        "polqual", "polwithcheck", "subconninfo", "srvoptions", "ftoptions", "fdwoptions", "umoptions",
        "routine_definition", "view_definition", "proargdefaults", "typdefaultbin", "adbin", "conbin",
        "indexprs", "indpred", "tgargs", "tgqual", "partexprs", "stxexprs", "histogram_bounds",
        "most_common_vals", "most_common_elems", "indexdef", "relpartbound", "rowfilter", "prqual",
        "domain_default", "column_default", "generation_expression", "attribute_default", "attmissingval",
        "attfdwoptions", "agginitval", "aggminitval", "extcondition", "parameter_default", "stavalues1",
        "stavalues2", "stavalues3", "stavalues4", "stavalues5", "typdefault",
    }
)  # fmt: skip

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

_LIKE_OPERATORS = frozenset({"~~", "~~*", "!~~", "!~~*"})
_REGEX_OPERATORS = frozenset({"~", "~*", "!~", "!~*"})
_REGEX_FUNCTIONS = frozenset({"regexp_match", "regexp_matches", "regexp_split_to_array", "regexp_like"})
# substring(x, n) is a plain substring when n is a number: these say so without knowing a column's type
_INTEGER_TYPES = frozenset({"int", "int2", "int4", "int8", "integer", "smallint", "bigint"})
_NUMERIC_BUILDERS = frozenset(
    {"length", "char_length", "character_length", "octet_length", "array_length", "cardinality",
     "array_position", "abs", "round", "ceil", "floor", "trunc"}
)  # fmt: skip
_LENGTH_TYPES = frozenset({"bpchar", "char", "character", "varchar", "bit", "varbit"})

# Casts may name only built-in types. A literal is converted to its type while PostgreSQL analyses the
# query (before the server-side check can look): '{7}'::some_domain[] runs the domain's CHECK right there.
# So this allow-list is the one layer that stops a planted type's code at that point. Compare an enum or a
# domain column with a plain literal ('paid'), which takes the column's type without naming it.
_BUILTIN_TYPES = frozenset(
    {
        "bit", "bool", "boolean", "box", "bpchar", "bytea", "char", "character", "cidr", "circle", "date",
        "datemultirange", "daterange", "decimal", "float4", "float8", "inet", "int", "int2", "int4",
        "int4multirange", "int4range", "int8", "int8multirange", "int8range", "integer", "interval", "json",
        "jsonb", "jsonpath", "line", "lseg", "macaddr", "macaddr8", "money", "name", "numeric",
        "nummultirange", "numrange", "oid", "path", "pg_lsn", "point", "polygon", "regclass",
        "regcollation", "regconfig", "regdictionary", "regnamespace", "regoper", "regoperator", "regproc",
        "regprocedure", "regrole", "regtype", "smallint", "bigint", "real", "text", "tid", "time",
        "timestamp", "timestamptz", "timetz", "tsmultirange", "tsquery", "tsrange", "tstzmultirange",
        "tstzrange", "tsvector", "uuid", "varbit", "varchar", "xid", "xid8",
    }
)  # fmt: skip

# Attribute notation: field names that look like functions of these families are refused by the guard
# (the server-side check sees every call by OID, whatever its name).
_DANGEROUS_PREFIXES = (
    "pg_", "lo_", "dblink", "ts_", "query_to_", "table_to_", "cursor_to_", "schema_to_", "database_to_",
    "xpath", "set_config", "current_setting", "nextval", "currval", "setval", "lastval", "txid_",
)  # fmt: skip

_MAX_NUMERIC_DIGITS = policy.MAX_NUMERIC_DIGITS
_COMPARISONS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">=", "~", "~*", "!~", "!~*", "~~", "~~*", "!~~",
                          "!~~*", "@@", "&&", "@>", "<@", "?", "?|", "?&", "<<", ">>", "-|-"})  # fmt: skip
_MAX_DEPTH = 100


@dataclass(frozen=True)
class CheckedSQL:
    """A statement the guard accepted.

    ``statement`` is what to execute; ``query`` is the SELECT inside it, for the server-side check (with
    any ``$n`` of a generic plan replaced by NULL); ``kind`` is "select", "explain" or "show".
    """

    kind: str
    statement: str
    query: str
    params: int = 0  # how many $n a generic plan has
    param_query: str = ""  # the SELECT with its $n, to learn their types


def check_sql(sql: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Return the single read-only statement in ``sql`` (without its trailing semicolon), or raise UnsafeSQL.

    The returned text is exactly what the parser saw as the statement.
    """
    raw, text = _parse_one(sql, max_length)
    _check_statement(raw.stmt)
    return text


def plan_sql(sql: str, *, max_length: int = DEFAULT_MAX_LENGTH, check: bool = True) -> CheckedSQL:
    """Check ``sql`` (unless ``check`` is false: tests switch the guard off) and say how to run it."""
    if not check:
        try:
            raw, text = _parse_one(sql, max_length)
        except UnsafeSQL:
            # No guard: the text goes to the server as it is (the one-statement rule still applies there).
            return CheckedSQL("select", sql, sql)
    else:
        raw, text = _parse_one(sql, max_length)
    stmt = raw.stmt
    if check:
        _check_statement(stmt)
    if isinstance(stmt, ast.VariableShowStmt):
        # SHOW becomes current_setting(): one code path, and the server-side check sees the setting's name.
        name = stmt.name
        if check and (name == "all" or policy.setting_refusal(name)):
            raise UnsafeSQL(
                "SHOW ALL lists custom settings, which may hold secrets; SHOW one built-in setting"
                if name == "all"
                else policy.setting_refusal(name)
            )
        literal = "'" + name.replace("'", "''") + "'"
        select = f"SELECT pg_catalog.current_setting({literal}) AS {_quote_identifier(name)}"
        return CheckedSQL("show", select, select)
    if isinstance(stmt, ast.ExplainStmt):
        inner = _explained_query(text)
        params = max((int(t.value[1:]) for t in _param_tokens(inner)), default=0)
        return CheckedSQL("explain", text, params_to_null(inner), params, inner)
    return CheckedSQL("select", text, text)


def _parse_one(sql: str, max_length: int) -> tuple[ast.RawStmt, str]:
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
    start = raw.stmt_location or 0
    text = sql[start : start + raw.stmt_len] if raw.stmt_len else sql[start:]
    return raw, text.strip()


def _explained_query(text: str) -> str:
    """The query part of an EXPLAIN statement's text: after EXPLAIN and its options."""
    tokens = list(scan(text))
    index = 1
    # EXPLAIN (VERBOSE) SELECT ... has options in parentheses; EXPLAIN (SELECT 1) UNION ... does not.
    opens_options = (
        index + 1 < len(tokens)
        and text[tokens[index].start] == "("
        and tokens[index + 1].name not in ("SELECT", "VALUES", "WITH", "TABLE", "ASCII_40")
    )
    if opens_options:
        depth = 0
        for index in range(1, len(tokens)):
            char = text[tokens[index].start : tokens[index].end + 1]
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                break
        index += 1
    while index < len(tokens) and tokens[index].name in ("ANALYZE", "ANALYSE", "VERBOSE"):
        index += 1
    if index >= len(tokens):
        raise UnsafeSQL("EXPLAIN needs a query to explain")
    return text[tokens[index].start :]


class _Param(NamedTuple):
    start: int
    end: int
    value: str


def _param_tokens(query: str) -> list[_Param]:
    return [
        _Param(token.start, token.end, query[token.start : token.end + 1])
        for token in scan(query)
        if token.name == "PARAM"
    ]


def params_to_null(query: str, types: list[str] | None = None) -> str:
    """For the server-side check of a generic plan: $n becomes NULL (a view cannot hold parameters), cast to
    the type the server gives $n when it is known, so that functions resolve as they will when it runs."""
    pieces, last = [], 0
    for token in _param_tokens(query):
        index = int(token.value[1:]) - 1
        typed = f"NULL::{types[index]}" if types and index < len(types) else "NULL"
        pieces += [query[last : token.start], f"({typed})"]
        last = token.end + 1
    return "".join(pieces) + query[last:]


def _check_statement(stmt: ast.Node) -> None:
    if isinstance(stmt, ast.VariableShowStmt):
        if stmt.name == "all":
            raise UnsafeSQL(
                "SHOW ALL lists custom settings, which may hold secrets; SHOW one built-in setting"
            )
        refusal = policy.setting_refusal(stmt.name)
        if refusal:
            raise UnsafeSQL(refusal)
        return
    if isinstance(stmt, ast.ExplainStmt):
        options = {option.defname.lower() for option in stmt.options or ()}
        for name in sorted(options - _ALLOWED_EXPLAIN_OPTIONS):
            allowed = ", ".join(sorted(_ALLOWED_EXPLAIN_OPTIONS))
            raise UnsafeSQL(f"EXPLAIN option {name.upper()} is not allowed; allowed options: {allowed}")
        if not isinstance(stmt.query, ast.SelectStmt):
            raise UnsafeSQL(
                f"EXPLAIN may only explain a read-only SELECT; found EXPLAIN {_command_name(stmt.query)}"
            )
        _check_query(stmt.query, allow_params="generic_plan" in options)
        return
    if isinstance(stmt, ast.SelectStmt):
        _check_query(stmt, allow_params=False)
        return
    raise UnsafeSQL(f"{ALLOWED_WHAT} statement is allowed; found {_command_name(stmt)}")


def _check_query(root: ast.SelectStmt, *, allow_params: bool) -> None:
    scan_result = _Scan(allow_params=allow_params)
    scan_result.walk(root)
    scan_result.check_denied_columns()
    _check_hash_tables(root)
    nodes = _Weigher().select(root, [], 1)[0]
    if nodes > bounds.MAX_PLAN_NODES:
        raise UnsafeSQL(
            f"the plan of this query could hold about {nodes:,} expression nodes (each column of a subquery "
            f"is copied into every place that uses it); the limit is {bounds.MAX_PLAN_NODES:,}: use fewer "
            "levels or fewer references to the same column"
        )
    _Sizer().select(root, [])


class _Scan:
    """Every node under the statement (iteratively: deep nesting must not blow the Python stack)."""

    def __init__(self, *, allow_params: bool) -> None:
        self.allow_params = allow_params
        self.relations: set[str] = set()
        self.aliases: dict[str, str] = {}  # alias -> relation name
        self.column_names: set[str] = set()
        self.stars = False

    def walk(self, root: ast.Node) -> None:
        for node in iter_nodes(root):
            self.check(node)

    def check(self, node: ast.Node) -> None:
        kind = type(node)
        if kind is ast.ParamRef and self.allow_params:
            return
        if kind in _REFUSED_NODES:
            raise UnsafeSQL(f"{_REFUSED_NODES[kind]}; {ALLOWED_WHAT} statement is allowed")
        if isinstance(node, _DATA_MODIFYING):
            raise UnsafeSQL(
                f"{_command_name(node)} inside a query (a data-modifying WITH clause) is not allowed; "
                f"{ALLOWED_WHAT} statement is allowed"
            )
        if kind not in _ALLOWED_NODES:
            raise UnsafeSQL(
                f"{_command_name(node)} is not allowed in a read-only query; "
                f"{ALLOWED_WHAT} statement is allowed"
            )
        if isinstance(node, ast.FuncCall):
            _check_function(node)
        elif isinstance(node, ast.A_Expr):
            _check_operator(node)
        elif isinstance(node, ast.RangeVar):
            _check_relation(node)
            self.relations.add(node.relname)
            self.aliases[node.alias.aliasname if node.alias else node.relname] = node.relname
            if node.alias and node.alias.colnames and node.relname in policy.DENIED_COLUMNS:
                raise UnsafeSQL(
                    f"{node.relname} has columns that are not shown; a column list on its alias would rename "
                    "them: name the columns you need instead"
                )
        elif isinstance(node, ast.A_Const) and isinstance(node.val, ast.Float):
            _check_numeric_literal(node.val.fval)
        elif isinstance(node, ast.ColumnRef):
            self._column(node)
        elif isinstance(node, ast.A_Indirection):
            for field in node.indirection or ():
                if isinstance(field, ast.String):
                    _check_attribute(field.sval)
                elif isinstance(field, ast.A_Star):
                    self.stars = True
        elif isinstance(node, ast.SubLink) and node.subLinkType == SubLinkType.ARRAY_SUBLINK:
            raise UnsafeSQL(
                "ARRAY(subquery) folds any number of rows into one value of unbounded size; "
                "select the rows instead"
            )
        elif isinstance(node, ast.TypeName):
            _check_type(node)
        elif isinstance(node, ast.TypeCast):
            if _is_numeric_text(node):
                _check_numeric_literal(node.arg.val.sval.strip() or "0")
            _check_numeric_cast(node)
            if node.typeName.names[-1].sval in ("regtype", "regtypemod") and "(" in (
                _string_literal(node.arg) or ""
            ):
                raise UnsafeSQL("a type name with a modifier runs the type's typmod_in function")
            _check_parsed_text(node)
        elif isinstance(node, ast.SortBy) and node.useOp:
            _check_operator_name([part.sval for part in node.useOp], "ORDER BY ... USING")
        if isinstance(node, ast.SubLink) and node.operName:
            names = [part.sval for part in node.operName]
            _check_operator_name(names, "op ANY/ALL (subquery)")
            if names[-1] in _LIKE_OPERATORS:
                policy.check_like_pattern(None)  # the patterns come from a subquery
            if names[-1] in _REGEX_OPERATORS:
                policy.check_regex_pattern(None)

    def _column(self, ref: ast.ColumnRef) -> None:
        names = [field.sval for field in ref.fields if isinstance(field, ast.String)]
        if any(isinstance(field, ast.A_Star) for field in ref.fields):
            self.stars = True
        if len(names) >= 2 or (len(names) == 1 and len(ref.fields) == 1):
            self.column_names.add(names[-1])
        if names and len(ref.fields) >= 2 and isinstance(ref.fields[-1], ast.String):
            _check_attribute(names[-1])
        if names and names[-1] in _DISTINCT_DENIED_COLUMNS:
            raise UnsafeSQL(f"column {names[-1]} is not shown: it may hold source code, settings or secrets")

    def check_denied_columns(self) -> None:
        for relation in sorted(self.relations & set(policy.DENIED_COLUMNS)):
            denied = policy.DENIED_COLUMNS[relation]
            hit = sorted(denied & self.column_names)
            if hit:
                raise UnsafeSQL(
                    f"column {relation}.{hit[0]} is not shown: it may hold source code, settings or secrets"
                )
            whole_row = any(
                self.aliases.get(name) == relation for name in self.column_names if name in self.aliases
            )
            if self.stars or whole_row:
                raise UnsafeSQL(
                    f"{relation} has columns that are not shown ({', '.join(sorted(denied))}): name the "
                    "columns you need instead of * or a whole-row reference"
                )


def _check_attribute(name: str) -> None:
    if name in _DANGEROUS_NAMES or name.startswith(_DANGEROUS_PREFIXES):
        raise UnsafeSQL(
            f"'.{name}' is attribute notation for the function call {name}(...), which is not allowed "
            "(x.f and (x).f call f(x) when x has no column f)"
        )


def _check_function(call: ast.FuncCall) -> None:
    parts = [part.sval for part in call.funcname]
    shown = ".".join(_quote_if_needed(part) for part in parts)
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "pg_catalog"):
        raise UnsafeSQL(
            f"function {shown}() is not allowed: only allow-listed built-in functions may be called, "
            "unqualified or as pg_catalog.<name> (see migrator.sqlaction.policy)"
        )
    name = parts[-1]
    if name in policy.REFUSED_FUNCTIONS:
        raise UnsafeSQL(f"function {shown}() is not allowed: it {policy.REFUSED_FUNCTIONS[name]}")
    if name not in policy.ALLOWED_FUNCTIONS:
        raise UnsafeSQL(
            f"function {shown}() is not allowed: only allow-listed read-only functions may be called "
            "(aggregates, window, string, date/time, math, array and JSON functions; "
            "see migrator.sqlaction.policy)"
        )
    args = list(call.args or ())
    if call.func_variadic and name == "concat_ws":
        raise UnsafeSQL(
            "concat_ws(sep, VARIADIC array) repeats the separator once per element; list the values"
        )
    if name in ("btrim", "ltrim", "rtrim") and len(args) == 2:
        characters = _string_literal(args[1])
        if characters is None or len(characters) > bounds.TRIM_SET_MAX:
            raise UnsafeSQL(
                f"TRIM, btrim, ltrim and rtrim take a literal set of at most {bounds.TRIM_SET_MAX} "
                "characters: each character of the value is compared with every character of the set, and "
                "that loop cannot be cancelled"
            )
    if name == "power":
        _check_power(args[0] if args else None, args[1] if len(args) == 2 else None)
    elif name in _REGEX_FUNCTIONS:
        if len(args) < 2 or _string_literal(args[1]) is None:
            raise UnsafeSQL(f"{name}() takes a literal pattern")
        policy.check_regex_pattern(_string_literal(args[1]))
    elif name == "exp":
        _check_exp(args[0] if args else None)
    elif name == "similar_to_escape" and args:
        policy.check_regex_pattern(_string_literal(args[0]), similar=True)
    elif name == "substring" and len(args) >= 2 and not _is_number(args[1]):
        # substring(x FROM pattern) and substring(x SIMILAR pattern ESCAPE e) match a regular expression
        policy.check_regex_pattern(_string_literal(args[1]), similar=len(args) == 3)
    if name == "current_setting":
        policy.check_setting_name(_string_literal(args[0]) if args else None)
    elif name in policy.NAME_LOOKUPS:
        policy.check_lookup_name_argument(_string_literal(args[0]) if args else None, name)
    elif name == "format_type" and not (len(args) == 2 and _is_null_literal(args[1])):
        raise UnsafeSQL(
            "format_type() takes NULL as its modifier, e.g. format_type(atttypid, NULL): a modifier runs "
            "the type's typmod_out function"
        )
    elif name == "generate_series":
        policy.check_series_bounds([_integer_literal(arg) for arg in args])
    if name in policy.PRIVILEGE_LOOKUPS:
        # a name to look up (or an OID: the server-side check reads the types) is a literal or a column
        names = args if name == "pg_get_serial_sequence" else args[:-1]
        for arg in names:
            if _string_literal(arg) is None and _integer_literal(arg) is None and not _is_plain_column(arg):
                policy.check_privilege_name_argument(None, name)
    if name in policy.ZONE_FUNCTIONS and len(args) > policy.ZONE_FUNCTIONS[name]:
        zone = args[policy.ZONE_FUNCTIONS[name]]
        if not (name == "timezone" and _is_interval(zone)):
            policy.check_time_zone_argument(_string_literal(zone), name)
    if name in policy.FORMAT_FUNCTIONS and len(args) == 2:
        policy.check_format_argument(_string_literal(args[1]), name)


def _check_regex_node(pattern: object) -> None:
    """The right side of ~ (or of SIMILAR TO, which PostgreSQL's grammar makes similar_to_escape(pattern))."""
    if isinstance(pattern, ast.FuncCall) and pattern.funcname[-1].sval == "similar_to_escape":
        return  # checked as a function call, with its pattern
    policy.check_regex_pattern(_string_literal(pattern))


def _is_plain_column(node: object) -> bool:
    """A column as it is read (or cast), not something computed from it."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return isinstance(node, ast.ColumnRef)


def _is_interval(node: object) -> bool:
    """Whether ``node`` is visibly an interval (AT TIME ZONE INTERVAL '2 hours', or arithmetic): an offset,
    which names no zone. The server-side check reads the argument's real type."""
    if isinstance(node, ast.TypeCast):
        return node.typeName.names[-1].sval == "interval"
    if isinstance(node, ast.A_Expr):
        names = [part.sval for part in node.name or () if isinstance(part, ast.String)]
        return bool(names) and names[-1] in ("+", "-", "*", "/")
    return False


def _is_number(node: object) -> bool:
    """Whether ``node`` is visibly a number (a literal, arithmetic, a cast to an integer, a length...)."""
    if isinstance(node, ast.A_Const):
        return isinstance(node.val, (ast.Integer, ast.Float))
    if isinstance(node, ast.TypeCast):
        return node.typeName.names[-1].sval in _INTEGER_TYPES
    if isinstance(node, ast.A_Expr):
        names = [part.sval for part in node.name or () if isinstance(part, ast.String)]
        return bool(names) and names[-1] in ("+", "-", "*", "/", "%")
    return isinstance(node, ast.FuncCall) and node.funcname[-1].sval in _NUMERIC_BUILDERS


def _check_operator_name(names: list[str], where: str = "an expression") -> None:
    if len(names) > 1 and names[0] != "pg_catalog":
        raise UnsafeSQL(
            f"operator OPERATOR({'.'.join(names)}) in {where} is not allowed: only built-in operators, "
            "unqualified or as OPERATOR(pg_catalog.<op>), may be used"
        )


def _check_operator(expr: ast.A_Expr) -> None:
    names = [part.sval for part in expr.name or () if isinstance(part, ast.String)]
    _check_operator_name(names)
    if names and names[-1] == "^":
        _check_power(expr.lexpr, expr.rexpr)
    if names and names[-1] in _REGEX_OPERATORS and expr.lexpr is not None:
        right = expr.rexpr
        patterns = right.elements if isinstance(right, ast.A_ArrayExpr) else [right]
        for pattern in patterns or [None]:
            _check_regex_node(pattern)
    if names and names[-1] in _LIKE_OPERATORS:
        right = expr.rexpr
        patterns = right.elements if isinstance(right, ast.A_ArrayExpr) else [right]
        for pattern in patterns or [None]:
            policy.check_like_pattern(_string_literal(pattern))


def _check_relation(relation: ast.RangeVar) -> None:
    builtin_schema = relation.schemaname in (None, "pg_catalog", "information_schema")
    if relation.relname in policy.DENIED_RELATIONS and builtin_schema:
        raise UnsafeSQL(
            f"reading {relation.relname} is not allowed: it holds "
            f"{policy.DENIED_RELATIONS[relation.relname]}; other tables, views and system catalogs "
            "(pg_stat_activity, pg_locks...) may be read"
        )


def _check_type(type_name: ast.TypeName) -> None:
    names = [part.sval for part in type_name.names or ()]
    if len(names) > 1 and names[0] != "pg_catalog":
        raise UnsafeSQL(
            f"type {'.'.join(names)} is not allowed: a cast to a type or domain outside pg_catalog can run "
            "its functions and checks; only built-in types may be named with a schema"
        )
    name = names[-1] if names else ""
    if name not in _BUILTIN_TYPES:
        raise UnsafeSQL(
            f"type {name} is not a built-in type: casting a literal to a user-defined type or domain runs "
            "its code while the query is analysed; compare with a plain literal instead (status = 'paid')"
        )
    if name not in _LENGTH_TYPES:
        return
    for modifier in type_name.typmods or ():
        length = _integer_literal(modifier)
        if length is not None and length > policy.MAX_TYPMOD:
            raise UnsafeSQL(f"a length of {length} is over the limit of {policy.MAX_TYPMOD}")


def _check_numeric_literal(text: str) -> None:
    mantissa, _, exponent = text.lower().partition("e")
    digits = sum(char.isdigit() for char in mantissa)
    if digits > _MAX_NUMERIC_DIGITS or (exponent and abs(int(exponent)) > _MAX_NUMERIC_DIGITS):
        raise UnsafeSQL(
            f"numeric literal {text[:20]}... has more than {_MAX_NUMERIC_DIGITS} digits: arithmetic on such "
            "numbers cannot be cancelled"
        )


def _is_null_literal(node: object) -> bool:
    return isinstance(node, ast.A_Const) and node.isnull


_STRING_BUILDERS = frozenset(
    {"concat", "concat_ws", "overlay", "left", "right", "substr", "substring", "lower", "upper", "btrim",
     "ltrim", "rtrim", "reverse", "chr", "to_char", "md5", "encode", "quote_literal", "quote_ident",
     "quote_nullable", "regexp_match", "regexp_matches", "normalize", "initcap"}
)  # fmt: skip
_JSON_OPERATORS = frozenset({"->", "->>", "#>", "#>>", "||"})
_BIG_EXPONENT = re.compile(r"[eE][+]?0*\d{4,}")


# Types whose text input keeps something for the session: a date or time names a zone (pg_tzset), an object
# name that is not found leaves a negative catalog cache entry. Text built in the query is refused here; the
# server-side check, which sees the argument's type, refuses any that is not a literal.
_ZONE_INPUT_TYPES = frozenset(
    {"date", "time", "timetz", "timestamp", "timestamptz", "daterange", "tsrange", "tstzrange",
     "datemultirange", "tsmultirange", "tstzmultirange"}
)  # fmt: skip
_NAME_INPUT_TYPES = frozenset(
    {"regclass", "regcollation", "regconfig", "regdictionary", "regnamespace", "regoper", "regoperator",
     "regproc", "regprocedure", "regrole", "regtype"}
)  # fmt: skip


def _builds_text(tree: object) -> bool:
    """Whether ``tree`` visibly makes text: a string function, ||, a json field, a cast literal."""
    return any(
        (isinstance(node, ast.FuncCall) and node.funcname[-1].sval in _STRING_BUILDERS)
        or (isinstance(node, ast.A_Expr) and node.name and node.name[-1].sval in _JSON_OPERATORS)
        or (isinstance(node, ast.TypeCast) and _string_literal(node) is not None)
        for node in iter_nodes(tree)
    )


def _check_parsed_text(cast: ast.TypeCast) -> None:
    target = cast.typeName.names[-1].sval
    if target not in _ZONE_INPUT_TYPES and target not in _NAME_INPUT_TYPES:
        return
    if _string_literal(cast.arg) is not None or not _builds_text(cast.arg):
        return
    if target in _ZONE_INPUT_TYPES:
        policy.refuse_zone_text_input(target)
    policy.refuse_name_text_input(target)


def _check_numeric_cast(cast: ast.TypeCast) -> None:
    """'1e60000' is 8 characters and 60,001 digits: a numeric made from text built out of literals (not read
    from a column) is refused, and so is a json literal holding such a number."""
    target = cast.typeName.names[-1].sval
    literal = _string_literal(cast.arg)
    if target in ("json", "jsonb") and literal is not None and _BIG_EXPONENT.search(literal):
        raise UnsafeSQL(f"a json number with an exponent over {_MAX_NUMERIC_DIGITS} is not allowed")
    if target not in ("numeric", "decimal") or isinstance(cast.arg, ast.A_Const):
        return
    nodes = list(iter_nodes(cast.arg))
    if any(isinstance(node, ast.ColumnRef) for node in nodes):
        return  # the data's own size
    if _builds_text(cast.arg):
        raise UnsafeSQL(
            "a numeric computed from text or json literals can have 131,072 digits, and arithmetic on it "
            "cannot be cancelled; write the number itself"
        )


def iter_nodes(root: object) -> Iterator[ast.Node]:
    """Every pglast node under ``root``, iteratively: deep nesting must not blow the Python stack."""
    pending = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, ast.Node):  # anything else is a scalar: a name, a flag, an enum value
            yield item
            pending.extend(getattr(item, name, None) for name in item.__slots__)


def _is_numeric_text(cast: ast.TypeCast) -> bool:
    literal = cast.arg
    is_text = isinstance(literal, ast.A_Const) and isinstance(literal.val, ast.String)
    return is_text and cast.typeName.names[-1].sval in ("numeric", "decimal")


def _check_exponent(node: object) -> None:
    value = _integer_literal(node)
    if value is None or abs(value) > _MAX_NUMERIC_DIGITS:
        raise UnsafeSQL(
            f"the exponent of ^ or power() must be a literal integer of at most {_MAX_NUMERIC_DIGITS} "
            "(a huge numeric power cannot be cancelled)"
        )


_FLOAT_TYPES = frozenset({"float4", "float8", "real", "double precision"})
_MAX_COLUMN_EXPONENT = 8


def _is_float_cast(node: object) -> bool:
    return isinstance(node, ast.TypeCast) and node.typeName.names[-1].sval in _FLOAT_TYPES


def _number_literal(node: object) -> ast.Integer | ast.Float | None:
    """A number written in the query, possibly cast (2::numeric)."""
    while isinstance(node, ast.TypeCast) and not _is_float_cast(node):
        node = node.arg
    literal = node.val if isinstance(node, ast.A_Const) else None
    return literal if isinstance(literal, (ast.Integer, ast.Float)) else None


def _number_text(literal: ast.Integer | ast.Float) -> str:
    return str(literal.ival) if isinstance(literal, ast.Integer) else literal.fval


def _check_power(base: object, exponent: object) -> None:
    """x ^ n of a numeric has about n times the digits of x. A literal base: the result stays within 2,000
    digits (power(<846 digits>, 65) has 55,000, and dividing two such numbers takes a tenth of a second no
    timeout stops); any other base: n at most 8, unless the base is cast to float8."""
    _check_exponent(exponent)
    value = abs(_integer_literal(exponent) or 0)
    if _is_float_cast(base):
        return
    literal = _number_literal(base)
    if literal is not None:
        number = Decimal(_number_text(literal))
        # digits before the point times n, and PostgreSQL keeps at most 1,000 after it
        before = math.floor(abs(number).log10()) + 1 if number else 1
        digits = max(before, 1) * value + min(max(-int(number.as_tuple().exponent), 0) * value, 1000)
        if digits > 2 * _MAX_NUMERIC_DIGITS:
            raise UnsafeSQL(
                f"a power of a {before}-digit number to {value} has about {digits} digits; the limit is "
                f"{2 * _MAX_NUMERIC_DIGITS} (arithmetic on longer numbers cannot be cancelled)"
            )
    elif value > _MAX_COLUMN_EXPONENT:
        raise UnsafeSQL(
            f"a power of a column or an expression takes an exponent of at most {_MAX_COLUMN_EXPONENT} (a "
            "numeric's digits multiply by it); cast the base to float8 for larger ones"
        )


def _check_exp(arg: object) -> None:
    """exp(x) of a numeric has about x / 2.3 digits: a literal of at most 2,300, or a float8 value."""
    if _is_float_cast(arg):
        return
    literal = _number_literal(arg)
    number = float(_number_text(literal)) if literal is not None else None
    if number is None or abs(number) > 2300:
        raise UnsafeSQL(
            "exp() takes a literal of at most 2,300 or a float8 value (exp(x::float8)): exp of a numeric "
            "has about x / 2.3 digits"
        )


def _string_literal(node: object) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    return None


def _capture_groups(pattern: str | None) -> int:
    """An upper bound on a pattern's capture groups: every "(" not escaped nor opening "(?" (one for a
    pattern that is not a literal; the argument rule refuses those)."""
    return len(re.findall(r"(?<!\\)\((?!\?)", pattern)) if pattern is not None else 1


def _integer_literal(node: object) -> int | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
        return node.val.ival
    return None


# ---------------------------------------------------------------------------------------- size rule


class _Source(NamedTuple):
    """How many copies of the largest input one column (widest) and one whole row of a source can hold, and
    the work (see _Sizer) of computing its heaviest column: the planner computes it again wherever it is used.
    A table's work is STORED: each use reads (detoasts) its value again.
    """

    widest: int
    row: int
    work: int = -1


_STORED = -1

_BASE = _Source(1, 1, _STORED)
_GROWTH_FACTOR = {
    policy.Growth.DOUBLE: 2, policy.Growth.QUADRUPLE: 4, policy.Growth.SIXFOLD: 6,
    policy.Growth.EIGHTFOLD: 8,
}  # fmt: skip
# Finding every match of a pattern: a wide-character copy of the subject, and the match locations (see
# _Sizer._match_locations), in bytes per byte of the subject.
_WIDE_COPY = 4
_MATCH_LOCATION = 24
# Case mapping goes through a wide-character copy of the text (four bytes a character) kept with the result.
_WORK_FACTOR = {"lower": 5, "upper": 5, "initcap": 5}
# Text made into an array: text[] of a 5 MB '{a,a,...}' held 136 MB (27 copies).
_ARRAY_INPUT = 32
# In a recursive CTE's step, these make a value bigger on every iteration whatever they are given.
_MULTIPLYING = frozenset({"*", "^"})
_MULTIPLYING_FUNCTIONS = frozenset({"power", "exp"})


class _Sizer:
    """The size rule: no value may hold more than MAX_COPIES copies of the largest input.

    A unit is the larger of the query text and the largest stored row. A literal costs nothing (it is part
    of the query); a column costs what its source can hold (1 for a table); ``a || b`` costs the sum, a
    function its growth class (policy). A derived table's column costs at least 1, so ``s || s`` over
    ``s || s`` over ... doubles at each level and is refused after six: PostgreSQL has no per-query memory
    limit, and such a query can otherwise build gigabytes from a few hundred characters.

    The work rule: PostgreSQL keeps every value a row's expressions make, and every stored value they
    detoast, until the row is done, and checks for cancellation between rows, not between calls. So the
    *sum* over one row of what its calls read and make is bounded too (``MAX_ROW_WORK`` units), counting
    again each use of a subquery's column (the planner copies its expression there). ``a || b || c ...``
    keeps every partial result (a chain of 60 concatenations of a 5 MB value held 9 GB), and 760
    ``initcap(doc)`` in one row held 750 MB for seconds no timeout could stop.
    """

    def __init__(self) -> None:
        self.ctes: list[dict[str, _Source]] = []
        self.work: list[int] = []  # per query level being sized
        self.in_recursion = False  # sizing a recursive CTE's step: a string literal makes its value grow

    def select(self, stmt: ast.SelectStmt, outer: list[dict[str, _Source]], depth: int = 0) -> _Source:
        if depth > _MAX_DEPTH:
            raise UnsafeSQL(f"the query nests more than {_MAX_DEPTH} levels deep")
        if stmt.op != SetOperation.SETOP_NONE:
            left = self.select(stmt.larg, outer, depth + 1)
            right = self.select(stmt.rarg, outer, depth + 1)
            return _Source(
                max(left.widest, right.widest), max(left.row, right.row), max(left.work, right.work, 0)
            )
        self.ctes.append({})
        self.work.append(0)
        try:
            if stmt.withClause:
                self._with(stmt.withClause, outer, depth)
            if stmt.valuesLists:
                rows, works = [], []
                for values in stmt.valuesLists:  # one row at a time
                    self.work[-1] = 0
                    rows.append([self.expr(item, outer, depth) for item in values])
                    works.append(self._level_work())
                return self._bounded(
                    _Source(
                        max(max(r, default=0) for r in rows), max(sum(r) for r in rows), max(works, default=0)
                    )
                )
            frame: dict[str, _Source] = {}
            for item in stmt.fromClause or ():
                self._from(item, frame, outer, depth)
            scope = [*outer, frame]
            clauses = (stmt.whereClause, stmt.havingClause, stmt.groupClause, stmt.sortClause,
                       stmt.distinctClause, stmt.windowClause, stmt.limitCount, stmt.limitOffset)  # fmt: skip
            for clause in clauses:
                self.expr(clause, scope, depth)
            widest = row = heaviest = 0
            for target in stmt.targetList or ():
                value = target.val if isinstance(target, ast.ResTarget) else target
                before = self.work[-1]
                if isinstance(value, ast.ColumnRef) and isinstance(value.fields[-1], ast.A_Star):
                    sources = self._star_sources(value, frame)
                    widest = max([widest, *(s.widest for s in sources)])
                    row += sum(s.row for s in sources)
                    self.work[-1] += sum(s.row if s.work == _STORED else s.work for s in sources)
                else:
                    copies = self.expr(value, scope, depth)
                    widest, row = max(widest, copies), row + copies
                heaviest = max(heaviest, self.work[-1] - before)
            source = self._bounded(_Source(widest, row, heaviest))
            self._level_work()
            return source
        finally:
            self.ctes.pop()
            self.work.pop()

    def _level_work(self) -> int:
        work = self.work[-1]
        if work > policy.MAX_ROW_WORK:
            raise UnsafeSQL(
                f"one row of this query would read and make about {work} copies of its inputs in its calls "
                "(PostgreSQL keeps each until the row is done, and cannot be cancelled in between); the "
                f"limit is {policy.MAX_ROW_WORK}: use fewer calls on the same long value, or fewer levels "
                "that reuse a column"
            )
        return work

    def _add(self, copies: int) -> None:
        if self.work:
            self.work[-1] += copies

    def _bounded(self, source: _Source) -> _Source:
        if source.row > policy.MAX_ROW_COPIES:
            raise UnsafeSQL(
                f"a row of this query can hold {source.row} copies of its inputs; the limit is "
                f"{policy.MAX_ROW_COPIES}: select fewer or smaller columns"
            )
        return source

    def _with(self, clause: ast.WithClause, outer: list[dict[str, _Source]], depth: int) -> None:
        for cte in clause.ctes or ():
            query = cte.ctequery
            if clause.recursive and query.op != SetOperation.SETOP_NONE:
                base = self.select(query.larg, outer, depth + 1)
                self.ctes[-1][cte.ctename] = _Source(max(base.widest, 1), max(base.row, 1))
                _refuse_multiplying(cte.ctename, query.rarg)
                self.in_recursion, was = True, self.in_recursion
                try:
                    step = self.select(query.rarg, outer, depth + 1)
                finally:
                    self.in_recursion = was
                if step.widest > max(base.widest, 1) or step.row > max(base.row, 1):
                    raise UnsafeSQL(
                        f"the recursive query {cte.ctename} makes its values bigger on each iteration "
                        "(e.g. s || s); that has no bound"
                    )
                self.ctes[-1][cte.ctename] = _Source(max(base.widest, step.widest), max(base.row, step.row))
            else:
                self.ctes[-1][cte.ctename] = self.select(query, outer, depth + 1)

    def _from(self, item: ast.Node, frame: dict[str, _Source], outer: list, depth: int) -> None:
        if isinstance(item, ast.RangeVar):
            source = _BASE
            if item.schemaname is None:
                for level in reversed(self.ctes):
                    if item.relname in level:
                        cte = level[item.relname]
                        source = _Source(max(cte.widest, 1), max(cte.row, 1), cte.work)
                        break
            frame[item.alias.aliasname if item.alias else item.relname] = source
        elif isinstance(item, ast.RangeSubselect):
            scope = [*outer, frame] if item.lateral else outer
            inner = self.select(item.subquery, scope, depth + 1)
            frame[item.alias.aliasname if item.alias else "?"] = _Source(
                max(inner.widest, 1), max(inner.row, 1), inner.work
            )
        elif isinstance(item, ast.RangeFunction):
            copies = 0
            for entry in item.functions or ():
                function = entry[0] if isinstance(entry, (list, tuple)) else entry
                copies = max(copies, self.expr(function, [*outer, frame], depth))
            name = item.alias.aliasname if item.alias else f"?{len(frame)}"
            frame[name] = _Source(max(copies, 1), max(copies, 1), _STORED)
        elif isinstance(item, ast.JoinExpr):
            self._from(item.larg, frame, outer, depth)
            self._from(item.rarg, frame, outer, depth)
            self.expr(item.quals, [*outer, frame], depth)
        else:
            frame[f"?{len(frame)}"] = _BASE

    @staticmethod
    def _star_sources(ref: ast.ColumnRef, frame: dict[str, _Source]) -> list[_Source]:
        names = [field.sval for field in ref.fields if isinstance(field, ast.String)]
        if names and names[-1] in frame:
            return [frame[names[-1]]]
        return list(frame.values()) or [_BASE]

    def expr(self, node: object, scope: list[dict[str, _Source]], depth: int) -> int:
        copies = self._expr(node, scope, depth + 1)
        if copies > policy.MAX_COPIES:
            raise UnsafeSQL(
                f"a value of this query can hold {copies} copies of its inputs (for example s || s over "
                f"several levels of subqueries); the limit is {policy.MAX_COPIES}"
            )
        return copies

    def _expr(self, node: object, scope: list[dict[str, _Source]], depth: int) -> int:
        if depth > _MAX_DEPTH:
            raise UnsafeSQL(f"the query nests more than {_MAX_DEPTH} levels deep")
        if node is None:
            return 0
        if isinstance(node, (list, tuple)):
            return max((self.expr(item, scope, depth) for item in node), default=0)
        if isinstance(node, ast.A_Const):
            # in a recursive step a string literal is appended again on every iteration
            return 1 if self.in_recursion and isinstance(node.val, ast.String) else 0
        if isinstance(node, (ast.ParamRef, ast.SQLValueFunction, ast.GroupingFunc)):
            return 0
        if isinstance(node, ast.ColumnRef):
            copies, work = self._column(node, scope)
            # a stored value is read (detoasted) again; a subquery's column is computed again
            self._add(copies if work == _STORED else work)
            return copies
        if isinstance(node, ast.SubLink):
            self.expr(node.testexpr, scope, depth)
            inner = self.select(node.subselect, scope, depth)
            copies = inner.widest if node.subLinkType == SubLinkType.EXPR_SUBLINK else 0
            self._add(copies)
            return copies
        made = self._made(node, scope, depth)
        self._add(made * _work_factor(node))
        return made

    def _made(self, node: object, scope: list[dict[str, _Source]], depth: int) -> int:
        """How many copies of the inputs the value ``node`` makes holds (its inputs are accounted for)."""
        if isinstance(node, ast.FuncCall):
            args = [self.expr(arg, scope, depth) for arg in node.args or ()]
            for extra in (node.agg_order, node.agg_filter, node.over):
                self.expr(extra, scope, depth)
            name = node.funcname[-1].sval
            if name == "concat_ws" and args:
                # the separator is repeated between every two values; a literal one is a copy of (part of) the
                # query text each time
                return max(args[0], 1) * max(len(args) - 2, 0) + sum(args[1:])
            if name in ("regexp_match", "regexp_matches", "regexp_split_to_array"):
                pattern = _string_literal(node.args[1]) if len(node.args or ()) > 1 else None
                groups = _capture_groups(pattern) if name != "regexp_split_to_array" else 0
                flags = _string_literal(node.args[2]) if len(node.args or ()) > 2 else ""
                if name != "regexp_match" and (flags is None or "g" in flags or name != "regexp_matches"):
                    self._match_locations(name, args[0] if args else 0, groups)
                if name == "regexp_split_to_array":
                    return _GROWTH_FACTOR[policy.Growth.EIGHTFOLD] * max(args[0] if args else 0, 1)
                # each capture group can hold the whole input
                return (1 + groups) * max(args[0] if args else 0, 1)
            growth = policy.FUNCTION_GROWTH.get(name, policy.Growth.SUM)
            if growth is policy.Growth.CONSTANT:
                return 0
            if growth is policy.Growth.MAX:
                return max(args, default=0)
            if growth is policy.Growth.SUM:
                return sum(args)
            return _GROWTH_FACTOR[growth] * max(sum(args), 1)
        if isinstance(node, ast.A_Expr):
            left = self.expr(node.lexpr, scope, depth)
            right = self.expr(node.rexpr, scope, depth)
            names = [part.sval for part in node.name or () if isinstance(part, ast.String)]
            if names and names[-1] in _LIKE_OPERATORS:
                self._add(max(left, 1) * _like_work(node.rexpr, ilike=names[-1] in ("~~*", "!~~*")))
            if names and names[-1] == "#-":  # jsonb_delete_path rebuilds the document
                self._add(left * policy.JSONB_TREE_COPIES)
            if node.kind != A_Expr_Kind.AEXPR_OP or (names and names[-1] in _COMPARISONS):
                return max(left, right) if node.kind == A_Expr_Kind.AEXPR_NULLIF else 0
            # || concatenates, and so do + on paths and other operators: count the sum
            return left + right
        if isinstance(node, (ast.BoolExpr, ast.NullTest, ast.BooleanTest)):
            self.expr(getattr(node, "args", None) or getattr(node, "arg", None), scope, depth)
            return 0
        if isinstance(node, ast.CaseExpr):  # returns one of its results: no new value
            self.expr(node.arg, scope, depth)
            results = [self.expr(node.defresult, scope, depth)]
            for when in node.args or ():
                self.expr(when.expr, scope, depth)
                results.append(self.expr(when.result, scope, depth))
            self._add(-max(results))
            return max(results)
        if isinstance(node, (ast.CoalesceExpr, ast.MinMaxExpr)):
            result = max((self.expr(arg, scope, depth) for arg in node.args or ()), default=0)
            self._add(-result)
            return result
        if isinstance(node, ast.RowExpr):
            return sum(self.expr(arg, scope, depth) for arg in node.args or ())
        if isinstance(node, ast.A_ArrayExpr):
            return sum(self.expr(item, scope, depth) for item in node.elements or ())
        if isinstance(node, ast.TypeCast):
            # an array or a row cast to text doubles its quotes and backslashes
            return 2 * max(self.expr(node.arg, scope, depth), 1)
        if isinstance(node, (ast.CollateClause, ast.NamedArgExpr)):
            return self.expr(node.arg, scope, depth)
        if isinstance(node, ast.A_Indirection):
            for item in node.indirection or ():
                if isinstance(item, ast.A_Indices):
                    self.expr([item.lidx, item.uidx], scope, depth)
            return self.expr(node.arg, scope, depth)
        if isinstance(node, ast.SortBy):
            return self.expr(node.node, scope, depth)
        if isinstance(node, ast.WindowDef):
            self.expr(
                [node.partitionClause, node.orderClause, node.startOffset, node.endOffset], scope, depth
            )
            return 0
        if isinstance(node, ast.GroupingSet):
            return self.expr(node.content, scope, depth)
        if isinstance(node, ast.ResTarget):
            return self.expr(node.val, scope, depth)
        return 0

    def _match_locations(self, name: str, subject: int, groups: int) -> None:
        """regexp_matches(..., 'g') and regexp_split_to_array find every match before returning the first
        (regexp.c, setup_regexp_matches): a wide-character copy of the subject (4 bytes a character) and an
        array of two ints per match and capture group, which doubles as it grows (and is copied when it does):
        up to 24 bytes per character and group. 10 groups on a 5 MB value held 443 MB."""
        peak = max(subject, 1) * (_WIDE_COPY + _MATCH_LOCATION * max(groups, 1))
        if peak > policy.MAX_COPIES:
            raise UnsafeSQL(
                f"{name}() with {groups} capture groups keeps the location of every match of every group "
                f"before it returns: about {peak} copies of its input; the limit is {policy.MAX_COPIES}. "
                "Use fewer groups (non-capturing (?:...) ones are free), or drop the 'g' flag"
            )
        self._add(peak)

    @staticmethod
    def _column(ref: ast.ColumnRef, scope: list[dict[str, _Source]]) -> tuple[int, int]:
        """(copies the column can hold, work of computing it again where it is used)."""
        names = [field.sval for field in ref.fields if isinstance(field, ast.String)]
        sources = [source for frame in scope for source in frame.values()]
        widest = max((source.widest for source in sources), default=1)
        heaviest = max((source.work for source in sources), default=_STORED)
        if isinstance(ref.fields[-1], ast.A_Star) or len(names) == 1:
            # t.* or a bare name that may be a whole-row reference to source t.
            alias = names[-1] if names else None
            for frame in reversed(scope):
                if alias in frame:
                    return max(frame[alias].row, widest, 1), max(frame[alias].work, heaviest)
            if isinstance(ref.fields[-1], ast.A_Star):
                works = [s.work for s in sources if s.work != _STORED]
                return max(sum(source.row for source in sources), 1), sum(works) if works else _STORED
            return max(widest, 1), heaviest
        for frame in reversed(scope):
            if names[-2] in frame:
                return max(frame[names[-2]].widest, 1), frame[names[-2]].work
        return max(widest, 1), heaviest


# ------------------------------------------------------------------------------- hash tables, plan size

# Volatile functions on the allow-list: IN (subquery) with one on its left is not turned into a join.
_VOLATILE = frozenset({"random", "clock_timestamp", "gen_random_uuid"})


def _conjuncts(clause: object) -> Iterator[object]:
    pending = [clause]
    while pending:
        item = pending.pop()
        if isinstance(item, ast.BoolExpr) and item.boolop == BoolExprType.AND_EXPR:
            pending.extend(item.args or ())
        elif item is not None:
            yield item


def _check_hash_tables(root: ast.SelectStmt) -> None:
    """PostgreSQL 15 never spills the hash table of a recursive UNION, nor that of an uncorrelated
    IN (subquery) it runs as a hashed subplan (NOT IN, or IN anywhere but as a condition of WHERE). The
    text cannot show correlation, so this layer allows IN (subquery) only where PostgreSQL makes it a join."""
    conditions: set[int] = set()
    for node in iter_nodes(root):
        if isinstance(node, ast.SelectStmt):
            conditions.update(id(item) for item in _conjuncts(node.whereClause))
        if isinstance(node, ast.WithClause) and node.recursive:
            for cte in node.ctes or ():
                query = cte.ctequery
                if (
                    isinstance(query, ast.SelectStmt)
                    and query.op == SetOperation.SETOP_UNION
                    and not query.all
                ):
                    raise UnsafeSQL(
                        f"WITH RECURSIVE {cte.ctename} uses UNION: PostgreSQL 15 keeps its rows in an "
                        "in-memory hash table that never spills to disk; use UNION ALL (with a WHERE that "
                        "stops it, or a CYCLE clause)"
                    )
    for node in iter_nodes(root):
        if not (isinstance(node, ast.SubLink) and node.subLinkType == SubLinkType.ANY_SUBLINK):
            continue
        left = list(iter_nodes(node.testexpr))
        is_join = (
            id(node) in conditions
            and any(isinstance(item, ast.ColumnRef) for item in left)
            and not any(
                isinstance(item, ast.FuncCall) and item.funcname[-1].sval in _VOLATILE for item in left
            )
        )
        if not is_join:
            raise UnsafeSQL(
                "NOT IN (subquery), and IN (subquery) anywhere but as a condition of WHERE, make PostgreSQL "
                "15 build an in-memory hash table of the whole subquery that never spills to disk; write "
                "NOT EXISTS (SELECT ... WHERE ...) or EXISTS instead"
            )


class _Weigher:
    """The plan-size rule on the text: how many expression nodes the plan may hold once the planner has
    copied each column of a subquery (or CTE) into every place that uses it. A source is weighed by its
    heaviest column (and all its columns for ``s.*``), so this over-counts; the server-side check counts
    exactly. Also bounds how deeply queries nest."""

    def __init__(self) -> None:
        self.ctes: list[dict[str, tuple[int, int]]] = []

    def select(
        self, stmt: ast.SelectStmt, outer: list[dict[str, tuple[int, int]]], level: int
    ) -> tuple[int, int, int]:
        """(total nodes, heaviest column, all columns) of one SELECT."""
        if level > bounds.MAX_QUERY_DEPTH:
            raise UnsafeSQL(f"the query nests more than {bounds.MAX_QUERY_DEPTH} levels of subqueries")
        if stmt.op != SetOperation.SETOP_NONE:
            left = self.select(stmt.larg, outer, level)
            right = self.select(stmt.rarg, outer, level)
            return left[0] + right[0], left[1] + right[1], left[2] + right[2]
        self.ctes.append({})
        try:
            total = 0
            for cte in (stmt.withClause.ctes or ()) if stmt.withClause else ():
                self.ctes[-1][cte.ctename] = (1, 1)  # a recursive CTE refers to itself
                nodes, heaviest, every = self.select(cte.ctequery, outer, level + 1)
                self.ctes[-1][cte.ctename] = (heaviest, every)
                total += nodes
            frame: dict[str, tuple[int, int]] = {}
            for item in stmt.fromClause or ():
                total += self._from(item, frame, outer, level)
            scope = [*outer, frame]
            for clause in (stmt.whereClause, stmt.havingClause, stmt.groupClause, stmt.sortClause,
                           stmt.distinctClause, stmt.windowClause, stmt.limitCount, stmt.limitOffset,
                           stmt.valuesLists):  # fmt: skip
                total += self.expr(clause, scope, level)
            weights = [self.expr(target, scope, level) for target in stmt.targetList or ()]
            return total + sum(weights), max([1, *weights]), max(1, sum(weights))
        finally:
            self.ctes.pop()

    def _from(self, item: object, frame: dict[str, tuple[int, int]], outer: list, level: int) -> int:
        if isinstance(item, ast.RangeVar):
            weight = (1, 1)
            if item.schemaname is None:
                weight = next(
                    (ctes[item.relname] for ctes in reversed(self.ctes) if item.relname in ctes), weight
                )
            frame[item.alias.aliasname if item.alias else item.relname] = weight
            return 0
        if isinstance(item, ast.RangeSubselect):
            nodes, heaviest, every = self.select(
                item.subquery, [*outer, frame] if item.lateral else outer, level + 1
            )
            frame[item.alias.aliasname if item.alias else f"?{len(frame)}"] = (heaviest, every)
            return nodes
        if isinstance(item, ast.JoinExpr):
            nodes = self._from(item.larg, frame, outer, level) + self._from(item.rarg, frame, outer, level)
            return nodes + self.expr(item.quals, [*outer, frame], level)
        if isinstance(item, ast.RangeFunction):
            frame[item.alias.aliasname if item.alias else f"?{len(frame)}"] = (1, 1)
        return self.expr(item, [*outer, frame], level)

    def expr(self, node: object, scope: list[dict[str, tuple[int, int]]], level: int) -> int:
        total = 0
        pending = [node]
        while pending:
            item = pending.pop()
            if isinstance(item, (list, tuple)):
                pending.extend(item)
            elif isinstance(item, ast.ColumnRef):
                total += self._column(item, scope)
            elif isinstance(item, ast.SubLink):
                total += 1 + self.select(item.subselect, scope, level + 1)[0]
                pending.append(item.testexpr)
            elif isinstance(item, ast.SelectStmt):
                total += self.select(item, scope, level + 1)[0]
            elif isinstance(item, ast.Node):
                total += 1
                pending.extend(getattr(item, name, None) for name in item.__slots__)
        return total

    @staticmethod
    def _column(ref: ast.ColumnRef, scope: list[dict[str, tuple[int, int]]]) -> int:
        names = [field.sval for field in ref.fields if isinstance(field, ast.String)]
        star = isinstance(ref.fields[-1], ast.A_Star)
        source = names[-1] if star and names else names[-2] if len(names) >= 2 else None
        for frame in reversed(scope):
            if source is not None and source in frame:
                return frame[source][1 if star else 0]
            if source is None and frame:
                return max(weight[1 if star else 0] for weight in frame.values())
        return 1


def _like_work(pattern: object, *, ilike: bool) -> int:
    """What LIKE costs in copies of its subject: MatchText compares the run after a % at every position
    (policy.like_run); ILIKE outside the C collation lowers the whole subject first, as lower() does."""
    patterns = pattern.elements if isinstance(pattern, ast.A_ArrayExpr) else [pattern]
    runs = [policy.like_run(_string_literal(item) or "") for item in patterns or ()]
    return sum(max(run, 1) for run in runs) + (_WORK_FACTOR["lower"] * len(runs) if ilike else 0)


# A jsonb tree is built from what these are visibly given (a cast to json or jsonb, a json operator's
# result, a jsonb function's); a column's type is the server-side check's to read.
_JSONB_VALUES = frozenset({"json", "jsonb"})


def _is_document(node: object) -> bool:
    if isinstance(node, ast.TypeCast):
        return node.typeName.names[-1].sval in _JSONB_VALUES or bool(node.typeName.arrayBounds)
    if isinstance(node, ast.A_Expr):
        names = [part.sval for part in node.name or () if isinstance(part, ast.String)]
        return bool(names) and names[-1] in ("->", "#>", "#-")
    return _call_name(node) in policy.JSONB_TREE_FUNCTIONS or _call_name(node) in policy.JSONB_BUILDERS


def _work_factor(node: object) -> int:
    """Copies of its value that computing ``node`` reads and makes on the way (1: the value itself)."""
    if isinstance(node, ast.TypeCast) and _string_literal(node.arg) is None:
        # a cast counts twice its input (see _Sizer._made): text made into jsonb builds a tree first
        if node.typeName.names[-1].sval == "jsonb":
            return policy.JSONB_TREE_COPIES // 2
        if node.typeName.arrayBounds:  # array_in keeps a Datum, a null flag and a copy per element
            return _ARRAY_INPUT // 2
    name = _call_name(node)
    if name in policy.JSONB_TREE_FUNCTIONS:
        return policy.JSONB_TREE_COPIES
    if name in policy.JSONB_BUILDERS and any(_is_document(arg) for arg in node.args or ()):
        return policy.JSONB_TREE_COPIES
    return _WORK_FACTOR.get(name, 1)


def _call_name(node: object) -> str:
    return node.funcname[-1].sval if isinstance(node, ast.FuncCall) else ""


def _refuse_multiplying(name: str, step: object) -> None:
    """A recursive CTE's step may not multiply or exponentiate: a numeric gains digits on every iteration
    (x * 1e999 reaches the format's 131,072 digits in 131 iterations), whatever the literal's size."""
    for node in iter_nodes(step):
        binary = isinstance(node, ast.A_Expr) and node.lexpr is not None
        names = [part.sval for part in node.name or () if isinstance(part, ast.String)] if binary else []
        if (names and names[-1] in _MULTIPLYING) or _call_name(node) in _MULTIPLYING_FUNCTIONS:
            raise UnsafeSQL(
                f"the recursive query {name} multiplies in its recursive step (*, ^, power, exp): a number "
                "can grow by as many digits on every iteration; compute the product outside the recursion"
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


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
