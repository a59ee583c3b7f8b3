"""What the compatibility check and the statement inventory cost, part of ``make bench-migrations`` (whose
module passes it the benchmark's history: ``bench_migrations --only compatibility`` runs this part alone).

On a fresh database of the local PostgreSQL: the benchmark's 300-migration history is applied, blue and green
run 2,000 distinct statements over its tables as their own roles (pg_stat_statements records them), and the
inventory captures them. Then, for one pending migration (a nullable column on one table), each repeat times:

    migrate, check off        MIGRATOR_COMPAT_CHECK=off: the migration, the history row, the role setup
    migrate, check (warm)     the same with the check; the shadow database is already at the live level
    migrate, check (cold)     the same after dropping the shadow: it is first rebuilt by replaying the 300
    capture                   one inventory capture on an open connection, with new calls to copy

(each migrate is rolled back, untimed, before the next). Reported: medians, the check's and the capture's
cost in milliseconds, and both as ratios against the migrate without the check. Targets: the check adds at
most 2 s to that migrate, the capture at most 20 ms to an action.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "lambda") not in sys.path:
    sys.path.insert(0, str(REPO / "lambda"))

import psycopg  # noqa: E402
from migrator import runner  # noqa: E402
from migrator.runner import inventory  # noqa: E402
from migrator.runner.manifest import Manifest, Migration  # noqa: E402
from migrator.runner.shadow import shadow_name  # noqa: E402
from migrator.settings import Settings  # noqa: E402
from psycopg import sql  # noqa: E402

from scripts.localdefault import localenv  # noqa: E402

TARGET_CHECK_MS = 2000
TARGET_CAPTURE_MS = 20


def with_pending(history: Manifest) -> Manifest:
    """The benchmark's history plus one pending migration: a nullable column on its first table."""
    pending = Migration(
        f"{len(history.migrations) + 1:04d}",
        "add_bench_1_extra",
        "ALTER TABLE bench_1 ADD COLUMN extra text;",
        "ALTER TABLE bench_1 DROP COLUMN extra;",
    )
    return Manifest((*history.migrations, pending))


def workload(statements: int, count: int) -> list[tuple[str, str, tuple]]:
    """``statements`` distinct (colour, SQL, parameters) over the bench tables: reads, writes and joins."""
    shapes = [
        ("SELECT id, note FROM bench_{a} WHERE id = %s", lambda a: (a,)),
        ("SELECT count(*) FROM bench_{a} WHERE note = %s", lambda a: ("x",)),
        ("UPDATE bench_{a} SET note = %s WHERE id = %s", lambda a: ("y", a)),
        ("INSERT INTO bench_{a} (id, note) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING", lambda a: (a, "z")),
        (
            "SELECT x.id, y.note FROM bench_{a} x JOIN bench_{b} y ON y.id = x.id WHERE x.id > %s LIMIT %s",
            lambda a: (0, 10),
        ),
        ("DELETE FROM bench_{a} WHERE id = %s AND note = %s", lambda a: (-1, "none")),
        ("SELECT * FROM bench_{a} ORDER BY id DESC LIMIT %s", lambda a: (5,)),
    ]
    found: list[tuple[str, str, tuple]] = []
    index = 0
    while len(found) < statements:
        table = index % count + 1
        text, params = shapes[(index // count) % len(shapes)]
        other = (table * 7) % count + 1
        color = "blue" if index % 2 == 0 else "green"
        found.append((color, text.format(a=table, b=other), params(table)))
        index += 1
    return found


def _median(samples: list[float]) -> float:
    return round(statistics.median(samples), 1)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(history: Manifest, statements: int = 2000, repeats: int = 3) -> dict:
    """Time the check and the capture over ``history`` (tables named bench_<n>, as bench_migrations makes)."""
    count = len(history.migrations)
    state = localenv.up()
    tag = uuid.uuid4().hex[:6]
    settings = Settings(
        app_group=f"bench_{tag}",
        color_roles=(("blue", f"bench_{tag}_blue"), ("green", f"bench_{tag}_green")),
        lock_wait_seconds=10,
    )
    manifest = with_pending(history)
    last = manifest.migrations[-2].id
    roles = [*settings.roles_by_color.values(), settings.app_group]
    samples: dict[str, list[float]] = {"off": [], "warm": [], "cold": [], "capture": []}
    with (
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stderr(devnull),
        localenv.scratch_database(state.admin_url, prefix="benchcompat") as url,
    ):
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                # A clean slate, so pg_stat_statements.max (5,000) keeps all 2,000 statements
                admin.execute("SELECT pg_stat_statements_reset()")
            runner.migrate(
                url, target=last, manifest=manifest, settings=replace(settings, compat_check="off")
            )
            mix = workload(statements, count)
            with psycopg.connect(url, autocommit=True) as admin:
                for color in ("blue", "green"):
                    admin.execute(
                        sql.SQL("SET ROLE {}").format(sql.Identifier(settings.roles_by_color[color]))
                    )
                    for _, text, params in (m for m in mix if m[0] == color):
                        admin.execute(text, params)  # type: ignore[arg-type]  # the bench's own SQL
                    admin.execute("RESET ROLE")
            first = runner.capture(url, settings=settings)["colors"]
            recorded = first["blue"]["statements"] + first["green"]["statements"]
            for _ in range(repeats):
                for mode in ("off", "warm", "cold"):
                    if mode == "cold":
                        _drop_shadow(state.admin_url, url)
                    chosen = replace(settings, compat_check="off" if mode == "off" else "enforce")
                    samples[mode].append(
                        _timed(lambda s=chosen: runner.migrate(url, manifest=manifest, settings=s))
                    )
                    runner.rollback(url, steps=1, manifest=manifest, settings=settings)
                samples["capture"].append(_capture_once(url, settings, mix))
                print(
                    f"[bench] compatibility repeat {len(samples['off'])}/{repeats} done", file=sys.__stderr__
                )
        finally:
            _drop_shadow(state.admin_url, url)
            with psycopg.connect(state.admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(url.rsplit("/", 1)[1])))  # fmt: skip
                for role in roles:
                    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    medians = {mode: _median(values) for mode, values in samples.items()}
    base = medians["off"]
    return {
        "statements": recorded,
        "history": count,
        "pending": 1,
        "repeats": repeats,
        "median_ms": medians,
        "check_ms": {"warm": round(medians["warm"] - base, 1), "cold": round(medians["cold"] - base, 1)},
        "capture_ms": medians["capture"],
        "over_migrate": {
            "check_warm": round((medians["warm"] - base) / base, 2),
            "check_cold": round((medians["cold"] - base) / base, 2),
            "capture": round(medians["capture"] / base, 3),
        },
        "targets_ms": {"check": TARGET_CHECK_MS, "capture": TARGET_CAPTURE_MS},
    }


def _drop_shadow(admin_url: str, url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(shadow_name(url.rsplit("/", 1)[1]))))  # fmt: skip


def _capture_once(url: str, settings: Settings, mix: list[tuple[str, str, tuple]]) -> float:
    """The median of five captures on an open connection (as an action's), each with 25 statements that ran
    again since the one before (a warm Lambda container has already located the view)."""
    again = [m for m in mix if m[0] == "blue"][:25]
    times: list[float] = []
    with psycopg.connect(url, autocommit=True) as conn:
        inventory.capture(conn, settings)
        for _ in range(5):
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(settings.roles_by_color["blue"])))
            for _, text, params in again:
                conn.execute(text, params)  # type: ignore[arg-type]  # the bench's own SQL
            conn.execute("RESET ROLE")
            times.append(_timed(lambda: inventory.capture(conn, settings)))
    return statistics.median(times)


def table(result: dict) -> str:
    med, check = result["median_ms"], result["check_ms"]
    ratios = result["over_migrate"]
    verdict_check = "ok" if max(check.values()) <= TARGET_CHECK_MS else "OVER TARGET"
    verdict_capture = "ok" if result["capture_ms"] <= TARGET_CAPTURE_MS else "OVER TARGET"
    return "\n".join(
        [
            f"compatibility check: {result['statements']} inventory statements, {result['history']}-"
            f"migration history, 1 pending; median of {result['repeats']} runs (ms)",
            f"  migrate, check off       {med['off']:>8.1f}",
            f"  migrate, check (warm)    {med['warm']:>8.1f}   the check adds {check['warm']:.1f} ms "
            f"({ratios['check_warm']:.2f}x the migrate)",
            f"  migrate, check (cold)    {med['cold']:>8.1f}   the check adds {check['cold']:.1f} ms "
            f"({ratios['check_cold']:.2f}x the migrate; the shadow rebuilt from {result['history']})",
            f"  capture                  {result['capture_ms']:>8.1f}   "
            f"({ratios['capture']:.3f}x the migrate)",
            f"  targets: the check adds <= {TARGET_CHECK_MS} ms: {verdict_check}; the capture adds <= "
            f"{TARGET_CAPTURE_MS} ms: {verdict_capture}",
        ]
    )
