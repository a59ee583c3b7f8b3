"""``migrate``: apply the pending migrations in manifest order, each with its history row, under the lock."""

from __future__ import annotations

from typing import Any

import psycopg

from migrator import logs
from migrator.connection import Database, connection
from migrator.deadline import Deadline
from migrator.errors import (
    ContractRefused,
    MigrationFailed,
    OutOfTime,
    UnknownTarget,
)
from migrator.runner import app_role, readiness, store
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
    manifest: ManifestLike = None,
    settings: Settings | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Apply pending migrations in manifest order, up to and including ``target`` when given.

    Refuses (changing nothing) when an applied migration changed, the database knows migrations the code
    does not, or a contract migration is pending without ``allow_contract``. ``dry_run`` reports what would
    run, SQL included, and writes nothing (not even the history table). Returns
    ``{"applied": [{id, name, duration_ms, attempts, notices}], "dry_run": bool}`` (plus ``"would_apply"``
    for a dry run). Stops with :class:`OutOfTime` before a migration when ``deadline`` is near.
    """
    settings = settings or Settings()
    deadline = deadline or Deadline.none()
    manifest = load_manifest(manifest)
    if target is not None and manifest.find(target) is None:
        raise UnknownTarget(
            f'target "{target}" is not a migration in this code; run the list action to see ids'
        )
    with connection(database, settings) as conn:
        if dry_run:
            plan = _migrate_plan(manifest, store.read_history(conn), target, allow_contract)
            return {
                "dry_run": True,
                "applied": [],
                "would_apply": [
                    {
                        **summary(m),
                        "transactional": m.transactional,
                        "contract": m.contract,
                        "sql": describe_step(m.forward),
                    }
                    for m in plan
                ],
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            plan = _migrate_plan(manifest, settled_history(conn, manifest), target, allow_contract)
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
            # The containers' role, and grants on what was just created (still under the lock).
            role = app_role.ensure_configured(conn, settings.app_secret_id, details={"applied": applied})
            # Then the colours' tasks may start: they wait for their role to be recorded.
            ready = readiness.record(
                settings.ready_path,
                [{"name": role["name"], "secret_id": settings.app_secret_id}] if role else [],
                details={"applied": applied, "app_role": role},
            )
            return {"dry_run": False, "applied": applied, "app_role": role, "roles_recorded": ready}


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
