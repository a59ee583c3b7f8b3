"""``seed``: idempotent demo and test data, refused in production unless asked for."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from migrator import logs
from migrator.connection import Database, connection, pg_reason
from migrator.errors import (
    ProductionSeedRefused,
    SchemaNotReady,
    SeedFailed,
)
from migrator.runner import inventory, store
from migrator.runner.execution import (
    check_consistent,
    ms_since,
    split_statements,
)
from migrator.runner.manifest import ManifestLike, Step, load_manifest
from migrator.settings import Settings


def seed(
    database: Database,
    *,
    allow_production_seed: bool = False,
    manifest: ManifestLike = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Run every seed (idempotent data for local and test environments), each in its own transaction.

    Refused when ``settings.environment`` is production unless ``allow_production_seed``; refused while
    expand migrations are pending (pending contract steps are fine: seeds write only columns that exist
    both before and after them).
    """
    settings = settings or Settings()
    if settings.is_production and not allow_production_seed:
        raise ProductionSeedRefused(
            f'seed is refused in environment "{settings.environment}": seeds write demo data. If you really '
            "mean it, run again with allow_production_seed: true "
            "(make migrate ACTION=seed ALLOW_PRODUCTION_SEED=1)"
        )
    manifest = load_manifest(manifest)
    with connection(database, settings) as conn, store.migration_lock(conn, settings.lock_wait_seconds):
        inventory.capture_quietly(conn, settings)
        history = store.read_history(conn)
        check_consistent(manifest, history, history)
        # Pending contract steps are fine: seeds write only what exists both before and after them.
        pending = [m.id for m in manifest.migrations if m.id not in history and not m.contract]
        if pending:
            raise SchemaNotReady(
                f"{len(pending)} migration(s) are pending ({', '.join(pending[:5])}"
                f"{', ...' if len(pending) > 5 else ''}); seeds need the expanded schema: run migrate first"
            )
        seeded: list[dict[str, Any]] = []
        for item in manifest.seeds:
            started = time.perf_counter()
            try:
                with conn.transaction():
                    rows = _run_seed(conn, item.apply)
            except (psycopg.Error, Exception) as exc:
                reason = pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"
                raise SeedFailed(
                    f"seed {item.id}_{item.name} failed: {reason}. It was rolled back; seeds before it stay. "
                    "Fix it and run seed again (seeds are idempotent)",
                    details={"seeded": seeded, "failed": item.id},
                ) from None
            seeded.append(
                {"id": item.id, "name": item.name, "rows_changed": rows, "duration_ms": ms_since(started)}
            )
            logs.log("seed applied", seed=item.id, rows_changed=rows)
        return {"environment": settings.environment, "seeded": seeded}


def _run_seed(conn: psycopg.Connection, step: Step) -> int:
    if callable(step):
        result = step(conn)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    total = 0
    for statement in split_statements(step):
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        total += max(cursor.rowcount, 0)
    return total
