"""``baseline``: adopt an existing database by recording migrations as applied without running them."""

from __future__ import annotations

from typing import Any

from migrator import logs
from migrator.connection import Database, connection
from migrator.errors import (
    BaselineRefused,
    UnknownTarget,
)
from migrator.runner import inventory, store
from migrator.runner.execution import (
    check_consistent,
    settled_history,
    summary,
)
from migrator.runner.manifest import Manifest, ManifestLike, Migration, load_manifest
from migrator.settings import Settings


def baseline(
    database: Database,
    *,
    target: str,
    dry_run: bool = False,
    manifest: ManifestLike = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Adopt an existing database: record every migration up to and including ``target`` as applied
    without running it (Flyway's baseline, Alembic's stamp). They show as ``baselined`` in ``list``;
    ``migrate`` then starts after ``target``.

    Refused, changing nothing, when the history already records a migration after ``target`` (or one the
    code does not have, or one whose content changed). Migrations up to ``target`` that are already
    recorded are left as they are. ``dry_run`` shows what would be recorded and writes nothing.
    """
    settings = settings or Settings()
    manifest = load_manifest(manifest)
    found = manifest.find(target)
    if found is None:
        raise UnknownTarget(
            f'baseline target "{target}" is not a migration in this code; run the list action to see ids'
        )
    upto = list(manifest.migrations)[: manifest.migrations.index(found) + 1]
    with connection(database, settings) as conn:
        inventory.capture_quietly(conn, settings)
        if dry_run:
            plan = _baseline_plan(manifest, store.read_history(conn), found, upto)
            return {
                "dry_run": True,
                "baselined": [],
                "would_baseline": [{**summary(m), "contract": m.contract} for m in plan],
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            plan = _baseline_plan(manifest, settled_history(conn, manifest), found, upto)
            with conn.transaction():
                store.insert_baseline(conn, [(m.id, m.name, m.checksum) for m in plan])
            logs.log("baseline recorded", target=found.id, migrations=len(plan))
            return {"dry_run": False, "baselined": [summary(m) for m in plan]}


def _baseline_plan(
    manifest: Manifest, history: dict[str, store.AppliedRecord], found: Migration, upto: list[Migration]
) -> list[Migration]:
    check_consistent(manifest, history, history)
    within = {m.id for m in upto}
    past = [i for i in history if i not in within]
    if past:
        raise BaselineRefused(
            f"the history already records migration(s) after {found.label}: {', '.join(past[:10])}"
            f"{', ...' if len(past) > 10 else ''}. A baseline only adopts a database whose recorded history "
            f"ends at or before its target; nothing was recorded. Choose a target at or after "
            f"{past[-1]}, or check that this is the database you mean",
            details={"recorded_after_target": past},
        )
    return [m for m in upto if m.id not in history]
