"""``capture`` and ``statements``: the statement inventory on its own.

``capture`` brings the inventory up to date (every runner action does that first; this one does nothing
else) and reports, per colour, its role's activity (statements, calls, first and last seen, open sessions)
and its password's provenance: what the release and the contract gate decide on. ``statements`` lists the
inventory: per colour, the counts, the tables it touches and its statements.
"""

from __future__ import annotations

from typing import Any

from migrator.connection import Database, connection
from migrator.errors import InventoryUnavailable
from migrator.runner import app_role, inventory
from migrator.settings import Settings

__all__ = ["capture", "statements"]


def capture(database: Database, *, settings: Settings | None = None) -> dict[str, Any]:
    """Copy the colour roles' new statements from pg_stat_statements into the inventory. Returns
    ``{"inventory": {captured, duration_ms}, "colors": {blue: {role, statements, calls, first_seen,
    last_seen, sessions}, ...}, "roles": {blue: {role, login, secret_version, password_set_at}, ...}}``;
    raises :class:`InventoryUnavailable` (with the same fields) when pg_stat_statements cannot be read."""
    settings = settings or Settings()
    with connection(database, settings) as conn:
        captured = inventory.capture_quietly(conn, settings, create=True)
        result = {
            "inventory": captured,
            "colors": inventory.summary(conn, settings),
            "roles": app_role.recorded(conn, settings),
        }
    if not captured["ok"]:
        raise InventoryUnavailable(captured["reason"], details=result)
    return result


def statements(
    database: Database, *, color: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """The inventory of ``color`` (both when None): ``{"inventory": {...}, "colors": {blue: {role,
    statements, calls, first_seen, last_seen, sessions, tables, statements_listed, truncated}}}``. The
    listing is shown even when this capture failed (the earlier ones' evidence is still there)."""
    settings = settings or Settings()
    with connection(database, settings) as conn:
        captured = inventory.capture_quietly(conn, settings)
        return {"inventory": captured, "colors": inventory.listing(conn, settings, color)}
