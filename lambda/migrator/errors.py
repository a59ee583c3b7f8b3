"""Every error the migrator can report. One base type; the handler turns any of them into
``{"ok": false, "error": {"type": <class name>, "message": <message>}}`` (plus ``details`` when the error
carries partial results, e.g. which migrations a failed run did apply).

Messages say what was wrong and what to do, and never carry a password or a connection string.
"""

from __future__ import annotations

from typing import Any


class MigratorError(Exception):
    """Base of every error that reaches a user."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = dict(details or {})

    @property
    def type(self) -> str:
        return type(self).__name__

    @property
    def message(self) -> str:
        return str(self)


class InvalidEvent(MigratorError):
    """The event is malformed: unknown action, unknown key, wrong type or out-of-range value."""


class UnsafeSQL(MigratorError):
    """The `sql` action's statement is not in the read-only allow-list."""


class QueryFailed(MigratorError):
    """A read-only statement passed the guard but PostgreSQL rejected it (timeout, unknown column, ...)."""


# ------------------------------------------------------------------------------ configuration, credentials


class ConfigurationError(MigratorError):
    """An environment variable the migrator reads is missing or has an unusable value."""


class CredentialsError(MigratorError):
    """The database credentials could not be obtained."""


class SecretNotConfigured(CredentialsError):
    """Running in Lambda but DB_SECRET_ID is not set."""


class SecretNotFound(CredentialsError):
    """Secrets Manager has no secret with the configured id."""


class SecretAccessDenied(CredentialsError):
    """The function's role may not read (or decrypt) the secret."""


class SecretMalformed(CredentialsError):
    """The secret is not the RDS JSON shape (not JSON, not an object, or keys missing)."""


class DatabaseUnavailable(MigratorError):
    """PostgreSQL could not be reached or refused the login."""


# ------------------------------------------------------------------------------------------ the runner


class ManifestError(MigratorError):
    """The migration manifest is inconsistent (duplicate ids, wrong types)."""


class OwnTransaction(ManifestError):
    """A migration's SQL controls transactions (BEGIN/COMMIT/...) where that would break the runner's promise
    that a migration and its history row commit together."""


class LockNotAcquired(MigratorError):
    """Another migration run holds the advisory lock."""


class ChecksumMismatch(MigratorError):
    """An applied migration's content changed since it was applied."""


class UnknownAppliedMigrations(MigratorError):
    """The database records migrations this code does not know (the database is ahead of the code)."""


class UnknownTarget(MigratorError):
    """The target names no migration known to the code (or, for rollback, none that is applied)."""


class ContractRefused(MigratorError):
    """A contract migration would run without ``allow_contract: true``."""


class IrreversibleMigration(MigratorError):
    """A rollback would have to undo a migration that declares no reverse."""


class MigrationFailed(MigratorError):
    """A migration's SQL failed; it was rolled back and not recorded."""


class SchemaNotReady(MigratorError):
    """Seeds need every migration applied first."""


class ProductionSeedRefused(MigratorError):
    """Seeding an environment named production without ``allow_production_seed: true``."""


class SeedFailed(MigratorError):
    """A seed's SQL failed; its transaction was rolled back."""


class DatabaseError(MigratorError):
    """PostgreSQL rejected one of the runner's own statements (not a migration's)."""


class OutOfTime(MigratorError):
    """The invocation's remaining time ran out: the runner stopped between migrations (or a statement was
    cancelled at the deadline and rolled back); what was applied stays applied, the next run continues."""


class BaselineRefused(MigratorError):
    """``baseline`` would contradict the history: it already records migrations past the target."""


class ForeignStateRefused(BaselineRefused):
    """``baseline`` from another tool's state table refused: the table says a migration is dirty or failed,
    records a version no imported migration has, or cannot be read."""


class Incompatible(MigratorError):
    """A pending migration breaks a statement that a colour which still serves has run (or the check could
    not prove that it does not); nothing was changed. ``allow_incompatible`` overrides it."""


class InventoryUnavailable(MigratorError):
    """The statement inventory could not be brought up to date (pg_stat_statements missing, not loaded, or
    not readable for the migrator)."""
