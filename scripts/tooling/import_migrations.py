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
import fnmatch
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
    SearchPath,
    Source,
    convert,
    read_folder,
)
from scripts.tooling.tool_config import ToolConfig, parse_search_path, read_config  # noqa: E402

# The kit ships these as examples (migrations/manifest.py); left in front of an adopted history they would
# run against the team's database at the next migrate.
KIT_EXAMPLES = (
    "0001_create_users",
    "0002_create_posts",
    "0003_create_follows",
    "0004_add_users_display_name",
    "0005_backfill_users_display_name",
    "0006_index_posts_author_created",
    "0007_contract_users_display_name",
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
    changed_upstream: list[Converted] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    cutoff: str | None = None
    rewritten: list[Converted] = field(default_factory=list)
    config: ToolConfig = field(default_factory=ToolConfig)
    search_path: SearchPath | None = None
    examples: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)


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


def _read(tool: str, folder: Path, config: ToolConfig) -> tuple[list[Source], list[Refusal], list[str]]:
    """The tool's migrations: from Flyway's configured locations when its configuration names them."""
    if config.problems:
        raise ImportProblem("; ".join(config.problems))
    if not config.locations:
        return read_folder(tool, folder)
    sources: list[Source] = []
    refusals: list[Refusal] = []
    ignored: list[str] = []
    for location in config.locations:
        if not location.is_dir():
            raise ImportProblem(f"{config.where}: location {location} is not a folder")
        found = read_folder(tool, location)
        sources += found[0]
        refusals += found[1]
        ignored += found[2]
    return sorted(sources, key=lambda s: s.key), refusals, ignored


def _search_path(tool: str, config: ToolConfig, given: str | None) -> SearchPath | None:
    if given is not None and given.strip():
        try:
            return parse_search_path(given), tool == "flyway"
        except ValueError as exc:
            raise ImportProblem(str(exc)) from None
    if config.schemas:
        return config.schemas, config.prepend
    return None


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(Path(name).name, p) for p in patterns)


def _plan(
    tool: str,
    folder: Path,
    package: Path,
    *,
    search_path: str | None = None,
    rewrite: bool = False,
    exclude: Sequence[str] = (),
) -> tuple[Outcome, dict, str]:
    if tool not in TOOLS:
        raise ImportProblem(f"FROM={tool or '(empty)'}: use one of {', '.join(TOOLS)}")
    if not folder.is_dir():
        raise ImportProblem(f"DIR={folder}: no such folder; give the folder that holds the {tool} migrations")
    manifest = package / "manifest.py"
    if not manifest.is_file():
        raise ImportProblem(f"{manifest} does not exist: give the kit's migrations folder")
    config = read_config(tool, folder)
    sources, refusals, ignored = _read(tool, folder, config)
    excluded = [r.file for r in refusals if _excluded(r.file, exclude)]
    excluded += [f for s in sources for f in s.files if _excluded(f, exclude)]
    refusals = [r for r in refusals if not _excluded(r.file, exclude)]
    sources = [s for s in sources if not any(_excluded(f, exclude) for f in s.files)]
    if not sources and not refusals:
        raise ImportProblem(
            f"DIR={folder}: no {tool} migrations in it"
            + (f" (files there: {', '.join(ignored[:5])})" if ignored else "")
            + "; give the folder that holds them"
        )
    listed = load_listed(package)
    if "error" in listed:
        raise ImportProblem(f"the manifest does not load as it is: {listed['error']}")
    outcome = Outcome(tool, str(folder), ignored=ignored, cutoff=listed.get("cutoff"), config=config)
    outcome.excluded = sorted(excluded)
    outcome.search_path = _search_path(tool, config, search_path)
    labels = {m["label"] for m in listed["migrations"]}
    outcome.examples = [e for e in KIT_EXAMPLES if e in labels]
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
            _compare(source, by_origin[source.key], outcome, outcome.search_path)
        else:
            fresh.append(source)
    if outcome.changed_upstream and not rewrite:
        refusals += [
            Refusal(
                changed.source.files[0],
                "changed in the folder since it was imported. If no database has run it through the kit "
                "yet (the old tool may have), give REWRITE=1 to rewrite the kit's copy; if one has, leave "
                "it and put the change in a new migration",
            )
            for changed in outcome.changed_upstream
        ]
    else:
        outcome.rewritten = outcome.changed_upstream
    newest = max(by_origin, default=None)
    for source in fresh:
        try:
            converted = convert(source, outcome.search_path)
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


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _compare(source: Source, listed: dict, outcome: Outcome, search_path: SearchPath | None) -> None:
    """Note a listed migration whose file in the folder changed since it was imported (line endings aside:
    the kit's checksum ignores them too). Its kit files are named as the manifest lists them."""
    try:
        converted = convert(source, search_path)
    except Exception:  # what cannot be read now was read when it was imported
        return
    written = {Path(f).name: Path(f) for f in listed["files"]}
    stem = Path(listed["files"][0]).name.removesuffix(".up.sql")
    converted.source = Source(**{**source.__dict__, "title": stem.partition("_")[2] or source.title})
    for name, text in _files(converted):
        path = written.get(name)
        if path is None or not path.is_file() or _lf(path.read_bytes().decode("utf-8")) != _lf(text):
            outcome.changed_upstream.append(converted)
            return


def _stage(package: Path, outcome: Outcome, manifest_text: str) -> None:
    """Write everything into a scratch copy of the package and load it there with the runner's own code."""
    with tempfile.TemporaryDirectory(prefix="import-migrations-") as tmp:
        staged = Path(tmp) / "migrations"
        shutil.copytree(package, staged, ignore=shutil.ignore_patterns("__pycache__"))
        (staged / "sql").mkdir(exist_ok=True)
        for converted in [*outcome.imported, *outcome.rewritten]:
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
    if new_ids and tail != new_ids:
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
        for converted in outcome.rewritten:  # REWRITE=1: the kit's copy of a changed, not yet run file
            for name, text in _files(converted):
                temporary = sql / f".{name}.importing"
                written.append(temporary)
                temporary.write_text(text, encoding="utf-8")
                os.replace(temporary, sql / name)
            if converted.down is None:  # an empty down is irreversible now: no down file at all
                (sql / f"{converted.source.stem}.down.sql").unlink(missing_ok=True)
        temporary = package / ".manifest.py.importing"
        written.append(temporary)
        temporary.write_text(manifest_text, encoding="utf-8")
        os.replace(temporary, package / "manifest.py")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def import_folder(
    tool: str,
    folder: Path,
    package: Path,
    *,
    dry_run: bool = False,
    search_path: str | None = None,
    rewrite: bool = False,
    exclude: Sequence[str] = (),
) -> Outcome:
    """Import ``folder`` (``tool``'s migrations) into the kit's migrations package ``package``.

    ``search_path``: the schemas the old tool ran its migrations on (default: what its configuration says,
    see :mod:`scripts.tooling.tool_config`). ``rewrite``: rewrite the kit's copy of listed migrations whose
    file changed in the folder (refused without it). ``exclude``: file name patterns (``*.go``,
    ``R__*``, ``views/*``) to leave out, such as files ported by hand that the old tool still needs."""
    outcome, _listed, text = _plan(
        tool, folder, package, search_path=search_path, rewrite=rewrite, exclude=exclude
    )
    if not outcome.imported:
        if outcome.rewritten:
            _stage(package, outcome, text)
            if not dry_run:
                _commit(package, outcome, text)
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
        "rewritten": [c.source.stem for c in outcome.rewritten],
        "ignored": outcome.ignored,
        "lint_cutoff": outcome.cutoff,
        "search_path": outcome.search_path and outcome.search_path[0],
        "table": outcome.config.table,
        "kit_examples": outcome.examples,
        "excluded": outcome.excluded,
    }


def _examples_warning(examples: list[str], package: Path) -> list[str]:
    return [
        f"  WARNING: the kit's example migrations are still listed ahead of the imported history: "
        f"{', '.join(examples)}.",
        "    They would run against this database at the next make migrate (creating users, posts, follows).",
        f"    Remove their lines from _ENTRIES in {package / 'manifest.py'} (and the now unused imports above"
        " it, and migrations/seeds if you do not want the demo seeds) before the baseline.",
    ]


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
    for changed in outcome.rewritten:
        verb = "would rewrite" if dry_run else "rewrote"
        lines.append(
            f"  changed in the folder since it was imported, {verb} (REWRITE=1): {changed.source.stem}"
        )
    if outcome.ignored:
        lines.append(f"  ignored (not {outcome.tool} migrations): {', '.join(outcome.ignored)}")
    if outcome.excluded:
        lines.append(f"  excluded (EXCLUDE=): {', '.join(outcome.excluded)}")
    where = outcome.config.where
    if outcome.search_path is not None:
        source = f"{outcome.config.setting} in {where}" if outcome.config.schemas else "SEARCH_PATH="
        lines.append(
            f"  search_path: {', '.join(outcome.search_path[0])} ({source}), set in each imported file"
        )
    elif outcome.imported:
        lines.append(
            f"  search_path: none found{f' in {where}' if where else ''}; imported migrations run on the "
            "migrator's own search_path. If the old tool set one, import again with SEARCH_PATH=<schemas>"
        )
    lines += _examples_warning(outcome.examples, package) if outcome.examples else []
    if outcome.imported and not dry_run:
        table = f" TABLE={outcome.config.table}" if outcome.config.table else ""
        lines.append(
            f"Next, on each database {outcome.tool} manages: "
            f"make migrate ACTION=baseline FROM={outcome.tool}{table} DRY_RUN=1, then without DRY_RUN."
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
            args.tool,
            Path(args.dir).expanduser().resolve(),
            package,
            dry_run=args.dry_run,
            search_path=os.environ.get("KIT_SEARCH_PATH") or None,
            rewrite=os.environ.get("KIT_REWRITE", "").strip().lower() in ("1", "true", "yes", "y", "on"),
            exclude=[p.strip() for p in os.environ.get("KIT_EXCLUDE", "").split(",") if p.strip()],
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
