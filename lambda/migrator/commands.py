"""The runner's commands: plain documented functions that the Lambda handler, the local CLI and the tests
all call. Each returns the action's result fields as a JSON-ready dict, or raises a
:class:`~migrator.errors.MigratorError` saying what to do.

``database`` is a connection string / URL or a resolved :class:`~migrator.credentials.Credentials`;
``manifest`` defaults to the project's ``migrations.manifest`` (tests and the benchmark pass their own).

One connection per run: it holds the session advisory lock for the whole run, and every migration runs in its
own transaction on it (``transactional=False`` migrations run statement by statement in autocommit).
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
from migrator.errors import (
    ChecksumMismatch,
    ContractRefused,
    DatabaseError,
    DatabaseUnavailable,
    IrreversibleMigration,
    MigrationFailed,
    ProductionSeedRefused,
    SchemaNotReady,
    SeedFailed,
    UnknownAppliedMigrations,
    UnknownTarget,
)
from migrator.events import ListRequest, MigrateRequest, Request, RollbackRequest, SeedRequest, SqlRequest
from migrator.migration import Manifest, ManifestLike, Migration, Step, describe_step, load_manifest
from migrator.settings import Settings

__all__ = ["list_migrations", "migrate", "rollback", "run", "seed", "sql"]

Database = str | Credentials


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


def _execute_step(conn: psycopg.Connection, step: Step, *, in_transaction: bool) -> int | None:
    """Run SQL text or call the function. Outside a transaction SQL runs one statement at a time, because
    PostgreSQL wraps a multi-statement query string in one implicit transaction, which CONCURRENTLY
    refuses."""
    if callable(step):
        result = step(conn)
        return result if isinstance(result, int) and not isinstance(result, bool) else None
    if in_transaction:
        conn.execute(step)  # type: ignore[arg-type]  # trusted migration SQL, simple-query protocol
        return None
    for statement in _statements(step):
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
    drifted = [i for i in ids if i in history and i in by_id and history[i].checksum != by_id[i].checksum]
    if drifted:
        labels = ", ".join(by_id[i].label for i in drifted)
        raise ChecksumMismatch(
            f"applied migration(s) changed since they were applied: {labels}. "
            "Applied migrations are history: "
            "restore their original content and put the change in a new migration",
            details={"changed": drifted},
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
) -> dict[str, Any]:
    """Apply pending migrations in manifest order, up to and including ``target`` when given.

    Refuses (changing nothing) when an applied migration changed, the database knows migrations the code
    does not, or a contract migration is pending without ``allow_contract``. ``dry_run`` reports what would
    run, SQL included, and writes nothing (not even the history table). Returns
    ``{"applied": [{id, name, duration_ms}], "dry_run": bool}`` (plus ``"would_apply"`` for a dry run).
    """
    settings = settings or Settings()
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
            store.ensure_history(conn)
            plan = _migrate_plan(manifest, store.read_history(conn), target, allow_contract)
            applied: list[dict[str, Any]] = []
            for migration in plan:
                applied.append(_apply_one(conn, migration, applied))
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
    conn: psycopg.Connection, migration: Migration, applied: list[dict[str, Any]]
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        if migration.transactional and isinstance(migration.forward, str):
            record = store.insert_record_sql(conn, migration.id, migration.name, migration.checksum)
            _one_transaction(conn, migration.forward, record)
            duration = _ms(started)
        elif migration.transactional:
            with conn.transaction():
                _execute_step(conn, migration.forward, in_transaction=True)
                duration = _ms(started)
                store.insert_record(conn, migration.id, migration.name, migration.checksum, duration)
        else:
            _execute_step(conn, migration.forward, in_transaction=False)
            duration = _ms(started)
            store.insert_record(conn, migration.id, migration.name, migration.checksum, duration)
    except (psycopg.Error, Exception) as exc:
        if isinstance(exc, psycopg.OperationalError) and conn.closed:
            reason = f"lost the database connection ({_pg_reason(exc)})"
        else:
            reason = _pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"
        scope = (
            "It was rolled back and not recorded"
            if migration.transactional
            else "It ran outside a transaction (transactional=False): statements before the failing one may "
            "have taken effect, so it must be safe to re-run; it was not recorded"
        )
        earlier = ", ".join(a["id"] for a in applied) or "none"
        logs.log("migration failed", level="ERROR", migration=migration.id, reason=reason)
        raise MigrationFailed(
            f"migration {migration.label} failed: {reason}. {scope}. "
            "Migrations applied earlier in this run stay "
            f"applied ({earlier}). Fix the migration (or the data) and run migrate again",
            details={"applied": applied, "failed": migration.id},
        ) from None
    logs.log("migration applied", migration=migration.id, duration_ms=duration)
    return {**_summary(migration), "duration_ms": duration}


# ------------------------------------------------------------------------------------------- list


def list_migrations(
    database: Database, *, manifest: ManifestLike = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Every migration known to the code or recorded in the database, with its state: ``applied``,
    ``pending``, ``changed`` (content differs from what was applied) or ``missing_from_code``."""
    settings = settings or Settings()
    manifest = load_manifest(manifest)
    with _connection(database, settings) as conn:
        history = store.read_history(conn)
    entries: list[dict[str, Any]] = []
    for m in manifest.migrations:
        record = history.get(m.id)
        if record is None:
            state = "pending"
        elif record.checksum != m.checksum:
            state = "changed"
        else:
            state = "applied"
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
    counts = {s: 0 for s in ("applied", "pending", "changed", "missing_from_code")}
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
) -> dict[str, Any]:
    """Undo the last ``steps`` applied migrations, or every one applied after ``target``, newest first.

    Before undoing anything it checks every migration in that set: all must be known to the code, unchanged
    since applied, and reversible; otherwise nothing is undone and the error names them.
    """
    if (steps is None) == (target is None):
        raise UnknownTarget('rollback needs exactly one of "steps" or "target"')
    settings = settings or Settings()
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
            plan = _rollback_plan(manifest, store.read_history(conn), steps, target)
            done: list[dict[str, Any]] = []
            for migration in plan:
                done.append(_reverse_one(conn, migration, done))
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
    conn: psycopg.Connection, migration: Migration, done: list[dict[str, Any]]
) -> dict[str, Any]:
    started = time.perf_counter()
    assert migration.reverse is not None
    try:
        if migration.transactional and isinstance(migration.reverse, str):
            _one_transaction(conn, migration.reverse, store.delete_record_sql(conn, migration.id))
        elif migration.transactional:
            with conn.transaction():
                _execute_step(conn, migration.reverse, in_transaction=True)
                store.delete_record(conn, migration.id)
        else:
            _execute_step(conn, migration.reverse, in_transaction=False)
            store.delete_record(conn, migration.id)
    except (psycopg.Error, Exception) as exc:
        reason = _pg_reason(exc) if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}"
        earlier = ", ".join(d["id"] for d in done) or "none"
        logs.log("rollback failed", level="ERROR", migration=migration.id, reason=reason)
        raise MigrationFailed(
            f"rolling back {migration.label} failed: {reason}. It stays applied; "
            "migrations rolled back earlier in "
            f"this run stay rolled back ({earlier}). Fix the reverse step and run rollback again",
            details={"rolled_back": done, "failed": migration.id},
        ) from None
    duration = _ms(started)
    logs.log("migration rolled back", migration=migration.id, duration_ms=duration)
    return {**_summary(migration), "duration_ms": duration}


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
    request: Request, database: Database, *, settings: Settings | None = None, manifest: ManifestLike = None
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
        ),
        ListRequest: lambda: list_migrations(database, manifest=manifest, settings=settings),
        RollbackRequest: lambda: rollback(
            database,
            steps=request.steps,
            target=request.target,
            dry_run=request.dry_run,
            manifest=manifest,
            settings=settings,
        ),
        SeedRequest: lambda: seed(
            database,
            allow_production_seed=request.allow_production_seed,
            manifest=manifest,
            settings=settings,
        ),
        SqlRequest: lambda: sql(database, request.sql, settings=settings),
    }
    return handlers[type(request)]()
