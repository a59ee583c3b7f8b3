"""A database of its own for a module of `sql` action tests: owned by the migrator, as on RDS (a
non-superuser with CREATEROLE and CREATEDB), with a superuser's URL beside it to plant what an attacker
with more rights would, and dropped at the end whatever the tests left connected."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg

from scripts.localdefault import localenv


@contextlib.contextmanager
def migrator_owned(local_default: localenv.State, prefix: str) -> Iterator[dict[str, str]]:
    """``{"superuser": url, "migrator": url}`` of a new database named ``<prefix>_<random>``."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_default.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER {localenv.APP_USER}')
    try:
        yield {
            "superuser": local_default.admin_url.rsplit("/", 1)[0] + f"/{name}",
            "migrator": local_default.app_url.rsplit("/", 1)[0] + f"/{name}",
        }
    finally:
        with psycopg.connect(local_default.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dblink_conninfo(url: str) -> str:
    """``url`` as dblink's connection string (what a planted function writes through)."""
    parts = psycopg.conninfo.conninfo_to_dict(url)
    return " ".join(f"{key}={parts[key]}" for key in ("host", "port", "dbname", "user", "password"))
