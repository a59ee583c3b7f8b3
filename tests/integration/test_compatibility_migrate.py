"""The compatibility check inside migrate, dry runs and the handler, on a real PostgreSQL: a refusal changes
nothing, ALLOW_INCOMPATIBLE overrides it, the check takes no lock on a live table, the shadow database
follows the live history, and the project's own expand/contract sequence holds against a real workload's
query mix (scripts/release/traffic.py, what `make traffic` runs)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from migrator import runner
from migrator.errors import Incompatible
from migrator.handler import handle
from migrator.runner.manifest import Manifest, Migration
from migrator.runner.shadow import shadow_name
from psycopg import sql

from migrations import manifest as project
from scripts.release import traffic
from tests.integration.colour_support import RdsLike, rds_like_database
from tests.integration.migrator_support import columns, history_ids

BASE = Migration(
    "0001",
    "users",
    "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, username text NOT NULL, "
    "full_name text)",
    None,
)
RENAME = Migration("0002", "rename_full_name", "ALTER TABLE users RENAME COLUMN full_name TO name", None)
ADD = Migration("0002", "add_nickname", "ALTER TABLE users ADD COLUMN nickname text", None)


@pytest.fixture
def db(local_default) -> Iterator[RdsLike]:
    with rds_like_database(local_default.admin_url, local_default.pg_port) as setup:
        runner.migrate(setup.migrator_url, manifest=Manifest((BASE,)), settings=setup.settings)
        setup.run_as("blue", [("SELECT id, full_name FROM users WHERE id = %s", (1,))])
        yield setup


def test_migrate_refuses_a_migration_that_breaks_a_serving_colour_and_changes_nothing(db: RdsLike):
    with pytest.raises(Incompatible) as refused:
        runner.migrate(db.migrator_url, manifest=Manifest((BASE, RENAME)), settings=db.settings)
    assert history_ids(db.admin_db_url) == ["0001"]
    assert columns(db.admin_db_url, "users") == ["id", "username", "full_name"]
    compatibility = refused.value.details["compatibility"]
    assert compatibility["ok"] is False and compatibility["checked"] == 1
    assert compatibility["broken"][0]["statement"] == "SELECT id, full_name FROM users WHERE id = $1"
    assert refused.value.details["applied"] == []


def test_allow_incompatible_overrides_and_says_so(db: RdsLike):
    result = runner.migrate(
        db.migrator_url, manifest=Manifest((BASE, RENAME)), allow_incompatible=True, settings=db.settings
    )
    assert [m["id"] for m in result["applied"]] == ["0002"]
    assert (
        result["compatibility"]["ok"] is False and result["compatibility"]["allowed"] == "allow_incompatible"
    )


def test_warn_mode_reports_without_refusing_and_off_skips_the_check(db: RdsLike):
    warned = runner.migrate(
        db.migrator_url, manifest=Manifest((BASE, RENAME)), settings=db.with_settings(compat_check="warn")
    )
    assert warned["compatibility"]["allowed"] == "MIGRATOR_COMPAT_CHECK=warn"
    with psycopg.connect(db.admin_db_url, autocommit=True) as admin:
        admin.execute("ALTER TABLE users RENAME COLUMN name TO full_name")
        admin.execute("DELETE FROM release_kit_migrations WHERE id = '0002'")
    skipped = runner.migrate(
        db.migrator_url, manifest=Manifest((BASE, RENAME)), settings=db.with_settings(compat_check="off")
    )
    assert skipped["compatibility"]["mode"] == "off" and skipped["compatibility"]["checked"] == 0


def test_a_dry_run_carries_the_verdict(db: RdsLike):
    fine = runner.migrate(db.migrator_url, manifest=Manifest((BASE, ADD)), dry_run=True, settings=db.settings)
    assert fine["compatibility"]["ok"] is True and fine["compatibility"]["checked"] == 1
    with pytest.raises(Incompatible) as refused:
        runner.migrate(db.migrator_url, manifest=Manifest((BASE, RENAME)), dry_run=True, settings=db.settings)
    assert refused.value.details["would_apply"][0]["id"] == "0002"
    assert history_ids(db.admin_db_url) == ["0001"]


def test_the_handler_reports_incompatible_with_the_compatibility_object(db: RdsLike, monkeypatch):
    monkeypatch.setenv("MIGRATOR_APP_GROUP", db.group)
    env = {
        "DATABASE_URL": db.migrator_url,
        "MIGRATOR_APP_GROUP": db.group,
        "MIGRATOR_COLOR_ROLES": f"blue={db.role('blue')},green={db.role('green')}",
    }
    result = handle(
        {"action": "check", "target": "0002", "serving": ["blue", "green"]},
        environ=env,
        manifest=Manifest((BASE, RENAME)),
    )
    assert result["ok"] is False and result["error"]["type"] == "Incompatible"
    json.dumps(result)  # what the Lambda runtime does with it: plain JSON types only (no Decimal)
    assert result["compatibility"]["broken"][0]["color"] == "blue"
    assert "breaks blue" in result["error"]["message"]
    # Green alone serving (a contract step after the release): nothing of green's breaks
    fine = handle({"action": "check", "serving": ["green"]}, environ=env, manifest=Manifest((BASE, RENAME)))
    assert fine["ok"] is True and fine["would_apply"] == ["0002"]


def test_the_check_takes_no_lock_on_a_live_table(db: RdsLike):
    # GIVEN a live session holding the strongest lock on the table the migration changes
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with psycopg.connect(db.admin_db_url) as conn:
            conn.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    try:
        # WHEN the check runs (its lock_timeout is short: it would fail, not wait, if it touched the table)
        started = time.monotonic()
        with pytest.raises(Incompatible):
            runner.check(
                db.migrator_url,
                manifest=Manifest((BASE, RENAME)),
                settings=db.with_settings(lock_timeout="500ms"),
            )
        # THEN it reached its verdict without waiting for the lock
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()


def test_the_shadow_follows_the_live_history_and_is_rebuilt_when_it_diverges(db: RdsLike):
    shadow = db.admin_url.rsplit("/", 1)[0] + f"/{shadow_name(db.database)}"
    add = Migration("0002", "add_nickname", ADD.forward, "ALTER TABLE users DROP COLUMN nickname")
    email = Migration("0003", "add_email", "ALTER TABLE users ADD COLUMN email text", None)
    runner.migrate(
        db.migrator_url, target="0002", manifest=Manifest((BASE, add, email)), settings=db.settings
    )
    # WHEN the next migration is checked, THEN the shadow first replays what the live database applied since
    runner.check(db.migrator_url, manifest=Manifest((BASE, add, email)), settings=db.settings)
    assert history_ids(shadow) == ["0001", "0002"]
    # ... and the pending one was tried in a transaction that was rolled back
    assert columns(shadow, "users") == ["id", "username", "full_name", "nickname"]
    # WHEN the live database rolls 0002 back and another migration takes its place
    runner.rollback(db.migrator_url, steps=1, manifest=Manifest((BASE, add)), settings=db.settings)
    other = Migration("0002", "add_bio", "ALTER TABLE users ADD COLUMN bio text", None)
    runner.check(db.migrator_url, manifest=Manifest((BASE, other)), settings=db.settings)
    # THEN the shadow was rebuilt at the live level
    assert history_ids(shadow) == ["0001"]
    assert columns(shadow, "users") == ["id", "username", "full_name"]


@pytest.fixture
def empty(local_default) -> Iterator[RdsLike]:
    with rds_like_database(local_default.admin_url, local_default.pg_port) as setup:
        yield setup


def test_the_projects_expand_contract_sequence_against_a_real_query_mix(empty: RdsLike):
    """Blue runs version 1's statements, green version 2's, as `make traffic` does: the expand migrations
    keep both working, the contract step breaks blue (so it waits), and passes once only green serves."""
    db = empty
    settings = db.settings
    url = db.migrator_url
    runner.migrate(url, target="0003", manifest=project, settings=settings)
    with db.admin() as admin:
        admin.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(db.role("blue"))))
        traffic.run(admin, "blue", rounds=2)

    # The expand migrations (add display_name, backfill it in batches, index concurrently) keep blue working
    expand = runner.migrate(url, target="0006", manifest=project, settings=settings)
    assert [m["id"] for m in expand["applied"]] == ["0004", "0005", "0006"]
    assert expand["compatibility"]["ok"] is True
    assert expand["compatibility"]["checked"] == len(traffic.WORKLOADS["blue"])

    with db.admin() as admin:
        admin.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(db.role("green"))))
        traffic.run(admin, "green", rounds=2)

    # The contract step breaks every statement of blue's that uses full_name, and nothing of green's
    with pytest.raises(Incompatible) as refused:
        runner.check(url, manifest=project, settings=settings)
    broken = refused.value.details["compatibility"]["broken"]
    assert {b["color"] for b in broken} == {"blue"} and {b["migration"] for b in broken} == {"0007"}
    expected = [text for _, text, _ in traffic.WORKLOADS["blue"] if "full_name" in text]
    # (pg_stat_statements records constants as parameters too: "SELECT 1" is "SELECT $4" there)
    assert len(broken) == len(expected) and all("full_name" in b["statement"] for b in broken)
    assert {b["statement"] for b in broken} >= {
        _numbered(text) for text in expected if "SELECT 1" not in text
    }

    # Once blue is retired, only green serves: the contract step passes and runs
    contract = runner.migrate(
        url, manifest=project, allow_contract=True, serving=["green"], settings=settings
    )
    assert [m["id"] for m in contract["applied"]] == ["0007"]
    assert contract["compatibility"]["ok"] is True
    assert contract["compatibility"]["checked"] == len(traffic.WORKLOADS["green"])


def _numbered(text: str) -> str:
    number = 0
    while "%s" in text:
        number += 1
        text = text.replace("%s", f"${number}", 1)
    return text
