"""A database the way RDS runs it, for the colour-role, inventory and compatibility tests.

The migrator is a non-superuser with CREATEROLE, CREATEDB and pg_read_all_stats (the RDS master user has the
last through rds_superuser, a member of pg_monitor), owning its database. pg_stat_statements is preloaded by
the local default; the extension is created in the database by the superuser, as the RDS master user would
(the migrator cannot here: the extension is not trusted). The group and colour roles get names of their own
per test (roles are cluster-wide), and everything is dropped afterwards: the database, its shadow and the
roles.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from migrator.runner.shadow import shadow_name
from migrator.settings import Settings
from psycopg import sql


@dataclass
class RdsLike:
    admin_url: str  # superuser, database postgres
    admin_db_url: str  # superuser, this database
    migrator_url: str
    migrator: str
    database: str
    port: int
    settings: Settings
    extra_roles: list[str] = field(default_factory=list)

    @property
    def group(self) -> str:
        return self.settings.app_group

    def role(self, color: str) -> str:
        return self.settings.roles_by_color[color]

    def with_settings(self, **changes: Any) -> Settings:
        return replace(self.settings, **changes)

    def run_as(self, color: str, statements: Sequence[tuple[str, tuple] | str], *, times: int = 1) -> None:
        """Run ``statements`` as ``color``'s role (SET ROLE in a superuser session: pg_stat_statements
        records the role that ran them), each in its own transaction that is rolled back."""
        with psycopg.connect(self.admin_db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.role(color))))
            for _ in range(times):
                for item in statements:
                    text, params = (item, None) if isinstance(item, str) else item
                    with conn.transaction(force_rollback=True):
                        conn.execute(text, params)  # type: ignore[arg-type]

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_db_url, autocommit=True)


def as_recorded(text: str, params: Sequence[Any]) -> str:
    """A statement as pg_stat_statements records it: psycopg sends each %s as $1, $2, ..."""
    for number in range(1, len(params) + 1):
        text = text.replace("%s", f"${number}", 1)
    return text


@contextmanager
def rds_like_database(admin_url: str, port: int, *, extension: bool = True) -> Iterator[RdsLike]:
    tag = uuid.uuid4().hex[:8]
    migrator, database, group = f"mig_{tag}", f"rds_{tag}", f"app_{tag}"
    password = secrets.token_urlsafe(16)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {} IN ROLE pg_read_all_stats").format(
                sql.Identifier(migrator), sql.Literal(password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(migrator))
        )
    admin_db_url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    if extension:
        with psycopg.connect(admin_db_url, autocommit=True) as admin:
            admin.execute("CREATE EXTENSION pg_stat_statements")
    settings = Settings(
        app_group=group,
        color_roles=(("blue", f"{group}_blue"), ("green", f"{group}_green")),
        lock_wait_seconds=5,
    )
    setup = RdsLike(
        admin_url=admin_url,
        admin_db_url=admin_db_url,
        migrator_url=f"postgresql://{migrator}:{password}@127.0.0.1:{port}/{database}",
        migrator=migrator,
        database=database,
        port=port,
        settings=settings,
    )
    try:
        yield setup
    finally:
        drop(admin_url, [database, shadow_name(database)], [*setup.settings.roles_by_color.values(), group,
                                                          *setup.extra_roles, migrator])  # fmt: skip


def drop(admin_url: str, databases: list[str], roles: list[str]) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in databases:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        for name in roles:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
