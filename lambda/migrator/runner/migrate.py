"""``migrate``: apply the pending migrations in manifest order, each with its history row, under the lock,
once the compatibility check (compat.py) has shown that they keep every serving colour working; and
``check``, that check alone."""

from __future__ import annotations

from typing import Any

import psycopg

from migrator import logs
from migrator.connection import Database, connection
from migrator.deadline import Deadline
from migrator.errors import (
    ContractRefused,
    Incompatible,
    MigrationFailed,
    OutOfTime,
    UnknownTarget,
)
from migrator.runner import app_role, compat, inventory, readiness, store
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
from migrator.settings import COLORS, Settings


def _contract_refusal(plan: list[Migration], first_contract: Migration) -> ContractRefused:
    before = plan[: plan.index(first_contract)]
    hint = f' To apply the expand steps before it now, run with target "{before[-1].id}".' if before else ""
    return ContractRefused(
        f"migration {first_contract.label} is a contract step: it removes or tightens something the previous "
        "release may still use. Expand/contract: expand migrations run before traffic switches (old and new "
        "code both work); contract migrations run only after the old colour is retired. When that is true, "
        f"run again with allow_contract: true (make migrate ALLOW_CONTRACT=1).{hint}",
        details={"contract": [m.id for m in plan if m.contract]},
    )


def migrate(
    database: Database,
    *,
    target: str | None = None,
    dry_run: bool = False,
    allow_contract: bool = False,
    allow_incompatible: bool = False,
    serving: tuple[str, ...] | list[str] | None = None,
    manifest: ManifestLike = None,
    settings: Settings | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Apply pending migrations in manifest order, up to and including ``target`` when given.

    Refuses (changing nothing) when an applied migration changed, the database knows migrations the code
    does not, a contract migration is pending without ``allow_contract``, or a pending migration breaks a
    statement that a colour in ``serving`` (default: both) has run, unless ``allow_incompatible``
    (:class:`~migrator.errors.Incompatible`). ``dry_run`` reports what would run, SQL included, and the
    check's verdict, and writes nothing to the schema or the history. Returns ``{"applied": [{id, name,
    duration_ms, attempts, notices}], "dry_run": bool, "compatibility": {...}, "roles": {...}}`` (plus
    ``"would_apply"`` for a dry run). Stops with :class:`OutOfTime` before a migration when ``deadline`` is
    near.
    """
    settings = settings or Settings()
    deadline = deadline or Deadline.none()
    manifest = load_manifest(manifest)
    serving = tuple(serving or COLORS)
    if target is not None and manifest.find(target) is None:
        raise UnknownTarget(
            f'target "{target}" is not a migration in this code; run the list action to see ids'
        )
    with connection(database, settings) as conn:
        inventory.capture_quietly(conn, settings, create=not dry_run)
        if dry_run:
            history = store.read_history(conn)
            plan = _migrate_plan(manifest, history, target, allow_contract)
            would_apply = [
                {
                    **summary(m),
                    "transactional": m.transactional,
                    "contract": m.contract,
                    "sql": describe_step(m.forward),
                }
                for m in plan
            ]
            compatibility = _compatibility(
                conn, database, manifest, history, plan, serving, settings, allow_incompatible,
                details={"dry_run": True, "would_apply": would_apply},
            )  # fmt: skip
            return {
                "dry_run": True,
                "applied": [],
                "would_apply": would_apply,
                "compatibility": compatibility,
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            history = settled_history(conn, manifest)
            plan = _migrate_plan(manifest, history, target, allow_contract)
            compatibility = _compatibility(
                conn, database, manifest, history, plan, serving, settings, allow_incompatible,
                details={"applied": []},
            )  # fmt: skip
            applied: list[dict[str, Any]] = []
            for index, migration in enumerate(plan):
                pending = [m.id for m in plan[index:]]
                if not deadline.can_start():
                    raise out_of_time(deadline, "stopped before the next migration", migration,
                                       "applied", applied, pending)  # fmt: skip
                try:
                    applied.append(_apply_one(conn, migration, len(applied), settings, deadline))
                except OutOfTime as exc:
                    raise out_of_time(deadline, str(exc), migration, "applied", applied, pending) from None
                except MigrationFailed as exc:
                    exc.details["applied"] = applied
                    raise
            # The colours' roles, and grants on what was just created (still under the lock).
            roles = app_role.ensure_configured(conn, settings, details={"applied": applied})
            # Then the colours' tasks may start: each waits for its own role to be recorded.
            ready = readiness.record(
                settings.ready_path,
                readiness.roles_to_record(settings),
                details={"applied": applied, "roles": roles},
            )
            return {
                "dry_run": False,
                "applied": applied,
                "roles": roles,
                "roles_recorded": ready,
                "compatibility": compatibility,
            }


def check(
    database: Database,
    *,
    target: str | None = None,
    serving: tuple[str, ...] | list[str] | None = None,
    manifest: ManifestLike = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The compatibility check alone: would migrating up to ``target`` (all pending when None) break a
    statement that a colour in ``serving`` has run? Contract steps are checked like any other (the caller
    says who serves after them). Raises :class:`~migrator.errors.Incompatible` when it would, or when the
    check cannot run; returns ``{"would_apply": [ids], "compatibility": {...}}``."""
    settings = settings or Settings()
    manifest = load_manifest(manifest)
    serving = tuple(serving or COLORS)
    if target is not None and manifest.find(target) is None:
        raise UnknownTarget(
            f'target "{target}" is not a migration in this code; run the list action to see ids'
        )
    with connection(database, settings) as conn:
        inventory.capture_quietly(conn, settings)
        history = store.read_history(conn)
        plan = _migrate_plan(manifest, history, target, allow_contract=True)
        ids = [m.id for m in plan]
        result = compat.check(conn, database, manifest, history, plan, serving, settings)
        if not result["ok"]:
            raise Incompatible(
                _refusal(result, plan, serving), details={"would_apply": ids, "compatibility": result}
            )
        return {"would_apply": ids, "compatibility": result}


def _compatibility(
    conn: psycopg.Connection,
    database: Database,
    manifest: Manifest,
    history: dict[str, store.AppliedRecord],
    plan: list[Migration],
    serving: tuple[str, ...],
    settings: Settings,
    allow_incompatible: bool,
    *,
    details: dict[str, Any],
) -> dict[str, Any]:
    """The check of ``plan`` (skipped when MIGRATOR_COMPAT_CHECK=off), refusing with Incompatible when it
    fails, unless ``allow_incompatible`` or MIGRATOR_COMPAT_CHECK=warn."""
    if settings.compat_check == "off" or not plan:
        return {"ok": True, "checked": 0, "inconclusive": 0, "broken": [], "serving": list(serving),
                "migrations": [m.id for m in plan], **({"mode": "off"} if plan else {})}  # fmt: skip
    result = compat.check(conn, database, manifest, history, plan, serving, settings)
    if result["ok"]:
        return result
    message = _refusal(result, plan, serving)
    if allow_incompatible or settings.compat_check == "warn":
        result["allowed"] = "allow_incompatible" if allow_incompatible else "MIGRATOR_COMPAT_CHECK=warn"
        logs.log("incompatible migration allowed", level="WARNING", reason=message, allowed=result["allowed"])
        return result
    raise Incompatible(message, details={**details, "compatibility": result})


def _refusal(result: dict[str, Any], plan: list[Migration], serving: tuple[str, ...]) -> str:
    """The one-line refusal: the colour, the statement, the migration and the fix."""
    override = (
        "ALLOW_INCOMPATIBLE=1 (allow_incompatible: true) overrides, and the release journal records it. "
        "Nothing was changed"
    )
    if result.get("error"):
        return (
            f"{result['error']}, so nothing proves that the pending migrations keep {' and '.join(serving)} "
            f"working. Fix the cause, or set MIGRATOR_COMPAT_CHECK=warn while you do. {override}"
        )
    broken = result["broken"]
    if not broken:
        unsimulated = result.get("unsimulated") or {}
        return (
            f"{unsimulated.get('error', 'a pending migration could not be tried')}, so the statements of "
            f"{' and '.join(serving)} could not be checked after it. Fix the migration. {override}"
        )
    first = broken[0]
    label = next((m.label for m in plan if m.id == first["migration"]), first["migration"])
    contract = any(m.contract for m in plan)
    who = (
        f"{first['color']} still serves after it (serving: {', '.join(serving)}; after the release only the "
        "live colour does: SERVING=<live colour>)"
        if contract
        else f"expand migrations must keep both colours working, and {first['color']} runs this statement"
    )
    more = f" {len(broken) - 1} more statement(s) break: see compatibility.broken." if len(broken) > 1 else ""
    return (
        f"migration {label} breaks {first['color']}: {first['statement'][:200]!r}: "
        f"{first['error']}. {who[0].upper()}{who[1:]}. Fix: {first['fix']}.{more} {override}"
    )


def _migrate_plan(
    manifest: Manifest, history: dict[str, store.AppliedRecord], target: str | None, allow_contract: bool
) -> list[Migration]:
    check_consistent(manifest, history, history)
    migrations = list(manifest.migrations)
    if target is not None:
        found = manifest.find(target)
        migrations = migrations[: migrations.index(found) + 1]
    plan = [m for m in migrations if m.id not in history]
    contracts = [m for m in plan if m.contract]
    if contracts and not allow_contract:
        raise _contract_refusal(plan, contracts[0])
    if plan:
        from migrator.runner.transactions import refuse_own_transactions

        refuse_own_transactions((m, m.forward, "up") for m in plan)
    return plan


def _apply_one(
    conn: psycopg.Connection, migration: Migration, earlier: int, settings: Settings, deadline: Deadline
) -> dict[str, Any]:
    row = (migration.id, migration.name, migration.checksum)

    def once() -> tuple[int, bool]:
        return run_one(
            conn,
            migration,
            migration.forward,
            record_sql=lambda: store.insert_record_sql(conn, *row),
            record=lambda ms: store.insert_record(conn, *row, ms),
            settings=settings,
            deadline=deadline,
        )

    try:
        duration, attempts, notices = with_retries(
            conn, migration, once, verb="forward", settings=settings, deadline=deadline
        )
    except Failed as failed:
        reason = failure_reason(conn, failed)
        scope = (
            "It was rolled back and not recorded"
            if migration.transactional
            else "It ran outside a transaction (transactional=False): statements before the "
            "failing one, and any transaction of its own that it committed, took effect; a transaction of "
            "its own still open at the failure was rolled back. It was not recorded, so it must be safe to "
            "re-run (or be finished by hand)"
        )
        logs.log("migration failed", level="ERROR", migration=migration.id, reason=reason)
        # Short on purpose: the migrations applied before it are listed in the result's "applied".
        raise MigrationFailed(
            f"migration {migration.label} failed: {reason}. {scope}. "
            f"The {earlier} migration(s) applied earlier in this run stay applied. "
            "Fix the migration (or the data) and run migrate again",
            details={
                "failed": migration.id,
                "attempts": failed.attempts,
                "notices": failed.notices,
            },
        ) from None
    logs.log("migration applied", migration=migration.id, duration_ms=duration, attempts=attempts)
    return {**summary(migration), "duration_ms": duration, "attempts": attempts, "notices": notices}
