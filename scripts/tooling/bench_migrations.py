"""Benchmark the migration runner against yoyo, dbmate and the psql floor (``make bench-migrations``).

The same sequence of N small migrations (each: create a table with an index and a row; reverse: drop it)
is applied, run again with nothing to do ("noop"), listed and rolled back by each tool against the local
PostgreSQL, on a fresh database per tool and repeat. Reported: the median wall time per phase, and ratios.
The default N (300) is a real-size history: the issue that asked for these numbers adopted 269 pairs.

- runner: ``migrator.runner`` in-process (the Lambda's warm path), logs included (written to /dev/null).
- runner-cli: the same migrations as up/down SQL files listed in a manifest, run by ``python -m
          scripts.release.migrate`` (behind ``make migrate``) with DATABASE_URL, as a new process per
          phase: what ``make migrate`` pays (interpreter start-up, imports, reading the manifest and its
          files, the JSON result), logs included.
- yoyo:   yoyo's Python API in-process (read_migrations + backend.apply/rollback under its lock).
- dbmate: the ``dbmate`` binary (one process for apply and status; it rolls back one migration per call,
          so "rollback all" is N processes: that is how dbmate does it).
- psql:   the floor: the same SQL in one ``psql`` session, each migration in its own BEGIN/COMMIT, no history;
          its "noop" is a ``psql`` process that connects and runs ``SELECT 1``.

Start-up (printed after the table): what a ``make migrate`` with nothing to do costs as a process, against
``psql`` and against Python itself (the interpreter, psycopg's import and one connection: what any Python
client pays), and the import time of the CLI and the handler in a fresh interpreter (``-X importtime``).

Then what the compatibility check and the statement inventory's capture add to a migrate with one pending
migration over that history, with 2,000 inventory statements (scripts/tooling/bench_compatibility.py).

    python -m scripts.tooling.bench_migrations [--count 300] [--repeats 5] [--only peers|compatibility]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "lambda") not in sys.path:
    sys.path.insert(0, str(REPO / "lambda"))

import psycopg  # noqa: E402
from migrator import runner  # noqa: E402
from migrator.runner.manifest import Manifest, Migration  # noqa: E402
from migrator.settings import Settings  # noqa: E402

from scripts.localdefault import localenv  # noqa: E402
from scripts.tooling import bench_startup  # noqa: E402

BIN = Path(sys.executable).parent
PHASES = ("apply", "noop", "list", "rollback")


def forward_sql(n: int) -> str:
    return (
        f"CREATE TABLE bench_{n} (id bigint PRIMARY KEY, note text NOT NULL DEFAULT '');\n"
        f"CREATE INDEX bench_{n}_note_idx ON bench_{n} (note);\n"
        f"INSERT INTO bench_{n} (id, note) VALUES ({n}, 'migration {n}');\n"
    )


def reverse_sql(n: int) -> str:
    return f"DROP TABLE bench_{n};\n"


def runner_manifest(count: int) -> Manifest:
    return Manifest(
        tuple(
            Migration(f"{n:04d}", f"bench_{n}", forward_sql(n), reverse_sql(n)) for n in range(1, count + 1)
        )
    )


_CLI_MANIFEST = """from pathlib import Path

from migrator.runner.manifest import sql_pair

_SQL = Path(__file__).resolve().parent / "sql"
MIGRATIONS = tuple(sql_pair(_SQL / stem) for stem in (
{stems}))
"""


def write_files(root: Path, count: int) -> dict[str, Path]:
    yoyo_dir, dbmate_dir = root / "yoyo", root / "dbmate"
    yoyo_dir.mkdir()
    dbmate_dir.mkdir()
    cli_sql = root / "cli" / "migrations" / "sql"
    cli_sql.mkdir(parents=True)
    (root / "cli" / "migrations" / "__init__.py").write_text("")
    stems = [f"{n:04d}_bench_{n}" for n in range(1, count + 1)]
    (root / "cli" / "migrations" / "manifest.py").write_text(
        _CLI_MANIFEST.format(stems="".join(f"    {stem!r},\n" for stem in stems))
    )
    apply_lines, rollback_lines = [], []
    for n in range(1, count + 1):
        (cli_sql / f"{n:04d}_bench_{n}.up.sql").write_text(forward_sql(n))
        (cli_sql / f"{n:04d}_bench_{n}.down.sql").write_text(reverse_sql(n))
        (yoyo_dir / f"{n:04d}_bench_{n}.sql").write_text(forward_sql(n))
        (yoyo_dir / f"{n:04d}_bench_{n}.rollback.sql").write_text(reverse_sql(n))
        (dbmate_dir / f"{n:04d}_bench_{n}.sql").write_text(
            f"-- migrate:up\n{forward_sql(n)}\n-- migrate:down\n{reverse_sql(n)}"
        )
        apply_lines.append(f"BEGIN;\n{forward_sql(n)}COMMIT;\n")
        rollback_lines.insert(0, f"BEGIN;\n{reverse_sql(n)}COMMIT;\n")
    (root / "apply.sql").write_text("".join(apply_lines))
    (root / "rollback.sql").write_text("".join(rollback_lines))
    return {
        "cli": root / "cli",
        "yoyo": yoyo_dir,
        "dbmate": dbmate_dir,
        "apply": root / "apply.sql",
        "rollback": root / "rollback.sql",
    }


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)


# ------------------------------------------------------------------------------------------------ tools


def bench_runner(url: str, count: int, files: dict[str, Path]) -> dict[str, float]:
    manifest = runner_manifest(count)
    settings = Settings(lock_wait_seconds=0)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        apply = _timed(lambda: runner.migrate(url, manifest=manifest, settings=settings))
        noop = _timed(lambda: runner.migrate(url, manifest=manifest, settings=settings))
        listing = _timed(lambda: runner.list_migrations(url, manifest=manifest, settings=settings))
        rollback = _timed(lambda: runner.rollback(url, steps=count, manifest=manifest, settings=settings))
    return {"apply": apply, "noop": noop, "list": listing, "rollback": rollback}


def cli_env(files: dict[str, Path]) -> dict[str, str]:
    """The environment of the runner-cli processes: no KIT_/MIGRATOR_ settings of the caller, and the bench's
    manifest (SQL files) first on the path, then the migrator package and the scripts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "MIGRATOR_", "AWS_LAMBDA"))}
    env["PYTHONPATH"] = os.pathsep.join([str(files["cli"]), str(REPO / "lambda"), str(REPO)])
    return env


def bench_runner_cli(url: str, count: int, files: dict[str, Path]) -> dict[str, float]:
    env = {**cli_env(files), "DATABASE_URL": url}
    cli = [sys.executable, "-m", "scripts.release.migrate"]

    def phase(**kit: str) -> None:
        # cwd: `python -m` puts it first on the path, and the repository's own migrations must not win.
        _run(cli, {**env, **{f"KIT_{k.upper()}": v for k, v in kit.items()}}, cwd=files["cli"])

    return {
        "apply": _timed(lambda: phase(action="migrate")),
        "noop": _timed(lambda: phase(action="migrate")),
        "list": _timed(lambda: phase(action="list")),
        "rollback": _timed(lambda: phase(action="rollback", steps=str(count))),
    }


def bench_yoyo(url: str, count: int, files: dict[str, Path]) -> dict[str, float]:
    from yoyo import get_backend, read_migrations

    yoyo_url = url.replace("postgresql://", "postgresql+psycopg://", 1)

    def apply():
        backend = get_backend(yoyo_url)
        migrations = read_migrations(str(files["yoyo"]))
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
        backend.connection.close()

    def listing():
        backend = get_backend(yoyo_url)
        migrations = read_migrations(str(files["yoyo"]))
        applied = backend.get_applied_migration_hashes()
        [(m.id, m.hash in applied) for m in migrations]
        backend.connection.close()

    def rollback():
        backend = get_backend(yoyo_url)
        migrations = read_migrations(str(files["yoyo"]))
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(migrations))
        backend.connection.close()

    return {
        "apply": _timed(apply),
        "noop": _timed(apply),
        "list": _timed(listing),
        "rollback": _timed(rollback),
    }


def bench_dbmate(url: str, count: int, files: dict[str, Path]) -> dict[str, float]:
    base = [
        str(BIN / "dbmate"),
        "--url",
        f"{url}?sslmode=disable",
        "--migrations-dir",
        str(files["dbmate"]),
        "--no-dump-schema",
    ]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    def rollback_all():
        for _ in range(count):
            _run([*base, "rollback"], env)

    return {
        "apply": _timed(lambda: _run([*base, "migrate"], env)),
        "noop": _timed(lambda: _run([*base, "migrate"], env)),
        "list": _timed(lambda: _run([*base, "status"], env)),
        "rollback": _timed(rollback_all),
    }


def bench_psql(url: str, count: int, files: dict[str, Path]) -> dict[str, float]:
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    return {
        "apply": _timed(lambda: _run([*psql, "-f", str(files["apply"])])),
        "noop": _timed(lambda: _run([*psql, "-c", "SELECT 1"])),  # a process that connects and asks once
        "list": float("nan"),  # no history to list: the floor records nothing
        "rollback": _timed(lambda: _run([*psql, "-f", str(files["rollback"])])),
    }


TOOLS: dict[str, Callable[[str, int, dict[str, Path]], dict[str, float]]] = {
    "runner": bench_runner,
    "runner-cli": bench_runner_cli,
    "yoyo": bench_yoyo,
    "dbmate": bench_dbmate,
    "psql": bench_psql,
}


def _check_applied(url: str, count: int) -> None:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'bench\\_%'"
        ).fetchone()[0]
    if tables != 0:
        raise RuntimeError(f"rollback left {tables} bench tables behind")


def startup(state: localenv.State, files: dict[str, Path], rounds: int) -> dict:
    """A migrate with nothing to do, as a process, on a database where the whole history is applied."""
    with localenv.scratch_database(state.admin_url, prefix="bench") as url:
        env = {**cli_env(files), "DATABASE_URL": url, "KIT_ACTION": "migrate"}
        _run([sys.executable, "-m", "scripts.release.migrate"], env, cwd=files["cli"])
        return bench_startup.measure(url, cli_env(files), files["cli"], rounds)


def run(count: int, repeats: int) -> dict:
    state = localenv.up()
    samples: dict[str, dict[str, list[float]]] = {t: {p: [] for p in PHASES} for t in TOOLS}
    with tempfile.TemporaryDirectory(prefix="bench-migrations-") as tmp:
        files = write_files(Path(tmp), count)
        for repeat in range(repeats):
            # Rotate the order each repeat so no tool always runs first (or right after another's DROP).
            names = list(TOOLS)
            names = names[repeat % len(names) :] + names[: repeat % len(names)]
            for tool in names:
                bench = TOOLS[tool]
                with localenv.scratch_database(state.admin_url, prefix="bench") as url:
                    timings = bench(url, count, files)
                    _check_applied(url, count)
                for phase, ms in timings.items():
                    samples[tool][phase].append(ms)
            print(f"[bench] repeat {repeat + 1}/{repeats} done", file=sys.stderr, flush=True)
        started = startup(state, files, rounds=3 * repeats)
        print("[bench] start-up measured", file=sys.stderr, flush=True)
    medians = {
        tool: {
            phase: round(statistics.median(v), 1) if v and v[0] == v[0] else None for phase, v in ph.items()
        }
        for tool, ph in samples.items()
    }
    best = {
        tool: {phase: round(min(v), 1) if v and v[0] == v[0] else None for phase, v in ph.items()}
        for tool, ph in samples.items()
    }
    # Each repeat runs every tool back to back, so a ratio within one repeat sees the same machine load;
    # the median of those paired ratios moves far less than a ratio of medians taken minutes apart.
    paired = {
        path: round(
            statistics.median(
                r / f for r, f in zip(samples[tool]["apply"], samples["psql"]["apply"], strict=True)
            ),
            2,
        )
        for path, tool in RUNNER_PATHS.items()
    }
    return {
        "count": count,
        "repeats": repeats,
        "median_ms": medians,
        "best_ms": best,
        "paired_apply_over_psql": paired,
        "startup": started,
    }


PEERS = ("yoyo", "dbmate", "psql")
# The runner's two paths: in-process (the warm Lambda) and a new process per phase (make migrate).
RUNNER_PATHS = {"in-process": "runner", "process": "runner-cli"}
TARGETS = {"in-process": 1.5, "process": 1.2}  # runner apply / psql floor


def _ratio(peer_ms: float | None, runner_ms: float | None) -> float | None:
    return round(peer_ms / runner_ms, 2) if peer_ms is not None and runner_ms else None


def table(result: dict) -> str:
    med = result["median_ms"]
    lines = [
        f"{result['count']} migrations, median of {result['repeats']} runs (ms)",
        f"{'tool':<11} " + " ".join(f"{p:>10}" for p in PHASES),
    ]
    for tool, phases in med.items():
        lines.append(
            f"{tool:<11} "
            + " ".join(f"{'n/a':>10}" if ms is None else f"{ms:>10.1f}" for ms in phases.values())
        )
    lines += ["", "peer time / runner time (>1: the runner is faster)"]
    lines.append(
        f"{'peer':<11} "
        + "   ".join(
            f"{path + ' (' + tool + ')':<{11 * len(PHASES) - 1}}" for path, tool in RUNNER_PATHS.items()
        )
    )
    lines.append(f"{'':<11} " + "   ".join(" ".join(f"{p:>10}" for p in PHASES) for _ in RUNNER_PATHS))
    for peer in PEERS:
        blocks = []
        for tool in RUNNER_PATHS.values():
            cells = [_ratio(med[peer][p], med[tool][p]) for p in PHASES]
            blocks.append(" ".join(f"{'n/a':>10}" if r is None else f"{r:>10.2f}" for r in cells))
        lines.append(f"{peer:<11} " + "   ".join(blocks))
    best = result["best_ms"]
    lines.append(
        "\nbest of the repeats, apply: "
        + ", ".join(f"{tool} {phases['apply']:.1f}" for tool, phases in best.items())
        + " (a shared machine's load moves medians; the best run shows each tool's own cost)"
    )
    floor = med["psql"]["apply"]
    for path, tool in RUNNER_PATHS.items():
        paired = result["paired_apply_over_psql"][path]
        verdict = "ok" if paired <= TARGETS[path] else "OVER TARGET"
        lines.append(
            f"{tool} apply / psql floor = {paired:.2f} ({path}; target <= {TARGETS[path]}: {verdict}; "
            f"median of the per-repeat ratios, the ratio of the medians is {med[tool]['apply'] / floor:.2f})"
        )
    lines += bench_startup.report(result["startup"])
    return "\n".join(lines)


def summary(result: dict) -> dict:
    med = result["median_ms"]
    ratios = {
        path: {peer: {p: _ratio(med[peer][p], med[tool][p]) for p in PHASES} for peer in PEERS}
        for path, tool in RUNNER_PATHS.items()
    }
    return {
        "benchmark": "migrations",
        **result,
        "peer_over_runner": ratios,
        "runner_apply_over_psql_floor": result["paired_apply_over_psql"],
        "targets": TARGETS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_migrations", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("peers", "compatibility"), help="run one half of the benchmark")
    args = parser.parse_args(argv)
    if args.only != "compatibility":
        result = run(args.count, args.repeats)
        print(table(result))
        print(json.dumps(summary(result)))
    if args.only != "peers":
        from scripts.tooling import bench_compatibility

        compatibility = bench_compatibility.run(
            runner_manifest(args.count), 2000, max(3, args.repeats // 2 + 1)
        )
        print(bench_compatibility.table(compatibility))
        print(json.dumps({"benchmark": "compatibility", **compatibility}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
