"""scripts/ is grouped by concern (release/, localdefault/, tooling/), one hop from a make target to its
module, and the Lambda package never imports the tooling."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_make_target_runs_a_module_that_exists() -> None:
    modules = re.findall(r"\$\(PY\) -m (scripts\.[\w.]+)", (REPO / "Makefile").read_text())
    assert len(modules) >= 15
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    assert not missing, f"make targets name modules that do not exist: {missing}"


def test_scripts_holds_packages_by_concern_only() -> None:
    loose = sorted(p.name for p in (REPO / "scripts").iterdir() if p.is_file() and p.name != "__init__.py")
    assert loose == []
    assert {p.name for p in (REPO / "scripts").iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "localdefault",
        "release",
        "tooling",
    }


def test_the_lambda_package_imports_nothing_from_scripts() -> None:
    offenders = []
    for path in (REPO / "lambda").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] == "scripts"]
    assert offenders == []


def test_every_module_under_scripts_imports() -> None:
    names = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for path in (REPO / "scripts").rglob("*.py")
        if path.name != "__init__.py"
    )
    for name in names:
        importlib.import_module(name)  # a stale import (a module that moved) fails here
