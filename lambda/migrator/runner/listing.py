"""``list``: every migration the code or the database knows, with its state."""

from __future__ import annotations

from typing import Any

from migrator.connection import Database, connection
from migrator.runner import inventory, store
from migrator.runner.execution import (
    summary,
)
from migrator.runner.manifest import ManifestLike, load_manifest
from migrator.settings import Settings


def list_migrations(
    database: Database, *, manifest: ManifestLike = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Every migration known to the code or recorded in the database, with its state: ``applied``,
    ``baselined`` (recorded by ``baseline`` without running), ``pending``, ``changed`` (content differs from
    what was applied) or ``missing_from_code``. ``reverse_noop`` marks a reversible migration whose reverse
    runs nothing (an empty or comment-only down file): rolling it back only removes its history row."""
    settings = settings or Settings()
    manifest = load_manifest(manifest)
    with connection(database, settings) as conn:
        inventory.capture_quietly(conn, settings)
        history = store.read_history(conn)
    entries: list[dict[str, Any]] = []
    for m in manifest.migrations:
        record = history.get(m.id)
        if record is None:
            state = "pending"
        elif not m.matches(record.checksum, record.checksum_version):
            state = "changed"
        else:
            state = "baselined" if record.baselined else "applied"
        entries.append(
            {
                **summary(m),
                "state": state,
                "applied_at": record.applied_at.isoformat() if record else None,
                "duration_ms": record.duration_ms if record else None,
                "contract": m.contract,
                "transactional": m.transactional,
                "reversible": m.reversible,
                "reverse_noop": m.reverse_noop,
            }
        )
    known = {m.id for m in manifest.migrations}
    for record in history.values():
        if record.id not in known:
            entries.append(
                {
                    "id": record.id,
                    "name": record.name,
                    "state": "missing_from_code",
                    "applied_at": record.applied_at.isoformat(),
                    "duration_ms": record.duration_ms,
                    "contract": None,
                    "transactional": None,
                    "reversible": None,
                    "reverse_noop": None,
                }
            )
    counts = {s: 0 for s in ("applied", "baselined", "pending", "changed", "missing_from_code")}
    for entry in entries:
        counts[entry["state"]] += 1
    return {"migrations": entries, "counts": counts}
