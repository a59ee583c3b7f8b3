"""Every ``#checkov:skip`` must suppress a finding that exists: a skip that suppresses nothing only hides
what a future change might break, and its reason goes stale unnoticed.

    python -m scripts.tooling.checkov_skips [--checkov PATH]

It copies modules/ and terraform/ to a scratch folder with every skip comment removed, runs checkov there,
and reports each declared skip (file, resource, check) that matches no failed check. Exit 1 when any does.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIRS = ("modules", "terraform")
_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)")
_BLOCK = re.compile(r'^(resource|data)\s+"([^"]+)"\s+"([^"]+)"')


def declared_skips(root: Path = REPO) -> set[tuple[str, str, str]]:
    """(file relative to modules/ or terraform/'s parent, "type.name", check id) of every skip comment."""
    found = set()
    for directory in DIRS:
        for path in sorted((root / directory).rglob("*.tf")):
            if ".terraform" in path.parts:
                continue
            block = None
            for line in path.read_text().splitlines():
                if match := _BLOCK.match(line):
                    block = f"{match[2]}.{match[3]}"
                if (match := _SKIP.search(line)) and block:
                    found.add((path.relative_to(root).as_posix(), block, match[1]))
    return found


def findings(checkov: str, root: Path = REPO) -> set[tuple[str, str, str]]:
    """(file, "type.name", check id) of every failed check with all skips removed."""
    failed = set()
    with tempfile.TemporaryDirectory(prefix="checkov-skips-") as scratch:
        for directory in DIRS:
            shutil.copytree(
                root / directory, Path(scratch, directory), ignore=shutil.ignore_patterns(".terraform")
            )
            for path in Path(scratch, directory).rglob("*.tf"):
                path.write_text("\n".join(_strip(line) for line in path.read_text().splitlines()) + "\n")
        for directory in DIRS:
            proc = subprocess.run(
                [checkov, "-d", directory, "--framework", "terraform", "--skip-download", "-o", "json"],
                cwd=scratch,
                capture_output=True,
                text=True,
                check=False,
            )
            report = json.loads(proc.stdout)
            for result in report if isinstance(report, list) else [report]:
                for check in result.get("results", {}).get("failed_checks", []):
                    file_path = (Path(scratch, directory) / check["file_path"].lstrip("/")).resolve()
                    relative = file_path.relative_to(Path(scratch).resolve()).as_posix()
                    address = re.sub(r"\[[^\]]*\]", "", check["resource"]).split(".")
                    failed.add((relative, ".".join(address[-2:]), check["check_id"]))
    return failed


def _strip(line: str) -> str:
    return "" if _SKIP.search(line) and line.strip().startswith("#") else line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.tooling.checkov_skips", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--checkov", default="checkov")
    args = parser.parse_args(argv)
    # A relative path must survive the change of working directory to the scratch copy
    args.checkov = str(Path(args.checkov).resolve()) if "/" in args.checkov else args.checkov
    unused = sorted(declared_skips() - findings(args.checkov))
    for file, block, check in unused:
        print(f"{file}: {block}: #checkov:skip={check} suppresses nothing: remove it", file=sys.stderr)
    if unused:
        return 1
    print(f"every checkov skip suppresses a finding ({len(declared_skips())} skips)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
