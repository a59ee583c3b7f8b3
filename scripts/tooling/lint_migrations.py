"""Lint the forward SQL of every migration still to come with squawk (``make lint-migrations``).

Migrations up to and including the manifest's ``LINT_CUTOFF`` are history that already ran elsewhere
(imported from another tool, or baselined): they are listed as adopted and not linted, so adopting years of
migrations written under other rules does not fail ``make test``. Everything after it is linted as below.

A SQL-file migration is linted in its own up file (so squawk's line numbers are the file's); a Python module's
SQL goes to its own temporary ``.sql`` file. Transactional migrations are linted with
``--assume-in-transaction`` (the runner wraps them in one). Rules:

- Expand (non-contract) migrations must have no squawk finding except the style notes in ``ADVISORY``:
  they run while the previous release still serves traffic, so anything squawk calls unsafe for running
  clients (ban-drop-column, renaming-column, changing-column-type, adding-not-nullable-field,
  adding-required-field, require-concurrent-index-creation, constraint-missing-not-valid, ...) fails.
- Contract migrations are reported but allowed: breaking the previous release is what they are for, and
  the runner refuses them unless ``allow_contract: true``.
- Python-function migrations (batched backfills) have no SQL file to lint; they are listed as skipped.
- ``require-lock-timeout`` and ``require-statement-timeout`` are excluded: the runner sets both for every
  migration's session (MIGRATOR_LOCK_TIMEOUT, MIGRATOR_STATEMENT_TIMEOUT).

Exit status 1 when an expand migration has a blocking finding, 2 when the lint could not run (squawk
missing or failing, the manifest not loading, a ``LINT_CUTOFF`` that names no migration). GNU make exits 2
for any failing recipe, so ``make lint-migrations`` carries the lint's own code in its last line
(``Error 1`` or ``Error 2``); CI that needs it as a status runs the module directly. ``SQUAWK`` names
another squawk binary.

    python -m scripts.tooling.lint_migrations [--manifest dotted.module]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "lambda") not in sys.path:
    sys.path.insert(0, str(REPO / "lambda"))

from migrator.runner.manifest import Manifest, Migration, is_noop, load_manifest  # noqa: E402

# Rule names exactly as squawk reports them (tests/unit/test_migrator_lint.py checks each one against the
# names squawk itself reports: an alias such as "prefer-timestamptz" is accepted by --exclude but never
# reported, so a set of reported names would silently miss it).
EXCLUDED = ("require-lock-timeout", "require-statement-timeout")
# Style advice: reported, never blocking.
ADVISORY = frozenset(
    {
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-text-field",
        "prefer-timestamp-tz",
        "ban-char-field",
    }
)


@dataclass
class Finding:
    rule: str
    message: str
    line: int


@dataclass
class Outcome:
    migration: Migration
    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None

    @property
    def blocking(self) -> list[Finding]:
        if self.migration.contract:
            return []
        return [f for f in self.findings if f.rule not in ADVISORY]

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        if self.blocking:
            return "FAIL"
        if self.findings and self.migration.contract:
            return "allowed (contract)"
        return "ok" if not self.findings else "ok (notes)"


class LintUnavailable(Exception):
    """The lint could not run (exit status 2)."""


def _kit_findings(migration: Migration) -> list[Finding]:
    """What squawk does not catch for a single-statement file: CONCURRENTLY in a transactional migration
    (PostgreSQL would refuse it at run time), and transaction control in one (the runner refuses it)."""
    if not migration.transactional or not isinstance(migration.forward, str):
        return []
    from migrator.runner.transactions import control_statements

    try:
        controls = control_statements(migration.forward)
    except Exception:  # squawk reports what the parser cannot read
        controls = []
    if controls:
        return [
            Finding(
                "kit-transaction-control-needs-no-transaction",
                f"{controls[0].keyword} inside the runner's transaction: remove the BEGIN/COMMIT, or declare "
                "no-transaction to run it as written",
                controls[0].line,
            )
        ]
    text = Path(migration.files[0]).read_text() if migration.files else migration.forward.strip()
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(r"\bconcurrently\b", line.split("--", 1)[0], re.IGNORECASE):
            return [
                Finding(
                    "kit-concurrently-needs-transactional-false",
                    "CONCURRENTLY cannot run inside a transaction: declare transactional=False",
                    number,
                )
            ]
    return []


def squawk_binary() -> str:
    if os.environ.get("SQUAWK"):
        return os.environ["SQUAWK"]
    local = Path(sys.executable).parent / "squawk"
    found = str(local) if local.exists() else shutil.which("squawk")
    if not found:
        raise FileNotFoundError("squawk not found: run `make venv` (it installs squawk-cli)")
    return found


def _squawk(cmd: list[str], path: Path) -> list[dict]:
    """squawk's JSON findings for one file; LintUnavailable when squawk did not run or did not answer."""
    try:
        proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise LintUnavailable(f"squawk ({cmd[0]}) cannot run: {exc.strerror}") from None
    try:
        raw = json.loads(proc.stdout)
    except ValueError:
        raw = None
    # squawk answers a JSON list ("[]" when clean) and exits 0, or 1 with findings; anything else (no
    # answer at all, another status) is squawk failing, never a clean file.
    if proc.returncode not in (0, 1) or not isinstance(raw, list):
        reason = proc.stderr.strip() or proc.stdout[:300].strip() or f"exit status {proc.returncode}"
        raise LintUnavailable(f"squawk failed on {path.name}: {reason}")
    return raw


ADOPTED = "adopted history (at or before LINT_CUTOFF): not linted"


def manifest_and_cutoff(source=None) -> tuple[Manifest, str | None]:
    """The manifest, and its ``LINT_CUTOFF`` when it is a module (None: lint everything)."""
    try:
        module = (
            importlib.import_module(source or "migrations.manifest")
            if not source or isinstance(source, str)
            else source
        )
        cutoff = getattr(module, "LINT_CUTOFF", None)
        manifest = load_manifest(module)
    except Exception as exc:
        raise LintUnavailable(f"the manifest does not load: {type(exc).__name__}: {exc}") from None
    if cutoff is not None and manifest.find(cutoff) is None:
        raise LintUnavailable(f"LINT_CUTOFF = {cutoff!r} names no migration in the manifest")
    return manifest, cutoff


def lint(manifest=None, *, pg_version: str = "15") -> list[Outcome]:
    """Run squawk on the forward SQL of every migration after the cut-off; one Outcome per migration, in
    manifest order (adopted ones skipped). ``manifest`` is a dotted module name, a module or a list of
    migrations (no cut-off)."""
    if manifest is None or isinstance(manifest, str) or hasattr(manifest, "MIGRATIONS"):
        loaded, cutoff = manifest_and_cutoff(manifest)
    else:
        loaded, cutoff = load_manifest(manifest), None
    squawk = squawk_binary()
    outcomes: list[Outcome] = []
    adopted = cutoff is not None
    with tempfile.TemporaryDirectory(prefix="lint-migrations-") as tmp:
        for migration in loaded.migrations:
            if adopted:
                outcomes.append(Outcome(migration, skipped=ADOPTED))
                adopted = cutoff not in (migration.id, migration.label)
                continue
            if not isinstance(migration.forward, str):
                outcomes.append(Outcome(migration, skipped="python function: no SQL to lint"))
                continue
            if is_noop(migration.forward):
                outcomes.append(Outcome(migration, skipped="no SQL to lint"))
                continue
            if migration.files:
                path = Path(migration.files[0])
            else:
                path = Path(tmp) / f"{migration.id}_{migration.name}.sql"
                path.write_text(migration.forward.strip() + "\n")
            cmd = [squawk, "--reporter", "json", "--pg-version", pg_version, "--exclude", ",".join(EXCLUDED)]
            cmd.append("--assume-in-transaction" if migration.transactional else "--no-assume-in-transaction")
            raw = _squawk(cmd, path)
            findings = [Finding(v["rule_name"], v["message"], int(v.get("line", 0)) + 1) for v in raw]
            findings += _kit_findings(migration)
            outcomes.append(Outcome(migration, findings))
    return outcomes


def _shown(path: str) -> str:
    return str(Path(path).relative_to(REPO)) if Path(path).is_relative_to(REPO) else path


def report(outcomes: list[Outcome]) -> str:
    lines = [f"{'migration':<44} {'kind':<9} verdict"]
    adopted = [o for o in outcomes if o.skipped == ADOPTED]
    if adopted:
        lines.append(
            f"{len(adopted)} migration(s) {adopted[0].migration.label} .. "
            f"{adopted[-1].migration.label}: {ADOPTED}"
        )
    for o in outcomes:
        if o.skipped == ADOPTED:
            continue
        kind = "contract" if o.migration.contract else "expand"
        lines.append(f"{o.migration.label[:44]:<44} {kind:<9} {o.verdict}")
        if o.migration.files:
            lines.append(f"    - file: {_shown(o.migration.files[0])}")
        if o.skipped:
            lines.append(f"    - {o.skipped}")
        for f in o.findings:
            tag = "note" if f.rule in ADVISORY or o.migration.contract else "BLOCKING"
            lines.append(f"    - [{tag}] line {f.line}: {f.rule}: {f.message}")
    failed = [o for o in outcomes if o.blocking]
    if failed:
        lines.append(
            f"\n{len(failed)} expand migration(s) would break the release still serving traffic: "
            + ", ".join(o.migration.label for o in failed)
            + ".\nMake them backward compatible (e.g. add nullable columns, CREATE INDEX CONCURRENTLY with "
            "transactional=False, NOT VALID constraints), or mark the breaking part contract=True and run it "
            "after the switch."
        )
    else:
        checked = len(outcomes) - len(adopted)
        lines.append(f"\nsquawk: {checked} migration(s) checked, no blocking findings.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lint_migrations", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--manifest", default=None, help="dotted module exposing MIGRATIONS (default: the project's)"
    )
    args = parser.parse_args(argv)
    try:
        outcomes = lint(args.manifest)
    except (FileNotFoundError, LintUnavailable) as exc:
        print(f"lint-migrations could not lint (exit 2): {exc}", file=sys.stderr)
        return 2
    print(report(outcomes))
    return 1 if any(o.blocking for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
