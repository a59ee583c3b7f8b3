"""The runner's commands: plain documented functions that the Lambda handler, the local CLI and the tests
all call. Each returns the action's result fields as a JSON-ready dict, or raises a
:class:`~migrator.errors.MigratorError` saying what to do.

``database`` is a connection string / URL or a resolved :class:`~migrator.credentials.Credentials`;
``manifest`` defaults to the project's ``migrations.manifest`` (tests and the benchmark pass their own);
``deadline`` is the invocation's (:mod:`migrator.deadline`; none by default).

One connection per run: it holds the session advisory lock for the whole run, and every migration runs in its
own transaction on it (``transactional=False`` migrations run statement by statement in autocommit).

A migration that fails on ``lock_timeout`` (it queued behind live traffic) is tried again after a pause that
doubles each time (``MIGRATOR_LOCK_RETRIES``, ``MIGRATOR_LOCK_RETRY_DELAY``): a short lock timeout plus
retries, as squawk and strong_migrations advise, instead of a long wait that blocks every query behind it.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from migrator import app_role, logs, store
from migrator.credentials import Credentials, from_url
from migrator.deadline import Deadline, DeadlineConnection, clamp_sql
from migrator.errors import (
    BaselineRefused,
    ChecksumMismatch,
    ContractRefused,
    DatabaseError,
    DatabaseUnavailable,
    IrreversibleMigration,
    MigrationFailed,
    OutOfTime,
    ProductionSeedRefused,
    SchemaNotReady,
    SeedFailed,
    UnknownAppliedMigrations,
    UnknownTarget,
)
from migrator.events import (
    BaselineRequest,
    ListRequest,
    MigrateRequest,
    Request,
    RollbackRequest,
    SeedRequest,
    SqlRequest,
)
from migrator.migration import Manifest, ManifestLike, Migration, Step, describe_step, load_manifest
from migrator.settings import Settings

__all__ = ["baseline", "list_migrations", "migrate", "rollback", "run", "seed", "sql"]

Database = str | Credentials
# A migration that prints more than this many NOTICEs (a loop with RAISE NOTICE) keeps the first ones only.
MAX_NOTICES = 50
MAX_RETRY_PAUSE_SECONDS = 30.0


# ------------------------------------------------------------------------------------------- plumbing


def _credentials(database: Database) -> Credentials:
    return database if isinstance(database, Credentials) else from_url(database)


@contextmanager
def _connection(database: Database, settings: Settings) -> Iterator[psycopg.Connection]:
    conn = store.connect(_credentials(database), settings)
    try:
        yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"lost the database connection: {_pg_reason(exc)}. Run again") from None
    except psycopg.Error as exc:
        raise DatabaseError(f"the database rejected a runner statement: {_pg_reason(exc)}") from None
    finally:
        conn.close()


def _pg_reason(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    code = getattr(exc, "sqlstate", None)
    return f"{text} (SQLSTATE {code})" if code else text


def _ms(since: float) -> int:
    return max(0, round((time.perf_counter() - since) * 1000))


def _statements(sql: str) -> list[str]:
    import pglast

    return [s for s in pglast.split(sql) if s.strip()]


def _set_statement_timeout(conn: psycopg.Connection, budget_ms: int) -> None:
    conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{max(1, budget_ms)}ms",))


def _execute_step(
    conn: psycopg.Connection,
    step: Step,
    *,
    in_transaction: bool,
    budget: Callable[[], int | None] = lambda: None,
    caller: Any = None,
) -> int | None:
    """Run SQL text or call the function (with ``caller``, the connection it is given, when set). Outside a
    transaction SQL runs one statement at a time, because PostgreSQL wraps a multi-statement query string
    in one implicit transaction, which CONCURRENTLY refuses; ``budget`` gives the statement_timeout each
    statement must start with (None: the configured one is short enough)."""
    if callable(step):
        result = step(caller if caller is not None else conn)
        return result if isinstance(result, int) and not isinstance(result, bool) else None
    if in_transaction:
        conn.execute(step)  # type: ignore[arg-type]  # trusted migration SQL, simple-query protocol
        return None
    for statement in _statements(step):
        limit = budget()
        if limit is not None:
            if limit <= 0:
                raise OutOfTime("no time left for the next statement")
            _set_statement_timeout(conn, limit)
        conn.execute(statement)  # type: ignore[arg-type]
    return None


def _one_transaction(conn: psycopg.Connection, body: str, record: str) -> None:
    """``BEGIN; <migration SQL>; <history change>; COMMIT`` as one simple-query message: one round trip per
    migration instead of four. On an error the server skips the rest of the message (so no COMMIT runs) and
    the transaction is rolled back here before the error propagates."""
    try:
        conn.execute(f"BEGIN;\n{body}\n;\n{record};\nCOMMIT;")  # type: ignore[arg-type]  # trusted SQL
    except psycopg.Error:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        raise


@contextmanager
def _notices(conn: psycopg.Connection, migration: Migration, sink: list[dict[str, str]]) -> Iterator[None]:
    """Collect PostgreSQL's NOTICEs and WARNINGs (e.g. an identifier truncated to 63 characters) raised
    while the block runs into ``sink``, and log each one with the migration's id."""
    dropped = 0

    def handler(diag: psycopg.errors.Diagnostic) -> None:
        nonlocal dropped
        if len(sink) >= MAX_NOTICES:
            dropped += 1
            return
        severity = diag.severity_nonlocalized or diag.severity or "NOTICE"
        sink.append({"severity": severity, "message": diag.message_primary or ""})

    conn.add_notice_handler(handler)
    try:
        yield
    finally:
        conn.remove_notice_handler(handler)
        for notice in sink:
            logs.log(
                "postgres notice",
                level="WARNING" if notice["severity"] == "WARNING" else "INFO",
                migration=migration.id,
                severity=notice["severity"],
                notice=notice["message"],
            )
        if dropped:
            logs.log("postgres notices dropped", level="WARNING", migration=migration.id, dropped=dropped)


def _summary(migration: Migration) -> dict[str, Any]:
    return {"id": migration.id, "name": migration.name}


def _check_consistent(
    manifest: Manifest, history: dict[str, store.AppliedRecord], ids: Iterable[str]
) -> None:
    """Refuse when applied content changed (checksum drift) or the database has migrations the code lacks."""
    by_id = {m.id: m for m in manifest.migrations}
    unknown = [i for i in history if i not in by_id]
    if unknown:
        raise UnknownAppliedMigrations(
            f"the database records migration(s) this code does not have: {', '.join(unknown)}. "
            "The database is "
            "ahead of this code: deploy the migrator built from the release that added them "
            "(or roll them back with that release) before running this one",
            details={"missing_from_code": unknown},
        )
    drifted = [
        i
        for i in ids
        if i in history
        and i in by_id
        and not by_id[i].matches(history[i].checksum, history[i].checksum_version)
    ]
    if drifted:
        labels = ", ".join(by_id[i].label for i in drifted)
        raise ChecksumMismatch(
            f"applied migration(s) changed since they were applied: {labels}. "
            "Applied migrations are history: "
            "restore their original content and put the change in a new migration",
            details={"changed": drifted},
        )


def _settled_history(conn: psycopg.Connection, manifest: Manifest) -> dict[str, store.AppliedRecord]:
    """The history after upgrading the table's schema and the checksums the code confirms (under the lock)."""
    store.ensure_history(conn)
    history = store.read_history(conn)
    by_id = {m.id: m for m in manifest.migrations}
    confirmed = {
        i: by_id[i].checksum
        for i, record in history.items()
        if record.checksum_version < 2 and i in by_id and by_id[i].matches(record.checksum, 1)
    }
    if confirmed:
        store.upgrade_checksums(conn, confirmed)
        logs.log("history checksums upgraded", rows=len(confirmed), to_version=2)
        history = store.read_history(conn)
    return history


# ------------------------------------------------------------------------------------------- running one


def _run_one(
    conn: psycopg.Connection,
    migration: Migration,
    step: Step,
    *,
    record_sql: Callable[[], str],
    record: Callable[[int], None],
    settings: Settings,
    deadline: Deadline,
) -> tuple[int, bool]:
    """Run one direction of one migration and change its history row with it. Returns (duration_ms,
    whether statement_timeout was lowered to the deadline)."""
    configured = settings.statement_timeout_ms
    first = deadline.statement_budget_ms(configured)
    if first is not None and first <= 0:
        raise OutOfTime("no time left for the next statement")
    clamped = first is not None
    started = time.perf_counter()
    caller = DeadlineConnection(conn, deadline, configured, migration.id) if deadline.limited else None
    if migration.transactional and isinstance(step, str):
        body = clamp_sql(_statements(step), first) if clamped else step
        _one_transaction(conn, body, record_sql())
        return _ms(started), clamped
    if migration.transactional:
        with conn.transaction():
            _execute_step(conn, step, in_transaction=True, caller=caller)
            duration = _ms(started)
            record(duration)
        return duration, clamped
    _execute_step(
        conn,
        step,
        in_transaction=False,
        budget=lambda: deadline.statement_budget_ms(configured),
        caller=caller,
    )
    duration = _ms(started)
    record(duration)
    return duration, clamped


class _Failed(Exception):
    """One migration failed for good: the original error, after how many attempts, and its notices."""

    def __init__(self, error: BaseException, attempts: int, notices: list, *, no_time: bool = False) -> None:
        super().__init__(str(error))
        self.error, self.attempts, self.notices, self.no_time = error, attempts, notices, no_time


def _with_retries(
    conn: psycopg.Connection,
    migration: Migration,
    attempt_once: Callable[[], tuple[int, bool]],
    *,
    verb: str,
    settings: Settings,
    deadline: Deadline,
) -> tuple[int, int, list[dict[str, str]]]:
    """Run ``attempt_once`` (one try of one migration), trying again after ``lock_timeout``. Returns
    (duration_ms, attempts, notices). Raises OutOfTime when the deadline stopped it, else :class:`_Failed`."""
    attempts = 0
    while True:
        attempts += 1
        notices: list[dict[str, str]] = []
        clamped = deadline.statement_budget_ms(settings.statement_timeout_ms) is not None
        try:
            with _notices(conn, migration, notices):
                duration, clamped = attempt_once()
            return duration, attempts, notices
        except OutOfTime:
            raise
        except psycopg.errors.LockNotAvailable as exc:
            pause = min(settings.lock_retry_delay_seconds * 2 ** (attempts - 1), MAX_RETRY_PAUSE_SECONDS)
            remaining = deadline.remaining_ms()
            no_time = remaining is not None and remaining - pause * 1000 < deadline.reserve_ms
            if attempts > settings.lock_retries or no_time:
                raise _Failed(exc, attempts, notices, no_time=no_time) from None
            logs.log(
                "lock timeout: trying again",
                level="WARNING",
                migration=migration.id,
                direction=verb,
                attempt=attempts,
                of=settings.lock_retries + 1,
                retry_in_seconds=round(pause, 3),
                reason=_pg_reason(exc),
            )
            time.sleep(pause)
        except psycopg.errors.QueryCanceled as exc:
            if clamped and not conn.closed:
                raise OutOfTime(
                    f"a statement of {migration.label} was cancelled at the invocation's deadline"
                ) from None
            raise _Failed(exc, attempts, notices) from None
        except Exception as exc:
            raise _Failed(exc, attempts, notices) from None


def _failure_reason(conn: psycopg.Connection, failed: _Failed) -> str:
    exc = failed.error
    if isinstance(exc, psycopg.OperationalError) and conn.closed:
        return f"lost the database connection ({_pg_reason(exc)})"
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        tail = "; too little of the invocation's time was left to try again" if failed.no_time else ""
        return f"{_pg_reason(exc)}, on each of {failed.attempts} attempt(s){tail}"
    return _pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"


def _out_of_time(
    deadline: Deadline, what: str, stopped: Migration, done_key: str, done: list, remaining: list[str]
) -> OutOfTime:
    left = deadline.remaining_ms()
    partial = (
        " (it runs outside a transaction, so statements before the stop may have taken effect: it is written "
        "to be run again)"
        if not stopped.transactional
        else ""
    )
    return OutOfTime(
        f"time ran out: {what} ({left if left is not None else '?'} ms of the invocation left; "
        f"{deadline.reserve_ms} ms are needed to start a migration). {len(done)} finished in this run and "
        f"stay done; {stopped.label} is not recorded{partial}. Run the same command again to continue "
        "(or raise the function's timeout)",
        details={done_key: done, "pending": remaining},
    )


# ------------------------------------------------------------------------------------------- migrate


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
    with _connection(database, settings) as conn:
        if dry_run:
            plan = _migrate_plan(manifest, store.read_history(conn), target, allow_contract)
            return {
                "dry_run": True,
                "applied": [],
                "would_apply": [
                    {
                        **_summary(m),
                        "transactional": m.transactional,
                        "contract": m.contract,
                        "sql": describe_step(m.forward),
                    }
                    for m in plan
                ],
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            plan = _migrate_plan(manifest, _settled_history(conn, manifest), target, allow_contract)
            applied: list[dict[str, Any]] = []
            for index, migration in enumerate(plan):
                pending = [m.id for m in plan[index:]]
                if not deadline.can_start():
                    raise _out_of_time(deadline, "stopped before the next migration", migration,
                                       "applied", applied, pending)  # fmt: skip
                try:
                    applied.append(_apply_one(conn, migration, len(applied), settings, deadline))
                except OutOfTime as exc:
                    raise _out_of_time(deadline, str(exc), migration, "applied", applied, pending) from None
                except MigrationFailed as exc:
                    exc.details["applied"] = applied
                    raise
            # The containers' role, and grants on what was just created (still under the lock).
            role = app_role.ensure_configured(conn, settings.app_secret_id, details={"applied": applied})
            return {"dry_run": False, "applied": applied, "app_role": role}


def _migrate_plan(
    manifest: Manifest, history: dict[str, store.AppliedRecord], target: str | None, allow_contract: bool
) -> list[Migration]:
    _check_consistent(manifest, history, history)
    migrations = list(manifest.migrations)
    if target is not None:
        found = manifest.find(target)
        migrations = migrations[: migrations.index(found) + 1]
    plan = [m for m in migrations if m.id not in history]
    contracts = [m for m in plan if m.contract]
    if contracts and not allow_contract:
        raise _contract_refusal(plan, contracts[0])
    return plan


def _apply_one(
    conn: psycopg.Connection, migration: Migration, earlier: int, settings: Settings, deadline: Deadline
) -> dict[str, Any]:
    row = (migration.id, migration.name, migration.checksum)

    def once() -> tuple[int, bool]:
        return _run_one(
            conn,
            migration,
            migration.forward,
            record_sql=lambda: store.insert_record_sql(conn, *row),
            record=lambda ms: store.insert_record(conn, *row, ms),
            settings=settings,
            deadline=deadline,
        )

    try:
        duration, attempts, notices = _with_retries(
            conn, migration, once, verb="forward", settings=settings, deadline=deadline
        )
    except _Failed as failed:
        reason = _failure_reason(conn, failed)
        scope = (
            "It was rolled back and not recorded"
            if migration.transactional
            else "It ran outside a transaction (transactional=False): statements before the failing one may "
            "have taken effect, so it must be safe to re-run; it was not recorded"
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
    return {**_summary(migration), "duration_ms": duration, "attempts": attempts, "notices": notices}


# ------------------------------------------------------------------------------------------- list


def list_migrations(
    database: Database, *, manifest: ManifestLike = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Every migration known to the code or recorded in the database, with its state: ``applied``,
    ``baselined`` (recorded by ``baseline`` without running), ``pending``, ``changed`` (content differs from
    what was applied) or ``missing_from_code``."""
    settings = settings or Settings()
    manifest = load_manifest(manifest)
    with _connection(database, settings) as conn:
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
                **_summary(m),
                "state": state,
                "applied_at": record.applied_at.isoformat() if record else None,
                "duration_ms": record.duration_ms if record else None,
                "contract": m.contract,
                "transactional": m.transactional,
                "reversible": m.reversible,
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
                }
            )
    counts = {s: 0 for s in ("applied", "baselined", "pending", "changed", "missing_from_code")}
    for entry in entries:
        counts[entry["state"]] += 1
    return {"migrations": entries, "counts": counts}


# ------------------------------------------------------------------------------------------- rollback


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
    with _connection(database, settings) as conn:
        if dry_run:
            plan = _rollback_plan(manifest, store.read_history(conn), steps, target)
            return {
                "dry_run": True,
                "rolled_back": [],
                "would_roll_back": [
                    {**_summary(m), "transactional": m.transactional, "sql": describe_step(m.reverse)}
                    for m in plan
                ],
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            plan = _rollback_plan(manifest, _settled_history(conn, manifest), steps, target)
            done: list[dict[str, Any]] = []
            for index, migration in enumerate(plan):
                remaining = [m.id for m in plan[index:]]
                if not deadline.can_start():
                    raise _out_of_time(deadline, "stopped before the next rollback", migration,
                                       "rolled_back", done, remaining)  # fmt: skip
                try:
                    done.append(_reverse_one(conn, migration, len(done), settings, deadline))
                except OutOfTime as exc:
                    stop = str(exc)
                    raise _out_of_time(deadline, stop, migration, "rolled_back", done, remaining) from None
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
    _check_consistent(Manifest(manifest.migrations), {i: history[i] for i in chosen}, chosen)
    plan = [by_id[i] for i in chosen]
    irreversible = [m.label for m in plan if not m.reversible]
    if irreversible:
        raise IrreversibleMigration(
            f"nothing was rolled back: {', '.join(irreversible)} cannot be undone (declared irreversible). "
            "Roll back fewer steps (to after it), or restore from a snapshot and write a new forward "
            "migration",
            details={"irreversible": [m.id for m in plan if not m.reversible]},
        )
    return plan


def _reverse_one(
    conn: psycopg.Connection, migration: Migration, earlier: int, settings: Settings, deadline: Deadline
) -> dict[str, Any]:
    assert migration.reverse is not None

    def once() -> tuple[int, bool]:
        return _run_one(
            conn,
            migration,
            migration.reverse,  # type: ignore[arg-type]
            record_sql=lambda: store.delete_record_sql(conn, migration.id),
            record=lambda _ms: store.delete_record(conn, migration.id),
            settings=settings,
            deadline=deadline,
        )

    try:
        duration, attempts, notices = _with_retries(
            conn, migration, once, verb="reverse", settings=settings, deadline=deadline
        )
    except _Failed as failed:
        reason = _failure_reason(conn, failed)
        logs.log("rollback failed", level="ERROR", migration=migration.id, reason=reason)
        raise MigrationFailed(
            f"rolling back {migration.label} failed: {reason}. It stays applied; the {earlier} migration(s) "
            "rolled back earlier in this run stay rolled back. Fix the reverse step and run rollback again",
            details={"failed": migration.id, "attempts": failed.attempts, "notices": failed.notices},
        ) from None
    logs.log("migration rolled back", migration=migration.id, duration_ms=duration, attempts=attempts)
    return {**_summary(migration), "duration_ms": duration, "attempts": attempts, "notices": notices}


# ------------------------------------------------------------------------------------------- baseline


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
    with _connection(database, settings) as conn:
        if dry_run:
            plan = _baseline_plan(manifest, store.read_history(conn), found, upto)
            return {
                "dry_run": True,
                "baselined": [],
                "would_baseline": [{**_summary(m), "contract": m.contract} for m in plan],
            }
        with store.migration_lock(conn, settings.lock_wait_seconds):
            plan = _baseline_plan(manifest, _settled_history(conn, manifest), found, upto)
            with conn.transaction():
                store.insert_baseline(conn, [(m.id, m.name, m.checksum) for m in plan])
            logs.log("baseline recorded", target=found.id, migrations=len(plan))
            return {"dry_run": False, "baselined": [_summary(m) for m in plan]}


def _baseline_plan(
    manifest: Manifest, history: dict[str, store.AppliedRecord], found: Migration, upto: list[Migration]
) -> list[Migration]:
    _check_consistent(manifest, history, history)
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


# ------------------------------------------------------------------------------------------- seed


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
    with _connection(database, settings) as conn, store.migration_lock(conn, settings.lock_wait_seconds):
        history = store.read_history(conn)
        _check_consistent(manifest, history, history)
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
                reason = _pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"
                raise SeedFailed(
                    f"seed {item.id}_{item.name} failed: {reason}. It was rolled back; seeds before it stay. "
                    "Fix it and run seed again (seeds are idempotent)",
                    details={"seeded": seeded, "failed": item.id},
                ) from None
            seeded.append(
                {"id": item.id, "name": item.name, "rows_changed": rows, "duration_ms": _ms(started)}
            )
            logs.log("seed applied", seed=item.id, rows_changed=rows)
        return {"environment": settings.environment, "seeded": seeded}


def _run_seed(conn: psycopg.Connection, step: Step) -> int:
    if callable(step):
        result = step(conn)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    total = 0
    for statement in _statements(step):
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        total += max(cursor.rowcount, 0)
    return total


# ------------------------------------------------------------------------------------------- sql


def sql(database: Database, statement: str, *, settings: Settings | None = None) -> dict[str, Any]:
    """Run one read-only statement as the sql action's own role (see migrator.roles): the guard allows it
    (or raises UnsafeSQL) before anything connects, the server-side check allows what it resolves to, then it
    runs in a READ ONLY transaction with a statement timeout and row and byte caps. Returns columns, rows,
    row_count, truncated, bytes and the role it ran as."""
    settings = settings or Settings()
    from migrator import guard, readonly  # pglast: only this action needs it

    guard.plan_sql(statement)
    with _reader_connection(_credentials(database), settings) as (conn, setup):
        result = readonly.run_readonly(
            conn,
            statement,
            row_limit=settings.sql_row_limit,
            statement_timeout_ms=settings.sql_timeout_ms,
            max_bytes=settings.sql_max_bytes,
        )
    result["role"] = settings.sql_role
    if setup and (setup["created"] or setup["not_set"]):
        result["role_setup"] = setup
    return result


# The reader role is set up once per container (and again whenever it cannot log in).
_readers_ready: set[str] = set()


@contextmanager
def _reader_connection(
    creds: Credentials, settings: Settings
) -> Iterator[tuple[psycopg.Connection, dict[str, Any] | None]]:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from migrator import roles

    parts = conninfo_to_dict(creds.conninfo)
    # Derived from the migrator's password, or fresh for a migrator that logs in without one (peer, trust).
    password = roles.reader_password(creds.password, settings.sql_role) if creds.password else None
    key = hashlib.sha256(f"{creds.conninfo}|{settings.sql_role}|{settings.sql_schemas}".encode()).hexdigest()
    setup = None
    for attempt in (1, 2):
        if key not in _readers_ready or attempt == 2 or password is None:
            password = password or roles.random_password()
            with _connection(creds, settings) as admin:
                setup = roles.ensure_reader(
                    admin, role=settings.sql_role, password=password, schemas=settings.sql_schemas
                )
            if creds.password:
                _readers_ready.add(key)
        reader = {**parts, "user": settings.sql_role, "password": password}
        try:
            conn = psycopg.connect(
                make_conninfo(**reader),
                autocommit=True,
                connect_timeout=settings.connect_timeout,
                application_name="release-kit-sql",
            )
        except psycopg.OperationalError as exc:
            _readers_ready.discard(key)
            if attempt == 2:
                raise DatabaseUnavailable(
                    f"could not log in as the sql action's role {settings.sql_role!r} on the "
                    f"{creds.description}: {_pg_reason(exc)}. Check that the database accepts password "
                    "logins for it (pg_hba.conf, or the RDS security group)"
                ) from None
            continue
        try:
            yield conn, setup
        finally:
            conn.close()
        return


# ------------------------------------------------------------------------------------------- dispatch


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
    handlers: dict[type, Callable[[], dict[str, Any]]] = {
        MigrateRequest: lambda: migrate(
            database,
            target=request.target,
            dry_run=request.dry_run,
            allow_contract=request.allow_contract,
            manifest=manifest,
            settings=settings,
            deadline=deadline,
        ),
        ListRequest: lambda: list_migrations(database, manifest=manifest, settings=settings),
        RollbackRequest: lambda: rollback(
            database,
            steps=request.steps,
            target=request.target,
            dry_run=request.dry_run,
            manifest=manifest,
            settings=settings,
            deadline=deadline,
        ),
        SeedRequest: lambda: seed(
            database,
            allow_production_seed=request.allow_production_seed,
            manifest=manifest,
            settings=settings,
        ),
        SqlRequest: lambda: sql(database, request.sql, settings=settings),
        BaselineRequest: lambda: baseline(
            database, target=request.target, dry_run=request.dry_run, manifest=manifest, settings=settings
        ),
    }
    return handlers[type(request)]()
