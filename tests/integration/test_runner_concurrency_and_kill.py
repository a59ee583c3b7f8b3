"""The advisory lock under real concurrency, and a runner SIGKILLed in the middle of a migration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from migrator import runner
from migrator.errors import LockNotAcquired
from migrator.runner.manifest import Migration
from migrator.settings import Settings

from tests.integration.migrator_support import advisory_locks, history_ids, manifest, numbered

REPO = Path(__file__).resolve().parents[2]


def _slow_manifest():
    # Each migration takes a little while so that the eight runs really overlap.
    return manifest(
        *[
            Migration(
                f"{n:04d}",
                f"slow_{n}",
                f"SELECT pg_sleep(0.05); CREATE TABLE c{n} (id int);",
                f"DROP TABLE c{n};",
            )
            for n in range(1, 6)
        ]
    )


def _run_all_at_once(url: str, runs: int, settings: Settings) -> list[dict | Exception]:
    migrations = _slow_manifest()

    def one(_):
        try:
            return runner.migrate(url, manifest=migrations, settings=settings)
        except Exception as exc:  # collected and inspected below
            return exc

    with ThreadPoolExecutor(max_workers=runs) as pool:
        return list(pool.map(one, range(runs)))


def test_eight_concurrent_runs_that_do_not_wait_apply_each_migration_once(fresh_database):
    results = _run_all_at_once(fresh_database, 8, Settings(lock_wait_seconds=0))

    succeeded = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if not isinstance(r, dict)]
    assert all(isinstance(r, LockNotAcquired) for r in refused), refused
    assert all("another migration run holds the lock" in str(r) for r in refused)
    applied = [a["id"] for r in succeeded for a in r["applied"]]
    assert sorted(applied) == ["0001", "0002", "0003", "0004", "0005"]  # exactly once each
    assert history_ids(fresh_database) == ["0001", "0002", "0003", "0004", "0005"]
    assert advisory_locks(fresh_database) == 0


def test_eight_concurrent_runs_that_wait_all_succeed_and_apply_each_migration_once(fresh_database):
    results = _run_all_at_once(fresh_database, 8, Settings(lock_wait_seconds=60))

    assert all(isinstance(r, dict) for r in results), results
    applied = [a["id"] for r in results for a in r["applied"]]
    assert sorted(applied) == ["0001", "0002", "0003", "0004", "0005"]
    assert history_ids(fresh_database) == ["0001", "0002", "0003", "0004", "0005"]
    assert advisory_locks(fresh_database) == 0


def test_concurrent_processes_through_the_cli_apply_each_migration_once(fresh_database):
    # Real separate processes running the CLI (the project's migrations) at the same moment.
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'lambda'}{os.pathsep}{REPO}",
        "DATABASE_URL": fresh_database,
        "KIT_ACTION": "migrate",
        "KIT_TARGET": "0006",
        "MIGRATOR_LOCK_WAIT_SECONDS": "60",
    }
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "migrator.cli"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(8)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    applied = sorted(a["id"] for r in results for a in r["applied"])
    assert applied == ["0001", "0002", "0003", "0004", "0005", "0006"]


_KILLABLE_RUN = textwrap.dedent(
    """
    import sys
    from migrator import runner
    from tests.integration.test_runner_concurrency_and_kill import killable_manifest
    runner.migrate(sys.argv[1], manifest=killable_manifest())
    """
)


def killable_manifest():
    """0002 sleeps for as long as the session's test.sleep setting says (0 when unset): same checksum in the
    killed run (which sets it through PGOPTIONS) and in the next run (which does not)."""
    sleepy = Migration(
        "0002",
        "sleepy",
        "CREATE TABLE half (id int); "
        "SELECT pg_sleep(coalesce(current_setting('test.sleep', true), '0')::float);",
        "DROP TABLE half;",
    )
    return manifest(*numbered(1), sleepy, *numbered(1, start=3))


def _wait_for_sleep(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE '%%pg_sleep%%' "
                "AND pid <> pg_backend_pid() AND state = 'active'"
            ).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError("the runner never reached the sleeping migration")


def test_sigkill_mid_migration_leaves_nothing_recorded_and_no_stale_lock(fresh_database):
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'lambda'}{os.pathsep}{REPO}",
        "PGOPTIONS": "-c test.sleep=60",
    }
    killed = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE_RUN, fresh_database],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_sleep(fresh_database)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    finally:
        if killed.poll() is None:
            killed.kill()

    # THEN 0001 stays applied, nothing of 0002 is recorded ...
    assert history_ids(fresh_database) == ["0001"]
    # ... and the next run gets the lock (within its wait) and finishes the sequence
    result = runner.migrate(
        fresh_database, manifest=killable_manifest(), settings=Settings(lock_wait_seconds=30)
    )
    assert [a["id"] for a in result["applied"]] == ["0002", "0003"]
    assert history_ids(fresh_database) == ["0001", "0002", "0003"]
    assert advisory_locks(fresh_database) == 0
