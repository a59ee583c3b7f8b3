"""Migration folders and state tables in the documented formats of golang-migrate, dbmate, Flyway and goose,
written by the tests themselves (no other project's files are copied), and a realistic golang-migrate
history of hundreds of up/down pairs.

Formats, from each tool's documentation and source:
- golang-migrate: ``<version>_<title>.up.sql`` / ``.down.sql``; state ``schema_migrations(version bigint
  not null primary key, dirty boolean not null)``, one row (database/postgres/postgres.go).
- dbmate: ``<version>_<name>.sql`` with ``-- migrate:up`` / ``-- migrate:down`` (``transaction:false``);
  state ``schema_migrations(version varchar primary key)`` (pkg/driver/postgres).
- Flyway: ``V<version>__<desc>.sql``, ``U<version>__<desc>.sql``, ``<file>.conf`` script configuration;
  state ``flyway_schema_history`` (PostgreSQLDatabase.getRawCreateScript).
- goose: ``<version>_<name>.sql`` with ``-- +goose Up/Down``, ``NO TRANSACTION``, ``StatementBegin/End``;
  state ``goose_db_version(id, version_id, is_applied, tstamp)`` (internal/dialects/postgres.go).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from scripts.localdefault import localenv

REPO = Path(__file__).resolve().parents[1]

FUNCTION = """CREATE FUNCTION touch_{t}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NULL THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;
"""


@contextmanager
def rds_like_database(state: localenv.State) -> Iterator[str]:
    """A new database owned by the local default's migrator role (no superuser; CREATEROLE and CREATEDB,
    as the RDS master user), and its URL as that role; dropped afterwards."""
    name = f"adopt_{secrets.token_hex(6)}"
    with psycopg.connect(state.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER {localenv.APP_USER}')
    try:
        yield state.app_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(state.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write(folder: Path, files: dict[str, str] | dict[str, bytes]) -> Path:
    """Write ``files`` under ``folder`` (bytes as they are: CRLF and non-UTF-8 files; names may hold /)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            (folder / name).write_bytes(text)
        else:
            (folder / name).write_text(text)
    return folder


# ---------------------------------------------------------------------------------------- small folders


def golang_migrate_folder(folder: Path) -> Path:
    return write(
        folder,
        {
            "1_create_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
            "1_create_users.down.sql": "DROP TABLE users;\n",
            "2_backfill_email.up.sql": "UPDATE users SET email = lower(email);\n",
            "2_backfill_email.down.sql": "-- nothing to undo: the data stays lower-case\n",
            "3_index_email.up.sql": "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
            "3_index_email.down.sql": "DROP INDEX CONCURRENTLY users_email_idx;\n",
            "4_create_orders.up.sql": (
                "BEGIN;\nCREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n"
                "CREATE INDEX orders_user_idx ON orders (user_id);\nCOMMIT;\n"
            ),
            "4_create_orders.down.sql": "DROP TABLE orders;\n",
            "5_batches.up.sql": (
                "BEGIN;\nCREATE TABLE audit (id bigint);\nCOMMIT;\n"
                "BEGIN;\nINSERT INTO audit VALUES (1);\nCOMMIT;\n"
            ),
            "5_batches.down.sql": "DROP TABLE audit;\n",
            "6_touch.up.sql": "ALTER TABLE users ADD COLUMN updated_at timestamptz;\n"
            + FUNCTION.format(t="users"),
            "6_touch.down.sql": "",
            "README.md": "Run with migrate -path . up\n",
        },
    )


def dbmate_folder(folder: Path) -> Path:
    return write(
        folder,
        {
            "20200101000000_create_users.sql": (
                "-- migrate:up\nCREATE TABLE users (id bigint PRIMARY KEY, email text);\n\n"
                "-- migrate:down\nDROP TABLE users;\n"
            ),
            "20200102000000_index_email.sql": (
                "-- migrate:up transaction:false\n"
                "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n\n"
                "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY users_email_idx;\n"
            ),
            "20200103000000_backfill.sql": (
                "-- Lower-case every address.\n-- migrate:up\nUPDATE users SET email = lower(email);\n\n"
                "-- migrate:down\n"
            ),
        },
    )


def flyway_folder(folder: Path) -> Path:
    return write(
        folder,
        {
            "V1__Create_users.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
            "U1__Create_users.sql": "DROP TABLE users;\n",
            "V1_1__Add_name.sql": "ALTER TABLE users ADD COLUMN name text;\n",
            "U1_1__Add_name.sql": "ALTER TABLE users DROP COLUMN name;\n",
            "V2__Index_email.sql": "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
            "V2__Index_email.sql.conf": "executeInTransaction=false\n",
            "U2__Index_email.sql": "DROP INDEX CONCURRENTLY users_email_idx;\n",
            "V3__Backfill.sql": "UPDATE users SET name = email WHERE name IS NULL;\n",
        },
    )


def goose_folder(folder: Path) -> Path:
    return write(
        folder,
        {
            "00001_create_users.sql": (
                "-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY, email text,\n"
                "    updated_at timestamptz);\n\n-- +goose Down\nDROP TABLE users;\n"
            ),
            "00002_touch.sql": (
                "-- +goose Up\n-- +goose StatementBegin\n"
                + FUNCTION.format(t="users")
                + "-- +goose StatementEnd\n\n-- +goose Down\nDROP FUNCTION touch_users();\n"
            ),
            "00003_index_email.sql": (
                "-- +goose NO TRANSACTION\n-- +goose Up\n"
                "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n\n"
                "-- +goose Down\nDROP INDEX CONCURRENTLY users_email_idx;\n"
            ),
            "00004_backfill.sql": "-- +goose Up\nUPDATE users SET email = lower(email);\n\n-- +goose Down\n",
        },
    )


FOLDERS = {
    "golang-migrate": golang_migrate_folder,
    "dbmate": dbmate_folder,
    "flyway": flyway_folder,
    "goose": goose_folder,
}


# ------------------------------------------------------------------------------------------ state tables


def golang_migrate_state(
    url: str, version: int | None, dirty: bool = False, table: str = "schema_migrations"
):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (version bigint not null primary key, dirty boolean not null)")
        if version is not None:
            conn.execute(f"INSERT INTO {table} (version, dirty) VALUES (%s, %s)", (version, dirty))


FLYWAY_TABLE = """CREATE TABLE "flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
)"""


def flyway_state(
    url: str,
    rows: list[tuple[str | None, str, str, bool]],
    *,
    checksums: dict[str, int] | None = None,
    table: str = "flyway_schema_history",
) -> None:
    """rows: (version, type, script, success), in installed_rank order; ``checksums`` by script (the others
    NULL, which Flyway writes for rows without a file); ``table`` may be schema.name (the schema exists)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FLYWAY_TABLE.replace('"flyway_schema_history"', table))
        for rank, (version, kind, script, success) in enumerate(rows, start=1):
            conn.execute(
                f"INSERT INTO {table} (installed_rank, version, description, type, script, "
                "checksum, installed_by, execution_time, success) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'ci', 3, %s)",
                (
                    rank,
                    version,
                    script.split("__")[-1].removesuffix(".sql"),
                    kind,
                    script,
                    (checksums or {}).get(script),
                    success,
                ),
            )


def goose_state(url: str, rows: list[tuple[int, bool]]) -> None:
    """rows: (version_id, is_applied) in insertion order, after goose's own first row (0, true)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "
            "version_id bigint NOT NULL, is_applied boolean NOT NULL, "
            "tstamp timestamp NOT NULL DEFAULT now())"
        )
        for version, applied in [(0, True), *rows]:
            conn.execute(
                "INSERT INTO goose_db_version (version_id, is_applied) VALUES (%s, %s)", (version, applied)
            )


# ------------------------------------------------------------------------------ a realistic history


def _entity(n: int) -> str:
    return f"e{n:03d}"


def golang_migrate_history(folder: Path, entities: int = 45) -> dict[str, int]:
    """A golang-migrate history of about six pairs per entity (270 pairs for 45), as real services grow:
    tables with keys and indexes, columns, backfills whose down is empty or only comments, CHECK constraints
    added NOT VALID then validated, plpgsql triggers, views, an enum, a lone CREATE INDEX CONCURRENTLY, and
    files that run their own BEGIN/COMMIT (one transaction, and in a few, two). Returns counts by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {
        "pairs": 0,
        "empty_down": 0,  # comment-only: a no-op reverse
        "blank_down": 0,  # nothing at all, as `migrate create` leaves it: irreversible
        "own_transaction": 0,
        "two_transactions": 0,
        "concurrently": 0,
    }
    written = datetime(2019, 1, 7, 9, 30, 0)

    def pair(title: str, up: str, down: str) -> None:
        nonlocal written
        written += timedelta(days=2, hours=3, minutes=17)  # `migrate create -format 20060102150405` names
        version = written.strftime("%Y%m%d%H%M%S")
        (folder / f"{version}_{title}.up.sql").write_text(up)
        (folder / f"{version}_{title}.down.sql").write_text(down)
        counts["pairs"] += 1

    pair(
        "create_status_enum",
        "CREATE TYPE record_status AS ENUM ('draft', 'live');\n",
        "DROP TYPE record_status;\n",
    )
    for n in range(1, entities + 1):
        t = _entity(n)
        parent = f"{_entity(n - 1)}" if n > 1 else None
        fk = f",\n    parent_id bigint REFERENCES {parent} (id) ON DELETE CASCADE" if parent else ""
        create = (
            f"CREATE TABLE {t} (\n    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
            f"    name text NOT NULL,\n    status record_status NOT NULL DEFAULT 'draft',\n"
            f"    created_at timestamptz NOT NULL DEFAULT now(){fk}\n);\n"
            f"CREATE INDEX {t}_created_idx ON {t} (created_at);\n"
            f"COMMENT ON TABLE {t} IS 'entity {n}';\n"
        )
        if n % 4 == 0:  # written in the style of teams that wrap every file in a transaction
            create = f"BEGIN;\n\n{create}\nCOMMIT;\n"
            counts["own_transaction"] += 1
        pair(f"create_{t}", create, f"DROP TABLE {t};\n")
        pair(
            f"add_{t}_email",
            f"ALTER TABLE {t} ADD COLUMN email text;\nALTER TABLE {t} ADD COLUMN updated_at timestamptz;\n",
            f"ALTER TABLE {t} DROP COLUMN updated_at;\nALTER TABLE {t} DROP COLUMN email;\n",
        )
        if n % 15 == 7:  # a lone index built without blocking writes: golang-migrate runs it alone
            pair(
                f"index_{t}_email",
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {t}_email_idx ON {t} (email);\n",
                f"DROP INDEX CONCURRENTLY IF EXISTS {t}_email_idx;\n",
            )
            counts["concurrently"] += 1
        else:
            pair(
                f"index_{t}_email",
                f"CREATE INDEX {t}_email_idx ON {t} (lower(email));\n",
                f"DROP INDEX {t}_email_idx;\n",
            )
        down = ["", "-- irreversible: the old values are gone\n", "/* data only */\n\n-- nothing to undo\n"]
        backfill = f"UPDATE {t} SET email = lower(name) || '@example.com' WHERE email IS NULL;\n"
        if n % 9 == 3:  # a batched backfill: two transactions of its own
            backfill = (
                f"BEGIN;\nUPDATE {t} SET email = 'a' WHERE email IS NULL AND id % 2 = 0;\nCOMMIT;\n\n"
                f"BEGIN;\nUPDATE {t} SET email = 'b' WHERE email IS NULL;\nCOMMIT;\n"
            )
            counts["two_transactions"] += 1
        if n % 9 != 3 and n % 2 == 0:
            pair(f"backfill_{t}_email", backfill, down[n % 3])
            counts["blank_down" if not down[n % 3] else "empty_down"] += 1
        else:
            pair(f"backfill_{t}_email", backfill, f"UPDATE {t} SET email = NULL;\n")
        pair(
            f"check_{t}_name",
            f"ALTER TABLE {t} ADD CONSTRAINT {t}_name_len CHECK (char_length(name) < 200) NOT VALID;\n"
            f"ALTER TABLE {t} VALIDATE CONSTRAINT {t}_name_len;\n",
            f"ALTER TABLE {t} DROP CONSTRAINT {t}_name_len;\n",
        )
        touch = FUNCTION.format(t=t) + (
            f"CREATE TRIGGER {t}_touch BEFORE UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION touch_{t}();\n"
        )
        if n % 5 == 0:
            pair(
                f"view_{t}",
                f"CREATE VIEW {t}_live AS SELECT id, name, email FROM {t} WHERE status = 'live';\n",
                f"DROP VIEW {t}_live;\n",
            )
        else:
            pair(f"touch_{t}", touch, f"DROP TRIGGER {t}_touch ON {t};\nDROP FUNCTION touch_{t}();\n")
        if n % 3 == 0:
            pair(f"comment_{t}_email", f"COMMENT ON COLUMN {t}.email IS 'contact';\n", "-- comments stay\n")
            counts["empty_down"] += 1
    return counts


def copy_repo(into: Path) -> Path:
    """What a team's clone holds for the migrator (Makefile, lambda/, scripts/, migrations/, the Python
    settings), copied with their times so make sees the venv as up to date; run make there with
    ``VENV=<this repository's .venv>``."""
    into.mkdir(parents=True, exist_ok=True)
    for name in ("Makefile", "pyproject.toml", "requirements-dev.txt"):
        shutil.copy2(REPO / name, into / name)
    for name in ("lambda", "scripts", "migrations"):
        shutil.copytree(REPO / name, into / name, ignore=shutil.ignore_patterns("__pycache__", "certs"))
    return into


def copy_repo_migrations(into: Path) -> Path:
    """A scratch copy of this repository's migrations package (``into/migrations``)."""
    target = into / "migrations"
    shutil.copytree(REPO / "migrations", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
