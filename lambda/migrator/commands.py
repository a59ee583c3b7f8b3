"""The action for a parsed request: the one place that knows both rooms.

:func:`run` maps a request onto the runner's commands (:mod:`migrator.runner`) or the sql action
(:mod:`migrator.sqlaction`), and imports only the room the action needs: a ``migrate`` never loads the SQL
sandbox (pglast's parser tables), and a ``sql`` never loads the runner.

``database`` is a connection string / URL or resolved :class:`~migrator.credentials.Credentials`;
``manifest`` defaults to the project's ``migrations.manifest`` (tests and the benchmark pass their own);
``deadline`` is the invocation's (:mod:`migrator.deadline`; none by default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migrator.connection import Database
from migrator.deadline import Deadline
from migrator.events import (
    BaselineRequest,
    CaptureRequest,
    CheckRequest,
    ListRequest,
    MigrateRequest,
    ReportRequest,
    Request,
    RollbackRequest,
    SeedRequest,
    SqlRequest,
    StatementsRequest,
)
from migrator.settings import Settings

if TYPE_CHECKING:
    from migrator.runner.manifest import ManifestLike

__all__ = ["run"]


def run(
    request: Request,
    database: Database,
    *,
    settings: Settings | None = None,
    manifest: ManifestLike = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """The command for a parsed request (what the handler calls)."""
    settings = settings or Settings()
    if isinstance(request, SqlRequest):
        from migrator import sqlaction

        return sqlaction.sql(database, request.sql, settings=settings, deadline=deadline)
    if isinstance(request, ReportRequest):
        from migrator import sqlaction

        return sqlaction.report(database, request.name, settings=settings, deadline=deadline)

    # Each command loads only its own module (and what it imports): see migrator.runner's facade.
    from migrator import runner

    if isinstance(request, MigrateRequest):
        return runner.migrate(
            database,
            target=request.target,
            dry_run=request.dry_run,
            allow_contract=request.allow_contract,
            allow_incompatible=request.allow_incompatible,
            serving=request.serving,
            manifest=manifest,
            settings=settings,
            deadline=deadline,
        )
    if isinstance(request, ListRequest):
        return runner.list_migrations(database, manifest=manifest, settings=settings)
    if isinstance(request, RollbackRequest):
        return runner.rollback(
            database,
            steps=request.steps,
            target=request.target,
            dry_run=request.dry_run,
            manifest=manifest,
            settings=settings,
            deadline=deadline,
        )
    if isinstance(request, SeedRequest):
        return runner.seed(
            database,
            allow_production_seed=request.allow_production_seed,
            manifest=manifest,
            settings=settings,
        )
    if isinstance(request, BaselineRequest):
        return runner.baseline(
            database,
            target=request.target,
            from_tool=request.from_tool,
            table=request.table,
            dry_run=request.dry_run,
            manifest=manifest,
            settings=settings,
        )
    if isinstance(request, CheckRequest):
        return runner.check(
            database, target=request.target, serving=request.serving, manifest=manifest, settings=settings
        )
    if isinstance(request, CaptureRequest):
        return runner.capture(database, settings=settings)
    if isinstance(request, StatementsRequest):
        return runner.statements(database, color=request.color, settings=settings)
    raise TypeError(f"no command for {type(request).__name__}")  # parse_event returns only the above
