"""Import another tool's migrations (``make import-migrations FROM=<tool> DIR=<path>``).

    python -m scripts.tooling.import_migrations --from golang-migrate --dir ../service/db/migrations
        [--migrations migrations] [--format json]

Writes each migration of the folder that the manifest does not list yet into ``migrations/sql/`` in the
kit's form (see :mod:`scripts.tooling.migration_sources` for each tool's conventions and the conversion),
appends one ``sql_pair(_SQL / "<stem>")`` line per migration to the manifest's ``_ENTRIES``, in the tool's
order, and moves the manifest's ``LINT_CUTOFF`` to the last one imported: history that already ran
elsewhere is not linted again.

- **Incremental.** A migration is already listed when the manifest holds one imported from the same tool
  and version (its ``origin``); it is never rewritten, even when its file changed in the folder since (that
  is reported). Running it again on the same folder changes nothing.
- **All or nothing.** Every file is read and converted, and the new manifest is loaded by the runner's own
  code in a scratch copy of the folder, before anything is written. A file that cannot be converted is
  named with the reason and nothing is written. The new SQL files are then written under temporary names
  and renamed, and the manifest is replaced last, by rename; a failure on the way removes what was written.

Exit status 0 when imported (or nothing new), 1 when refused. ``FORMAT=json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "lambda") not in sys.path:
    sys.path.insert(0, str(REPO / "lambda"))

from migrator.runner.origins import TOOLS, version_key  # noqa: E402

from scripts.tooling.manifest_file import ManifestFileError, append_entries, set_cutoff  # noqa: E402
from scripts.tooling.migration_sources import (  # noqa: E402
    Converted,
    ImportRefused,
    Refusal,
    Source,
    convert,
    read_folder,
)

# Loads a migrations package in a child interpreter (this process may hold another copy of `migrations`):
# what it lists, and whether the runner accepts the given migrations' SQL as it would run it.
_LOAD = """
import json, sys
try:
    import migrations.manifest as manifest
    from migrator.runner.transactions import refuse_own_transactions
    check = set(json.loads(sys.argv[1]))
    chosen = [m for m in manifest.MIGRATIONS if m.id in check]
    refuse_own_transactions([(m, m.forward, "up") for m in chosen])
    refuse_own_transactions([(m, m.reverse, "down") for m in chosen])
    print(json.dumps({
        "cutoff": getattr(manifest, "LINT_CUTOFF", None),
        "migrations": [
            {"id": m.id, "label": m.label, "origin": m.origin and list(m.origin), "files": list(m.files)}
            for m in manifest.MIGRATIONS
        ],
    }))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
"""


class ImportProblem(Exception):
    """The command cannot run as asked (unknown tool, no folder, a manifest it cannot append to)."""


@dataclass
class Outcome:
    tool: str
    folder: str
    imported: list[Converted] = field(default_factory=list)
    already_listed: int = 0
    changed_upstream: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    cutoff: str | None = None


# -------------------------------------------------------------------------------------- the manifest


def load_listed(package: Path, check: Sequence[str] = ()) -> dict[str, Any]:
    """What the migrations package at ``package`` lists, loaded in a child interpreter, after checking the
    migrations ``check`` names against the runner's transaction rule; ``{"error": ...}`` when it fails."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(package.parent), str(REPO / "lambda")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD, json.dumps(list(check))],
        capture_output=True,
        text=True,
        cwd=package.parent,
        env=env,
        check=False,
    )
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": (proc.stderr.strip().splitlines() or ["the manifest could not be loaded"])[-1]}


# ------------------------------------------------------------------------------------------ the import


def _plan(tool: str, folder: Path, package: Path) -> tuple[Outcome, dict, str]:
    if tool not in TOOLS:
        raise ImportProblem(f"FROM={tool or '(empty)'}: use one of {', '.join(TOOLS)}")
    if not folder.is_dir():
        raise ImportProblem(f"DIR={folder}: no such folder; give the folder that holds the {tool} migrations")
    manifest = package / "manifest.py"
    if not manifest.is_file():
        raise ImportProblem(f"{manifest} does not exist: give the kit's migrations folder")
    sources, refusals, ignored = read_folder(tool, folder)
    listed = load_listed(package)
    if "error" in listed:
        raise ImportProblem(f"the manifest does not load as it is: {listed['error']}")
    outcome = Outcome(tool, str(folder), ignored=ignored, cutoff=listed.get("cutoff"))
    by_origin = {
        version_key(tool, m["origin"][1]): m
        for m in listed["migrations"]
        if m["origin"] and m["origin"][0] == tool
    }
    ids = {m["id"] for m in listed["migrations"]}
    fresh: list[Source] = []
    for source in sources:
        if source.key in by_origin:
            outcome.already_listed += 1
            _compare(source, by_origin[source.key], outcome, refusals)
        else:
            fresh.append(source)
    newest = max(by_origin, default=None)
    for source in fresh:
        try:
            converted = convert(source)
        except Exception as exc:  # pglast's ParseError: the parser cannot read it
            refusals.append(Refusal(source.files[0], f"PostgreSQL's parser (pglast) cannot read it: {exc}"))
            continue
        if source.kit_id in ids:
            refusals.append(
                Refusal(source.files[0], f"the manifest already has a migration with id {source.kit_id}")
            )
        for name, _text in _files(converted):
            if (package / "sql" / name).exists():
                refusals.append(
                    Refusal(source.files[0], f"sql/{name} exists but the manifest does not list it")
                )
        if newest is not None and source.key < newest:
            converted.notes.append("older than migrations already imported: appended at the end, runs last")
        outcome.imported.append(converted)
    if refusals:
        raise ImportRefused(refusals)
    return outcome, listed, manifest.read_text(encoding="utf-8")


def _files(converted: Converted) -> list[tuple[str, str]]:
    """(file name, text) of the kit's files for one migration."""
    stem = converted.source.stem
    files = [(f"{stem}.up.sql", converted.up)]
    if converted.down is not None:
        files.append((f"{stem}.down.sql", converted.down))
    return files


def _compare(source: Source, listed: dict, outcome: Outcome, refusals: list[Refusal]) -> None:
    """Report (never rewrite) a listed migration whose file in the folder changed since it was imported."""
    try:
        converted = convert(source)
    except Exception:  # what cannot be read now was read when it was imported
        return
    written = {Path(f).name: Path(f) for f in listed["files"]}
    for name, text in _files(converted):
        path = written.get(name)
        if path is None or not path.is_file() or path.read_text(encoding="utf-8") != text:
            outcome.changed_upstream.append(f"{listed['label']} ({', '.join(source.files)})")
            return


def _stage(package: Path, outcome: Outcome, manifest_text: str) -> None:
    """Write everything into a scratch copy of the package and load it there with the runner's own code."""
    with tempfile.TemporaryDirectory(prefix="import-migrations-") as tmp:
        staged = Path(tmp) / "migrations"
        shutil.copytree(package, staged, ignore=shutil.ignore_patterns("__pycache__"))
        (staged / "sql").mkdir(exist_ok=True)
        for converted in outcome.imported:
            for name, text in _files(converted):
                (staged / "sql" / name).write_text(text, encoding="utf-8")
        (staged / "manifest.py").write_text(manifest_text, encoding="utf-8")
        new_ids = [c.source.kit_id for c in outcome.imported]
        loaded = load_listed(staged, new_ids)
    if "error" in loaded:
        raise ImportRefused(
            [Refusal("manifest.py", f"the runner does not accept the result: {loaded['error']}")]
        )
    tail = [m["id"] for m in loaded["migrations"][-len(new_ids) :]]
    if tail != new_ids:
        raise ImportRefused(
            [Refusal("manifest.py", "the new migrations did not load at the end of the manifest")]
        )


def _commit(package: Path, outcome: Outcome, manifest_text: str) -> None:
    sql = package / "sql"
    sql.mkdir(exist_ok=True)
    written: list[Path] = []
    try:
        for converted in outcome.imported:
            for name, text in _files(converted):
                temporary = sql / f".{name}.importing"
                written.append(temporary)
                temporary.write_text(text, encoding="utf-8")
                os.replace(temporary, sql / name)
                written.append(sql / name)
        temporary = package / ".manifest.py.importing"
        written.append(temporary)
        temporary.write_text(manifest_text, encoding="utf-8")
        os.replace(temporary, package / "manifest.py")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def import_folder(tool: str, folder: Path, package: Path, *, dry_run: bool = False) -> Outcome:
    """Import ``folder`` (``tool``'s migrations) into the kit's migrations package ``package``."""
    outcome, _listed, text = _plan(tool, folder, package)
    if not outcome.imported:
        return outcome
    count = len(outcome.imported)
    outcome.cutoff = outcome.imported[-1].source.kit_id
    try:
        text = append_entries(
            text,
            [c.source.stem for c in outcome.imported],
            f"Imported from {tool} by make import-migrations ({count} migration{'s' if count != 1 else ''}).",
        )
        text = set_cutoff(text, outcome.cutoff)
    except ManifestFileError as exc:
        raise ImportProblem(str(exc)) from None
    _stage(package, outcome, text)
    if not dry_run:
        _commit(package, outcome, text)
    return outcome


# ------------------------------------------------------------------------------------------ reporting


def _summary(outcome: Outcome) -> dict:
    return {
        "ok": True,
        "tool": outcome.tool,
        "folder": outcome.folder,
        "imported": [c.source.kit_id for c in outcome.imported],
        "no_transaction": [c.source.kit_id for c in outcome.imported if not c.transactional],
        "irreversible": [c.source.kit_id for c in outcome.imported if c.down is None],
        "notes": {c.source.stem: c.notes for c in outcome.imported if c.notes},
        "already_listed": outcome.already_listed,
        "changed_upstream": outcome.changed_upstream,
        "ignored": outcome.ignored,
        "lint_cutoff": outcome.cutoff,
    }


def report(outcome: Outcome, package: Path, *, dry_run: bool = False) -> str:
    verb = "would import" if dry_run else "imported"
    lines = [f"import-migrations: {outcome.tool} from {outcome.folder}"]
    if not outcome.imported:
        lines.append(f"  nothing new: all {outcome.already_listed} migration(s) are already listed")
    else:
        first, last = outcome.imported[0].source.stem, outcome.imported[-1].source.stem
        lines.append(f"  {verb} {len(outcome.imported)} migration(s): {first} .. {last}")
        if outcome.already_listed:
            lines.append(f"  already listed (left as they are): {outcome.already_listed}")
        for converted in outcome.imported:
            for note in converted.notes:
                lines.append(f"    {converted.source.stem}: {note}")
        lines.append(
            f"  manifest: {package / 'manifest.py'} (+{len(outcome.imported)} entries), "
            f"LINT_CUTOFF = {outcome.cutoff!r}"
        )
    for changed in outcome.changed_upstream:
        lines.append(f"  changed in the folder since it was imported (not rewritten): {changed}")
    if outcome.ignored:
        lines.append(f"  ignored (not {outcome.tool} migrations): {', '.join(outcome.ignored)}")
    if outcome.imported and not dry_run:
        lines.append(
            f"Next, on each database {outcome.tool} manages: "
            f"make migrate ACTION=baseline FROM={outcome.tool} DRY_RUN=1, then without DRY_RUN."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="import_migrations", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="tool", default=os.environ.get("KIT_FROM", ""))
    parser.add_argument("--dir", default=os.environ.get("KIT_DIR", ""))
    parser.add_argument("--migrations", default=str(REPO / "migrations"), help="the kit's migrations package")
    parser.add_argument(
        "--format", default=os.environ.get("KIT_FORMAT", "") or "text", choices=("text", "json")
    )
    dry_default = os.environ.get("KIT_DRY_RUN", "").strip().lower() in ("1", "true", "yes", "y", "on")
    parser.add_argument(
        "--dry-run", action="store_true", default=dry_default, help="check, report, write nothing"
    )
    args = parser.parse_args(argv)
    package = Path(args.migrations).resolve()
    as_json = args.format == "json"
    try:
        if not args.dir:
            raise ImportProblem("give the folder to import: make import-migrations FROM=<tool> DIR=<path>")
        outcome = import_folder(
            args.tool, Path(args.dir).expanduser().resolve(), package, dry_run=args.dry_run
        )
    except ImportRefused as exc:
        if as_json:
            print(json.dumps({"ok": False, "refused": [r.__dict__ for r in exc.refusals]}))
        else:
            print(
                f"import-migrations: refused, nothing was written ({len(exc.refusals)} file(s)):",
                file=sys.stderr,
            )
            for refusal in exc.refusals:
                print(f"  {refusal.file}: {refusal.reason}", file=sys.stderr)
        return 1
    except ImportProblem as exc:
        if as_json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        else:
            print(f"import-migrations: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(_summary(outcome)) if as_json else report(outcome, package, dry_run=args.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
