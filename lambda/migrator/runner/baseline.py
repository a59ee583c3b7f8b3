"""``baseline``: adopt an existing database by recording migrations as applied without running them, either
every migration up to a target, or exactly the imported migrations another tool's state table says ran."""

from __future__ import annotations

from typing import Any

from migrator import logs
from migrator.connection import Database, connection
from migrator.errors import BaselineRefused, UnknownTarget
from migrator.runner import inventory, store
from migrator.runner.execution import check_consistent, settled_history, summary
from migrator.runner.manifest import Manifest, ManifestLike, Migration, load_manifest
from migrator.settings import Settings


def baseline(
    database: Database,
    *,
    target: str | None = None,
    from_tool: str | None = None,
    table: str | None = None,
    dry_run: bool = False,
    manifest: ManifestLike = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Adopt an existing database without running anything (Flyway's baseline, Alembic's stamp). Recorded
    migrations show as ``baselined`` in ``list``; ``migrate`` then runs only the others.

    - ``target``: record every migration up to and including it.
    - ``from_tool`` (``golang-migrate``, ``dbmate``, ``flyway``, ``goose``), with ``table`` when the tool
      used another name: record exactly the imported migrations (see :mod:`migrator.runner.origins`) that
      tool's state table says ran. A dirty golang-migrate version or a failed Flyway row is refused, naming
      the version, and so is a version no imported migration has.

    Refused, changing nothing, when the history already records a migration after the last one it would
    record (or one the code does not have, or one whose content changed). Migrations already recorded are
    left as they are. ``dry_run`` shows what would be recorded and writes nothing.
    """
    if (target is None) == (from_tool is None):
        raise UnknownTarget('baseline needs exactly one of "target" or "from"')
    settings = settings or Settings()
    manifest = load_manifest(manifest)
    upto: list[Migration] = []
    if target is not None:
        found = manifest.find(target)
        if found is None:
            raise UnknownTarget(
                f'baseline target "{target}" is not a migration in this code; run the list action to see ids'
            )
        upto = list(manifest.migrations)[: manifest.migrations.index(found) + 1]

    def choose(conn: Any) -> tuple[list[Migration], dict[str, Any]]:
        """What to record, and (from a tool) what its table said."""
        if from_tool is None:
            return upto, {}
        from migrator.runner.origins import read_state

        state = read_state(conn, from_tool, table)
        chosen = state.plan(manifest)
        return chosen, {
            "source": {"tool": state.tool, "table": state.table, "says": state.says},
            "warnings": state.warnings,
        }

    with connection(database, settings) as conn:
        inventory.capture_quietly(conn, settings)
        if dry_run:
            chosen, source = choose(conn)
            history = store.read_history(conn)
            plan = _baseline_plan(manifest, history, chosen)
            return {
                "dry_run": True,
                "baselined": [],
                "would_baseline": [{**summary(m), "contract": m.contract} for m in plan],
                **_warn(source, _pending_before(manifest, history, chosen)),
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            # Under the lock: the old tool's table is read when nothing of ours can run meanwhile.
            chosen, source = choose(conn)
            history = settled_history(conn, manifest)
            plan = _baseline_plan(manifest, history, chosen)
            with conn.transaction():
                store.insert_baseline(conn, [(m.id, m.name, m.checksum) for m in plan])
            logs.log("baseline recorded", target=chosen[-1].id if chosen else None, migrations=len(plan))
            source = _warn(source, _pending_before(manifest, history, chosen))
            for warning in source.get("warnings", []):
                logs.log("baseline warning", level="WARNING", warning=warning)
            return {"dry_run": False, "baselined": [summary(m) for m in plan], **source}


def _baseline_plan(
    manifest: Manifest, history: dict[str, store.AppliedRecord], chosen: list[Migration]
) -> list[Migration]:
    check_consistent(manifest, history, history)
    if not chosen:
        return []
    last = chosen[-1]
    within = {m.id for m in manifest.migrations[: manifest.migrations.index(last) + 1]}
    past = [i for i in history if i not in within]
    if past:
        raise BaselineRefused(
            f"the history already records migration(s) after {last.label}: {', '.join(past[:10])}"
            f"{', ...' if len(past) > 10 else ''}. A baseline only adopts a database whose recorded history "
            f"ends at or before what it records; nothing was recorded. Choose a target at or after "
            f"{past[-1]}, or check that this is the database you mean",
            details={"recorded_after_target": past},
        )
    return [m for m in chosen if m.id not in history]


def _pending_before(
    manifest: Manifest, history: dict[str, store.AppliedRecord], chosen: list[Migration]
) -> list[str]:
    """Migrations of the kit's own (not imported) left pending ahead of what a baseline from a tool records:
    typically the kit's examples, which would run against the adopted database at the next migrate."""
    imported = [m for m in chosen if m.origin is not None]
    if not imported:
        return []
    before = manifest.migrations[: manifest.migrations.index(imported[-1])]
    pending = [m for m in before if m.origin is None and m.id not in history]
    if not pending:
        return []
    return [
        f"{len(pending)} migration(s) not imported from {imported[-1].origin[0]} stay pending ahead of the "
        f"adopted history: {', '.join(m.label for m in pending[:7])}{', ...' if len(pending) > 7 else ''}. "
        "The next migrate runs them against this database. If they are the kit's examples, remove their "
        "lines from _ENTRIES in migrations/manifest.py first"
    ]


def _warn(source: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    every = [*source.get("warnings", []), *warnings]
    return {**source, "warnings": every} if every else {k: v for k, v in source.items() if k != "warnings"}
