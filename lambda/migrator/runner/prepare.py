"""Compiling and planning recorded statements as a colour's role, many per round trip, for the
compatibility check (:mod:`.compat`): Parse and Describe (what ``PREPARE`` does) and ``EXPLAIN EXECUTE`` of
a generic plan. Each statement runs inside a savepoint that is rolled back, so one failure aborts nothing
else in the check's transaction.

Imports nothing of the kit; must never import :mod:`.compat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import psycopg
from psycopg import pq, sql

__all__ = ["Compiled", "Statement", "compile_as", "error_of", "explain_as"]

_BATCH = 100  # statements per pipeline round trip
_SAVEPOINT = b"SAVEPOINT rk_check"
_UNDO = (b"ROLLBACK TO SAVEPOINT rk_check", b"RELEASE SAVEPOINT rk_check")


@dataclass(frozen=True)
class Compiled:
    """One statement compiled as one role: ok, or the error; what it returns and how many parameters."""

    ok: bool
    error: str | None = None
    sqlstate: str | None = None
    columns: tuple[tuple[str, int], ...] = ()
    nparams: int = 0
    params: tuple[int, ...] = ()  # the parameter types PostgreSQL inferred


class Statement(Protocol):
    """What is compiled: the text, the parameter types to compile it with, and its last compilation."""

    text: str
    params: tuple[int, ...]
    last: Compiled


def _segments(pg: pq.PGconn, count: int) -> list[list[pq.PGresult]]:
    """The results of the next ``count`` pipeline sync points, one list per sync point."""
    segments: list[list[pq.PGresult]] = []
    current: list[pq.PGresult] = []
    while len(segments) < count:
        result = pg.get_result()
        if result is None:
            continue
        if result.status == pq.ExecStatus.PIPELINE_SYNC:
            segments.append(current)
            current = []
        else:
            current.append(result)
    return segments


def error_of(result: pq.PGresult) -> tuple[str, str | None]:
    primary = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"error"
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    return primary.decode(errors="replace"), state.decode() if state else None


def _pipeline(conn: psycopg.Connection, commands: list[list[bytes | tuple]]) -> list[list[pq.PGresult]]:
    """Run ``commands`` (per item: the commands up to a sync point) in pipeline mode, ``_BATCH`` items per
    round trip; each item's statement runs inside a savepoint that is rolled back, so a failure aborts
    nothing else in the check's transaction. Returns each item's results before its sync point."""
    pg = conn.pgconn
    out: list[list[pq.PGresult]] = []
    for start in range(0, len(commands), _BATCH):
        chunk = commands[start : start + _BATCH]
        pg.enter_pipeline_mode()
        try:
            for item in chunk:
                pg.send_query_params(_SAVEPOINT, None)
                for command in item:
                    if isinstance(command, tuple):
                        kind, name, text, types = command
                        if kind == "parse":
                            pg.send_prepare(name, text, param_types=types or None)
                        else:
                            pg.send_describe_prepared(name)
                    else:
                        pg.send_query_params(command, None)
                pg.pipeline_sync()
                for undo in _UNDO:
                    pg.send_query_params(undo, None)
                pg.pipeline_sync()
            while pg.flush():
                pass
            segments = _segments(pg, 2 * len(chunk))
        finally:
            pg.exit_pipeline_mode()
        out += segments[0::2]
    return out


def compile_as(conn: psycopg.Connection, role: str, subjects: list[Statement]) -> list[Compiled]:
    """Parse and Describe each statement as ``role``."""
    commands = [[("parse", b"", s.text.encode(), s.params), ("describe", b"", b"", None)] for s in subjects]
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        segments = _pipeline(conn, commands)  # type: ignore[arg-type]
    finally:
        conn.execute("RESET ROLE")
    compiled: list[Compiled] = []
    for results in segments:
        parsed = results[1] if len(results) > 1 else None  # [savepoint, parse, describe]
        if parsed is None or parsed.status != pq.ExecStatus.COMMAND_OK:
            message, state = error_of(parsed) if parsed is not None else ("no result", None)
            compiled.append(Compiled(False, message, state))
            continue
        described = results[2]
        columns = tuple(
            (described.fname(i).decode(errors="replace"), described.ftype(i))
            for i in range(described.nfields)
        )
        params = tuple(described.param_type(i) for i in range(described.nparams))
        compiled.append(Compiled(True, columns=columns, nparams=described.nparams, params=params))
    return compiled


def explain_as(
    conn: psycopg.Connection, role: str, subjects: list[Statement]
) -> list[tuple[str, str] | None]:
    """``EXPLAIN EXECUTE`` of each statement's generic plan (its parameters NULL; the caller set
    ``plan_cache_mode``) as ``role``: planning infers ``ON CONFLICT`` targets, and the executor's start
    checks table, column and function privileges, which Parse does not. None where it passed, else (error,
    sqlstate)."""
    if not subjects:
        return []
    commands = []
    for number, s in enumerate(subjects):
        name = f"rk_explain_{number}"
        nulls = ", ".join(["NULL"] * s.last.nparams)
        call = f"EXPLAIN (COSTS OFF) EXECUTE {name}" + (f"({nulls})" if nulls else "")
        commands.append([("parse", name.encode(), s.text.encode(), s.params), call.encode()])
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        segments = _pipeline(conn, commands)  # type: ignore[arg-type]
    finally:
        conn.execute("RESET ROLE")
        conn.execute("DEALLOCATE ALL")  # the caller's connection prepares nothing else (compat)
    found: list[tuple[str, str] | None] = []
    for results in segments:
        failed = [r for r in results if r.status == pq.ExecStatus.FATAL_ERROR]
        found.append(error_of(failed[0]) if failed else None)  # type: ignore[arg-type]
    return found
