"""Migrations imported from another tool, and what that tool's state table says ran.

``make import-migrations FROM=<tool>`` writes each imported up file with ``-- migrator: origin <tool>
<version>``, so ``baseline`` with ``from: <tool>`` can map the tool's own state table onto the manifest and
record exactly the migrations it says ran:

    golang-migrate  schema_migrations(version bigint, dirty boolean): one row, the last version applied;
                    every version up to it ran. A dirty row is a migration that failed half-way: refused.
    dbmate          schema_migrations(version varchar): one row per applied version.
    flyway          flyway_schema_history(installed_rank, version, type, success, ...): successful versioned
                    rows ran; an UNDO row or a DELETE row (``flyway repair``) takes one back; a BASELINE row
                    stands for every version up to its own. Any failed row (success = false) is refused.
    goose           goose_db_version(id, version_id, is_applied, ...): the newest row per version decides;
                    version 0 is goose's own first row.

Versions compare the way each tool compares them: integers for golang-migrate and goose, the exact string
for dbmate, and Flyway's dotted numbers (``1_1`` is ``1.1``; ``1.0`` is ``1``).

How versions compare lives with the manifest (:func:`~migrator.runner.manifest.version_key`), so loading a
manifest of imported migrations never loads this module; it imports psycopg only inside the functions that
read a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migrator.errors import ForeignStateRefused
from migrator.events import FOREIGN_TOOLS
from migrator.runner.manifest import Manifest, Migration, check_origin, version_key

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEFAULT_TABLES", "TOOLS", "ForeignState", "check_origin", "read_state", "version_key"]

TOOLS = FOREIGN_TOOLS
DEFAULT_TABLES = {
    "golang-migrate": "schema_migrations",
    "dbmate": "schema_migrations",
    "flyway": "flyway_schema_history",
    "goose": "goose_db_version",
}
_COLUMNS = {
    "golang-migrate": ("version", "dirty"),
    "dbmate": ("version",),
    "flyway": ("installed_rank", "version", "type", "script", "success"),
    "goose": ("id", "version_id", "is_applied"),
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def parse_table(tool: str, table: str | None) -> tuple[str, ...]:
    """``table`` (or the tool's default) as identifier parts: ``name`` or ``schema.name``."""
    name = table or DEFAULT_TABLES[tool]
    parts = tuple(name.split("."))
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ForeignStateRefused(
            f"table {name[:130]!r} is not a table name: give name or schema.name (letters, digits, _)"
        )
    return parts


@dataclass
class ForeignState:
    """What a tool's table says: the versions that ran (``applied``: keys per :func:`version_key`), Flyway's
    baseline version if any, and a one-line summary for the result."""

    tool: str
    table: str
    says: str
    applied: set[Any] = field(default_factory=set)
    baseline_upto: Any = None
    checksums: dict[Any, int] = field(default_factory=dict)  # Flyway: the checksum each applied row records
    warnings: list[str] = field(default_factory=list)

    def plan(self, manifest: Manifest) -> list[Migration]:
        """The manifest's migrations this table says ran, in manifest order; refused when the table names a
        version that no imported migration has (the import is older than the database)."""
        imported = {
            version_key(*m.origin): m for m in manifest.migrations if m.origin and m.origin[0] == self.tool
        }
        applied = set(self.applied)
        if self.tool == "golang-migrate" and applied:
            current = max(applied)  # golang-migrate keeps one version: every one up to it ran
            missing = [] if current in imported else [current]
            applied = {k for k in imported if k <= current}
            below = sorted(k for k in applied if k != current)
            if below:
                self.warnings.append(
                    f"golang-migrate records only its last version ({_show(current)}); the {len(below)} "
                    f"imported migration(s) below it are taken as run on its word. One merged later with an "
                    f"older version ({', '.join(_show(k) for k in below[-3:])} ...) never ran under "
                    "golang-migrate, and is recorded as run all the same: check by hand that the schema has "
                    "what the recently merged ones create"
                )
        else:
            missing = sorted(k for k in applied if k not in imported)
        if missing:
            shown = ", ".join(_show(k) for k in missing[:10]) + (", ..." if len(missing) > 10 else "")
            raise ForeignStateRefused(
                f"{self.tool}'s table {self.table} records version(s) {shown} that no migration in this "
                "manifest was imported from. Nothing was recorded. Run make import-migrations "
                f"FROM={self.tool} on the newer migration folder first, then baseline again",
                details={"not_imported": [_show(k) for k in missing]},
            )
        self._refuse_changed_checksums(imported)
        upto = self.baseline_upto
        ran = {m.id for key, m in imported.items() if key in applied or (upto is not None and key <= upto)}
        return [m for m in manifest.migrations if m.id in ran]

    def _refuse_changed_checksums(self, imported: dict[Any, Migration]) -> None:
        """Flyway validates each applied file against the checksum it recorded; so does the baseline."""
        changed = [
            (key, m, self.checksums[key])
            for key, m in imported.items()
            if key in self.checksums
            and m.flyway_checksum is not None
            and self.checksums[key] != m.flyway_checksum
        ]
        unchecked = [m for key, m in imported.items() if key in self.checksums and m.flyway_checksum is None]
        if unchecked:
            self.warnings.append(
                f"{len(unchecked)} migration(s) were imported without Flyway's checksum (before the kit kept "
                f"it, e.g. {unchecked[0].label}): not compared with {self.table}; import them again to check"
            )
        if changed:
            shown = "; ".join(
                f"version {_show(key)} ({m.label}): recorded {was}, the file's is {m.flyway_checksum}"
                for key, m, was in changed[:5]
            ) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
            files = (
                "The file changed after Flyway ran it"
                if len(changed) == 1
                else "These files changed after Flyway ran them"
            )
            raise ForeignStateRefused(
                f"Flyway's table {self.table} records another checksum than the imported file's for {shown}. "
                f"{files}, so the database holds the text that ran, not this one "
                "(flyway validate refuses the same). Nothing was recorded. Restore the file as it ran and "
                "import again (REWRITE=1), or, if the change is already in the database, run `flyway repair`",
                details={"checksum_mismatch": [_show(key) for key, _m, _was in changed]},
            )


def _show(key: Any) -> str:
    return ".".join(str(p) for p in key) if isinstance(key, tuple) else str(key)


def read_state(conn: psycopg.Connection, tool: str, table: str | None = None) -> ForeignState:
    """Read ``tool``'s state table (``table``, default the tool's own name; unqualified names resolve on the
    session's search_path, as the tools themselves resolve them). Refuses a missing table, one without the
    tool's columns, a dirty golang-migrate version and a failed Flyway row."""
    from psycopg import sql

    if tool not in TOOLS:
        raise ForeignStateRefused(f"unknown tool {tool!r}; use one of: {', '.join(TOOLS)}")
    parts = parse_table(tool, table)
    shown = ".".join(parts)
    quoted = sql.SQL(".").join(sql.Identifier(p) for p in parts)
    if conn.execute("SELECT to_regclass(%s)", (quoted.as_string(conn),)).fetchone()[0] is None:
        hint = "" if table else " (give its name with TABLE=, e.g. TABLE=myschema.schema_migrations)"
        raise ForeignStateRefused(
            f"there is no table {shown} in this database: is this the database {tool} migrated{hint}? "
            "Nothing was recorded"
        )
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(quoted))
        columns = {d.name for d in cur.description or ()}
    lacking = [c for c in _COLUMNS[tool] if c not in columns]
    if lacking:
        raise ForeignStateRefused(
            f"table {shown} has no column(s) {', '.join(lacking)}: it is not {tool}'s state table. "
            "Nothing was recorded"
        )
    return _READERS[tool](conn, quoted, shown)


def _golang_migrate(conn: psycopg.Connection, quoted: Any, shown: str) -> ForeignState:
    from psycopg import sql

    rows = conn.execute(sql.SQL("SELECT version, dirty FROM {}").format(quoted)).fetchall()
    if len(rows) > 1:
        raise ForeignStateRefused(
            f"golang-migrate's table {shown} holds {len(rows)} rows; golang-migrate keeps exactly one. "
            "Nothing was recorded"
        )
    if not rows:
        return ForeignState("golang-migrate", shown, "no version: nothing ran")
    version, dirty = rows[0]
    if dirty:
        raise ForeignStateRefused(
            f"golang-migrate's table {shown} says version {version} is dirty: that migration failed "
            "half-way and the database may hold part of it. Nothing was recorded. Repair the database by "
            "hand, then mark it clean with golang-migrate's own `migrate force <version>`, and baseline "
            "again",
            details={"dirty_version": str(version)},
        )
    if version < 0:
        return ForeignState("golang-migrate", shown, "no version: nothing ran")
    return ForeignState("golang-migrate", shown, f"version {version}, clean", {version})


def _dbmate(conn: psycopg.Connection, quoted: Any, shown: str) -> ForeignState:
    from psycopg import sql

    versions = [str(r[0]) for r in conn.execute(sql.SQL("SELECT version FROM {}").format(quoted))]
    return ForeignState("dbmate", shown, f"{len(versions)} version(s) applied", set(versions))


def _flyway(conn: psycopg.Connection, quoted: Any, shown: str) -> ForeignState:
    from psycopg import sql

    checksum = sql.SQL("checksum") if _has_column(conn, quoted, "checksum") else sql.SQL("NULL")
    rows = conn.execute(
        sql.SQL("SELECT version, type, script, success, {} FROM {} ORDER BY installed_rank").format(
            checksum, quoted
        )
    ).fetchall()
    failed = [(v, script) for v, _type, script, success, _sum in rows if not success]
    if failed:
        names = ", ".join(f"{v or 'repeatable'} ({script})" for v, script in failed[:5])
        raise ForeignStateRefused(
            f"Flyway's table {shown} records failed migration(s): {names}. The database may hold part of "
            "them. Nothing was recorded. Repair the database, run `flyway repair` (it removes failed rows), "
            "and baseline again",
            details={"failed_versions": [str(v) for v, _ in failed]},
        )
    state = ForeignState("flyway", shown, "")
    for version, kind, _script, _, checksum_value in rows:
        if version is None:
            continue  # repeatable migrations and schema creation: not versions
        key = version_key("flyway", str(version))
        kind = str(kind).upper()
        if kind == "SCHEMA":
            continue
        if "UNDO" in kind or kind == "DELETE":
            state.applied.discard(key)
            state.checksums.pop(key, None)
        elif "BASELINE" in kind:
            state.baseline_upto = key if state.baseline_upto is None else max(key, state.baseline_upto)
        else:
            state.applied.add(key)
            if checksum_value is not None and kind == "SQL":
                state.checksums[key] = int(checksum_value)
    base = f", baseline at {_show(state.baseline_upto)}" if state.baseline_upto is not None else ""
    state.says = f"{len(state.applied)} successful version(s){base}"
    return state


def _has_column(conn: psycopg.Connection, quoted: Any, column: str) -> bool:
    from psycopg import sql

    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(quoted))
        return column in {d.name for d in cur.description or ()}


def _goose(conn: psycopg.Connection, quoted: Any, shown: str) -> ForeignState:
    from psycopg import sql

    latest: dict[int, bool] = {}
    for version, applied in conn.execute(
        sql.SQL("SELECT version_id, is_applied FROM {} ORDER BY id").format(quoted)
    ):
        latest[int(version)] = bool(applied)
    versions = {v for v, applied in latest.items() if applied and v != 0}
    return ForeignState("goose", shown, f"{len(versions)} version(s) applied", versions)


_READERS = {"golang-migrate": _golang_migrate, "dbmate": _dbmate, "flyway": _flyway, "goose": _goose}
