"""Edits of a manifest file (``migrations/manifest.py``) that keep every byte a person wrote: new
``sql_pair`` lines at the end of ``_ENTRIES``, and the ``LINT_CUTOFF`` value. Used by ``make
import-migrations`` (new entries and the cut-off) and ``make migrate ACTION=baseline`` (the cut-off).

It reads the file with :mod:`ast` to find where things are, and edits the text at those places, so comments,
order and formatting stay as they were; the result stays ``ruff format`` and ``ruff check`` clean.
"""

from __future__ import annotations

import ast
import json

LINE_LENGTH = 110  # pyproject's ruff line-length: the manifest stays `ruff format` and `ruff check` clean
CUTOFF_COMMENT = (
    "# make lint-migrations lints only the migrations after this one: those up to it are history that\n"
    "# already ran elsewhere (make import-migrations and make migrate ACTION=baseline move it forward).\n"
)


class ManifestFileError(Exception):
    """The manifest's shape is not one this editor can change safely; the message says what to fix."""


def _entry(stem: str) -> str:
    literal = json.dumps(stem, ensure_ascii=False)
    one = f"    sql_pair(_SQL / {literal}),"
    if len(one) <= LINE_LENGTH:
        return one
    two = f"        _SQL / {literal}"
    if len(two) <= LINE_LENGTH:
        return f"    sql_pair(\n{two}\n    ),"
    three = f"        / {literal}"
    noqa = "  # noqa: E501" if len(three) > LINE_LENGTH else ""
    return f"    sql_pair(\n        _SQL\n{three}{noqa}\n    ),"


def _assignment(tree: ast.Module, name: str) -> ast.Assign | ast.AnnAssign | None:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(node, ast.Assign | ast.AnnAssign) and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            return node
    return None


def _end(node: ast.AST) -> tuple[int, int]:
    """Where ``node`` ends: its 0-based line and column (Python always sets both for parsed code)."""
    row, col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    assert row is not None and col is not None
    return row - 1, col


def append_entries(text: str, stems: list[str], comment: str) -> str:
    """``text`` (a manifest) with one ``sql_pair(_SQL / stem)`` line per stem at the end of ``_ENTRIES``."""
    tree = ast.parse(text)
    entries = _assignment(tree, "_ENTRIES")
    if entries is None or not isinstance(entries.value, ast.Tuple | ast.List):
        raise ManifestFileError("the manifest has no `_ENTRIES = (...)` list to append to")
    names = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    if "sql_pair" not in names or _assignment(tree, "_SQL") is None:
        raise ManifestFileError(
            "the manifest must import sql_pair and define _SQL (the sql/ folder) as the kit's does: "
            'from migrator import sql_pair; _SQL = Path(__file__).resolve().parent / "sql"'
        )
    lines = text.splitlines(keepends=True)
    value = entries.value
    close_row, close_col = _end(value)
    if lines[close_row][: close_col - 1].strip():
        raise ManifestFileError(
            "the manifest's _ENTRIES must end with its closing bracket on a line of its own"
        )
    if value.elts:
        row, col = _end(value.elts[-1])
        if not lines[row][col:].lstrip().startswith(","):
            lines[row] = lines[row][:col] + "," + lines[row][col:]
    block = f"    # {comment}\n" + "".join(_entry(stem) + "\n" for stem in stems)
    lines.insert(close_row, block)
    return "".join(lines)


def set_cutoff(text: str, migration_id: str) -> str:
    """``text`` with ``LINT_CUTOFF`` set to ``migration_id`` (added after ``_ENTRIES`` when missing)."""
    tree = ast.parse(text)
    literal = json.dumps(migration_id)
    lines = text.splitlines(keepends=True)
    node = _assignment(tree, "LINT_CUTOFF")
    if node is not None and node.value is not None:
        value = node.value
        if value.lineno != value.end_lineno:
            raise ManifestFileError("the manifest's LINT_CUTOFF value must be on one line")
        row, end = _end(value)
        lines[row] = lines[row][: value.col_offset] + literal + lines[row][end:]
        return "".join(lines)
    entries = _assignment(tree, "_ENTRIES")
    assert entries is not None
    lines.insert(_end(entries)[0] + 1, f"\n{CUTOFF_COMMENT}LINT_CUTOFF: str | None = {literal}\n")
    return "".join(lines)
