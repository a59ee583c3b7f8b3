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


# ------------------------------------------------------------------------------------ the import graph


def _modules(root: Path, package_root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under root (names relative to package_root)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(package_root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_nodes(tree: ast.AST):
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                pending.extend(child.orelse)
                continue
            pending.append(child)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``modules`` it imports, anywhere in the file (a lazy import inside a function
    is an arrow too). ``from a import b`` is an arrow to ``a.b`` when that is a module, else to ``a``; a
    package's ``__init__`` is not counted for ``a.b`` (Python runs it, but it is not where the name lives).
    Imports under ``if TYPE_CHECKING:`` never run, so they are not arrows."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        arrows: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*kept, base]).strip(".")
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            arrows |= {t for t in targets if t in modules and t != name}
        graph[name] = arrows
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_package_inits(graph: dict[str, set[str]], modules: dict[str, Path]) -> dict[str, set[str]]:
    # A facade __init__ that re-exports its submodules would form a trivial circle with each of them (the
    # submodule's `from pkg import sibling` names pkg): keep those arrows out; real circles remain.
    inits = {n for n, p in modules.items() if p.name == "__init__.py"}
    return {n: {t for t in ts if t not in inits} for n, ts in graph.items() if n not in inits}


def test_no_import_circle_in_scripts() -> None:
    modules = _modules(REPO / "scripts", REPO)
    graph = import_graph(modules)
    assert cycles(graph) == []


def test_no_import_circle_in_the_lambda_package() -> None:
    modules = _modules(REPO / "lambda" / "migrator", REPO / "lambda")
    graph = import_graph(modules)
    assert cycles(_without_package_inits(graph, modules)) == []


def test_scripts_packages_point_one_way() -> None:
    # release and tooling may use localdefault; localdefault uses neither. release may use tooling (a baseline
    # moves the manifest's lint cut-off with the importer's editor), and tooling never uses release.
    modules = _modules(REPO / "scripts", REPO)
    graph = import_graph(modules)
    arrows = {
        (src.split(".")[1], dst.split(".")[1])
        for src, dsts in graph.items()
        for dst in dsts
        if src.count(".") >= 1 and dst.count(".") >= 1 and src.split(".")[1] != dst.split(".")[1]
    }
    assert arrows <= {("release", "localdefault"), ("tooling", "localdefault"), ("release", "tooling")}, (
        arrows
    )


def test_runner_and_sqlaction_are_separate_rooms() -> None:
    modules = _modules(REPO / "lambda" / "migrator", REPO / "lambda")
    graph = import_graph(modules)
    crossings = [
        f"{src} -> {dst}"
        for src, dsts in graph.items()
        for dst in dsts
        for a, b in (("migrator.runner", "migrator.sqlaction"), ("migrator.sqlaction", "migrator.runner"))
        if (src == a or src.startswith(a + ".")) and (dst == b or dst.startswith(b + "."))
    ]
    assert crossings == []
    # Only the dispatch (and the lazy facade) may know both rooms; the shared top never imports either.
    rooms = {"migrator.runner", "migrator.sqlaction", "migrator.commands"}
    shared = {n for n in modules if n.count(".") == 1} - rooms
    reaching = sorted(
        f"{src} -> {dst}"
        for src in shared
        for dst in graph[src]
        if dst.startswith(("migrator.runner", "migrator.sqlaction"))
    )
    assert reaching == []


def test_the_cycle_finder_finds_a_circle() -> None:
    # The checks above pass on an empty answer: prove the finder reports a real circle.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_package_opens_with_a_docstring_that_names_what_it_never_imports() -> None:
    packages = [p for p in (REPO / "lambda" / "migrator").rglob("__init__.py")]
    packages += [p for p in (REPO / "scripts").rglob("__init__.py")]
    missing = []
    for path in packages:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if not re.search(r"\bnever\b|\bnothing\b", doc):
            missing.append(str(path.relative_to(REPO)))
    assert missing == []


def test_no_module_grows_past_one_idea() -> None:
    # About 600 lines each; the two layers of the sql sandbox that read as one idea each may be longer.
    one_idea = {"lambda/migrator/sqlaction/guard.py", "lambda/migrator/sqlaction/resolver.py"}
    too_long = sorted(
        f"{path.relative_to(REPO)}: {n}"
        for root in (REPO / "lambda", REPO / "scripts")
        for path in root.rglob("*.py")
        if str(path.relative_to(REPO)) not in one_idea and (n := len(path.read_text().splitlines())) > 700
    )
    assert too_long == []
