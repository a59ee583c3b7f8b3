"""Start-up, for ``make bench-migrations``: what a ``make migrate`` with nothing to do costs as a process, and
what the migrator imports before it does anything.

- **noop process**: ``python -m scripts.release.migrate`` (what ``make migrate`` runs) with ``ACTION=migrate``
  on a database where the whole history is applied, against two floors measured in the same rounds (turn
  about, so they see the same machine load): ``psql -c 'SELECT 1'`` (a process that connects and asks once)
  and the Python floor, ``python -c "import psycopg; psycopg.connect(url).execute('SELECT 1')"``: the
  interpreter, psycopg's import and one connection, which any Python client pays before its own work.
- **imports**: the time to import ``migrator.cli`` and ``migrator.handler`` in a fresh interpreter, and the
  ``migrate`` command's own module with them (the dispatch imports only it), the best of several runs.

It imports nothing of the migrator itself: everything runs in child processes, as ``make`` would.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_NOOP_MS = 120  # issue 16: a migrate with nothing to do, as a process
IMPORTS = {
    "migrator.cli": "import migrator.cli",
    "migrator.handler": "import migrator.handler",
    "handler + migrate command": "import migrator.handler, migrator.runner.migrate",
}


def _once(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall time and the child's own CPU time (user + system), in ms. CPU time moves far less than wall time
    on a shared machine: it does not count the time spent waiting for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return elapsed, cpu


def noop_process(url: str, env: dict[str, str], cwd: Path, rounds: int = 15) -> dict[str, dict[str, float]]:
    """Median and best ms of each command over ``rounds`` rounds, the commands taking turns."""
    python = sys.executable
    commands = {
        "make migrate (noop)": [python, "-m", "scripts.release.migrate"],
        "python floor": [python, "-c", f"import psycopg; psycopg.connect({url!r}).execute('SELECT 1')"],
        "psql floor": ["psql", "-X", "-q", "-d", url, "-c", "SELECT 1"],
    }
    run_env = {**env, "KIT_ACTION": "migrate", "DATABASE_URL": url}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm the page cache and the .pyc files once
        _once(cmd, run_env, cwd)
    for _ in range(rounds):
        for name, cmd in commands.items():
            samples[name].append(_once(cmd, run_env, cwd))
    return {
        name: {
            "median": round(statistics.median(wall for wall, _ in v), 1),
            "best": round(min(wall for wall, _ in v), 1),
            "cpu": round(statistics.median(cpu for _, cpu in v), 1),
        }
        for name, v in samples.items()
    }


def import_ms(statement: str, env: dict[str, str], cwd: Path, runs: int = 7) -> float:
    """The best wall time of ``statement`` (imports) in a fresh interpreter, in ms. ``python -X importtime``
    gives the per-module breakdown behind it (what to load lazily next)."""
    probe = f"import time; s = time.perf_counter(); {statement}; print((time.perf_counter() - s) * 1000)"
    best = float("inf")
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True, check=True
        )
        best = min(best, float(proc.stdout.strip()))
    return round(best, 1)


def measure(url: str, env: dict[str, str], cwd: Path, rounds: int = 15) -> dict:
    result: dict = {"noop_ms": noop_process(url, env, cwd, rounds)}
    result["imports_ms"] = {name: import_ms(stmt, env, cwd) for name, stmt in IMPORTS.items()}
    noop = result["noop_ms"]
    result["noop_over_psql"] = round(noop["make migrate (noop)"]["median"] / noop["psql floor"]["median"], 2)
    result["noop_over_python_floor"] = round(
        noop["make migrate (noop)"]["median"] / noop["python floor"]["median"], 2
    )
    result["noop_cpu_over_python_floor"] = round(
        noop["make migrate (noop)"]["cpu"] / noop["python floor"]["cpu"], 2
    )
    result["goal_noop_ms"] = GOAL_NOOP_MS
    return result


def report(result: dict) -> list[str]:
    noop = result["noop_ms"]
    lines = [
        "",
        "start-up: a migrate with nothing to do, as a process (ms: wall median / best, its CPU time)",
    ]
    for name, ms in noop.items():
        lines.append(f"  {name:<22} {ms['median']:>7.1f} / {ms['best']:<7.1f} cpu {ms['cpu']:.1f}")
    ours = noop["make migrate (noop)"]["median"]
    verdict = "ok" if ours <= GOAL_NOOP_MS else "OVER GOAL"
    lines.append(
        f"  goal <= {GOAL_NOOP_MS} ms: {verdict}; {result['noop_over_psql']:.2f}x psql, "
        f"{result['noop_over_python_floor']:.2f}x the Python floor (interpreter + psycopg + one connection; "
        f"{result['noop_cpu_over_python_floor']:.2f}x in CPU time)"
    )
    lines.append("imports in a fresh interpreter (best of 7, ms): " + ", ".join(
        f"{name} {ms:.1f}" for name, ms in result["imports_ms"].items()
    ))  # fmt: skip
    return lines


if __name__ == "__main__":  # python -m scripts.tooling.bench_startup URL: on a database already migrated
    here = Path.cwd()
    print("\n".join(report(measure(sys.argv[1], dict(os.environ), here))))
