"""``rollback``: undo the last N applied migrations (or every one after a target), newest first, all or
nothing checked before the first one runs."""

from __future__ import annotations

from typing import Any

import psycopg

from migrator import logs
from migrator.connection import Database, connection
from migrator.deadline import Deadline
from migrator.errors import (
    IrreversibleMigration,
    MigrationFailed,
    OutOfTime,
    UnknownAppliedMigrations,
    UnknownTarget,
)
from migrator.runner import inventory, store
from migrator.runner.execution import (
    Failed,
    check_consistent,
    failure_reason,
    out_of_time,
    run_one,
    settled_history,
    summary,
    with_retries,
)
from migrator.runner.manifest import Manifest, ManifestLike, Migration, describe_step, load_manifest
from migrator.settings import Settings


def rollback(
    database: Database,
    *,
    steps: int | None = None,
    target: str | None = None,
    dry_run: bool = False,
    manifest: ManifestLike = None,
    settings: Settings | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Undo the last ``steps`` applied migrations, or every one applied after ``target``, newest first.

    Before undoing anything it checks every migration in that set: all must be known to the code, unchanged
    since applied, and reversible; otherwise nothing is undone and the error names them.
    """
    if (steps is None) == (target is None):
        raise UnknownTarget('rollback needs exactly one of "steps" or "target"')
    settings = settings or Settings()
    deadline = deadline or Deadline.none()
    manifest = load_manifest(manifest)
    with connection(database, settings) as conn:
        inventory.capture_quietly(conn, settings)
        if dry_run:
            plan = _rollback_plan(manifest, store.read_history(conn), steps, target)
            return {
                "dry_run": True,
                "rolled_back": [],
                "would_roll_back": [
                    {**summary(m), "transactional": m.transactional, "sql": describe_step(m.reverse)}
                    for m in plan
                ],
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            plan = _rollback_plan(manifest, settled_history(conn, manifest), steps, target)
            done: list[dict[str, Any]] = []
            for index, migration in enumerate(plan):
                remaining = [m.id for m in plan[index:]]
                if not deadline.can_start():
                    raise out_of_time(deadline, "stopped before the next rollback", migration,
                                       "rolled_back", done, remaining)  # fmt: skip
                try:
                    done.append(_reverse_one(conn, migration, len(done), settings, deadline))
                except OutOfTime as exc:
                    stop = str(exc)
                    raise out_of_time(deadline, stop, migration, "rolled_back", done, remaining) from None
                except MigrationFailed as exc:
                    exc.details["rolled_back"] = done
                    raise
            return {"dry_run": False, "rolled_back": done}


def _rollback_plan(
    manifest: Manifest, history: dict[str, store.AppliedRecord], steps: int | None, target: str | None
) -> list[Migration]:
    newest_first = list(reversed(history))
    if target is not None:
        found = manifest.find(target)
        target_id = found.id if found else target
        if target_id not in history:
            where = "is not applied" if found else "is not a migration in this code or the database"
            raise UnknownTarget(f'rollback target "{target}" {where}; run the list action to see applied ids')
        chosen = newest_first[: newest_first.index(target_id)]
    else:
        assert steps is not None
        if steps > len(newest_first):
            raise UnknownTarget(
                f"cannot roll back {steps} migration(s): only {len(newest_first)} applied; "
                f"use steps from 1 to {len(newest_first)}"
                if newest_first
                else "nothing is applied; nothing to roll back"
            )
        chosen = newest_first[:steps]
    by_id = {m.id: m for m in manifest.migrations}
    unknown = [i for i in chosen if i not in by_id]
    if unknown:
        raise UnknownAppliedMigrations(
            f"cannot roll back {', '.join(unknown)}: this code does not have them, "
            "so it does not know how to "
            "undo them. Roll back with the migrator of the release that added them",
            details={"missing_from_code": unknown},
        )
    check_consistent(Manifest(manifest.migrations), {i: history[i] for i in chosen}, chosen)
    plan = [by_id[i] for i in chosen]
    irreversible = [m.label for m in plan if not m.reversible]
    if irreversible:
        raise IrreversibleMigration(
            f"nothing was rolled back: {', '.join(irreversible)} cannot be undone (declared irreversible). "
            "Roll back fewer steps (to after it), or restore from a snapshot and write a new forward "
            "migration",
            details={"irreversible": [m.id for m in plan if not m.reversible]},
        )
    if plan:
        from migrator.runner.transactions import refuse_own_transactions

        refuse_own_transactions((m, m.reverse, "down") for m in plan)
    return plan


def _reverse_one(
    conn: psycopg.Connection, migration: Migration, earlier: int, settings: Settings, deadline: Deadline
) -> dict[str, Any]:
    assert migration.reverse is not None

    def once() -> tuple[int, bool]:
        return run_one(
            conn,
            migration,
            migration.reverse,  # type: ignore[arg-type]
            record_sql=lambda: store.delete_record_sql(conn, migration.id),
            record=lambda ms_since: store.delete_record(conn, migration.id),
            settings=settings,
            deadline=deadline,
        )

    try:
        duration, attempts, notices = with_retries(
            conn, migration, once, verb="reverse", settings=settings, deadline=deadline
        )
    except Failed as failed:
        reason = failure_reason(conn, failed)
        logs.log("rollback failed", level="ERROR", migration=migration.id, reason=reason)
        partial = (
            ""
            if migration.transactional
            else " (it ran outside the runner's transaction: statements before the failing one, and any "
            "transaction of its own that it committed, took effect)"
        )
        raise MigrationFailed(
            f"rolling back {migration.label} failed: {reason}. It stays applied{partial}; the {earlier} "
            "migration(s) rolled back earlier in this run stay rolled back. Fix the reverse step and run "
            "rollback again",
            details={"failed": migration.id, "attempts": failed.attempts, "notices": failed.notices},
        ) from None
    logs.log("migration rolled back", migration=migration.id, duration_ms=duration, attempts=attempts)
    return {**summary(migration), "duration_ms": duration, "attempts": attempts, "notices": notices}
