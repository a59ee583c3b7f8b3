"""The Lambda package build: reproducible, exactly the manifest's modules, and importable with only the
standard library on the path (as in the Lambda runtime)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.release.invoke import find_python
from scripts.tooling.build_lambda import BuildError, check_runs_on_lambda, oldest_glibc, read_manifest

REPO = Path(__file__).resolve().parents[2]
WHEEL_CACHE = REPO / ".local" / "wheels"
# An index nobody listens on: proves a build is offline, or makes pip fail without asking a real registry.
NO_INDEX_ENV = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "PIP_TIMEOUT": "2"}


def run_build(
    source: Path, output: Path, *, wheel_cache: Path = WHEEL_CACHE, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.tooling.build_lambda", "--source-root", str(source),
         "--output", str(output),
         "--wheel-cache", str(wheel_cache)],
        cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def copy_tree(destination: Path) -> Path:
    """A private copy of what the build reads, so concurrent edits in the working tree cannot race it."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "lambda", destination / "lambda", ignore=ignore)
    shutil.copytree(REPO / "migrations", destination / "migrations", ignore=ignore)
    return destination


@dataclass(frozen=True)
class Built:
    source: Path
    first: Path
    second: Path
    runs: tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]
    names: list[str]
    modules: list[str]
    files: list[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    source = copy_tree(tmp_path_factory.mktemp("source"))
    # Files that must NOT be packaged: a module the manifest does not list, a note, bytecode.
    (source / "migrations" / "m9999_not_in_manifest.py").write_text("RAISE = 1 / 0\n")
    (source / "migrations" / "NOTES.txt").write_text("not code\n")
    (source / "migrations" / "sql" / "9999_not_in_manifest.up.sql").write_text("DROP TABLE users;\n")
    (source / "lambda" / "migrator" / "__pycache__").mkdir(exist_ok=True)
    (source / "lambda" / "migrator" / "__pycache__" / "guard.cpython-311.pyc").write_bytes(b"\0")
    # A CA bundle the operator dropped in for TLS verify-full: it must be packaged.
    (source / "lambda" / "migrator" / "certs").mkdir(exist_ok=True)
    (source / "lambda" / "migrator" / "certs" / "test-bundle.pem").write_text("-----BEGIN CERTIFICATE-----\n")

    out = tmp_path_factory.mktemp("dist")
    first = run_build(source, out / "first.zip")
    assert first.returncode == 0, first.stderr
    # The second build must not need the network: the wheel cache is enough.
    second = run_build(source, out / "second.zip", env=NO_INDEX_ENV)
    assert second.returncode == 0, second.stderr
    with zipfile.ZipFile(out / "first.zip") as archive:
        names = archive.namelist()
    return Built(
        source, out / "first.zip", out / "second.zip", (first, second), names, *read_manifest(source)
    )


def test_two_builds_are_byte_identical(built: Built) -> None:
    assert built.first.read_bytes() == built.second.read_bytes()


def test_prints_a_human_line_and_a_json_summary(built: Built) -> None:
    run = built.runs[0]
    summary = json.loads(run.stdout)
    data = built.first.read_bytes()
    assert summary == {
        "path": str(built.first),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "files": len(built.names),
    }
    assert re.fullmatch(
        rf".*first\.zip: \d+\.\d MiB \({len(built.names)} files\), sha256 {summary['sha256']}\n", run.stderr
    )


def test_entries_are_normalised(built: Built) -> None:
    with zipfile.ZipFile(built.first) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename
        assert (info.external_attr >> 16) in (0o100644, 0o100755), info.filename
        assert not info.is_dir()


def test_contains_the_migrator_and_exactly_the_manifest_modules(built: Built) -> None:
    names = set(built.names)
    migrator_sources = {
        f"migrator/{path.relative_to(built.source / 'lambda' / 'migrator').as_posix()}"
        for path in (built.source / "lambda" / "migrator").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert {
        "migrator/handler.py",
        "migrator/sqlaction/guard.py",
        "migrator/sqlaction/readonly.py",
    } <= migrator_sources
    migrator_sources.add("migrator/certs/test-bundle.pem")
    assert {name for name in names if name.startswith("migrator/")} == migrator_sources

    assert built.modules, "the manifest lists no module"
    expected_migrations = {"migrations/__init__.py", "migrations/manifest.py"}
    for module in built.modules:
        parts = module.split(".")
        expected_migrations.add("/".join(parts) + ".py")
        for depth in range(2, len(parts)):
            expected_migrations.add("/".join(parts[:depth]) + "/__init__.py")
    # The SQL-file migrations: exactly the files the manifest lists.
    assert "migrations/sql/0006_index_posts_author_created.up.sql" in built.files
    expected_migrations.update(built.files)
    assert {name for name in names if name.startswith("migrations/")} == expected_migrations


def test_contains_nothing_else_from_the_tree(built: Built) -> None:
    for name in built.names:
        assert name.split("/")[0] not in ("tests", "scripts", "lambda", "terraform", "modules", "docs"), name
        assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo")), name
        assert not name.endswith("requirements.txt"), name
    assert "migrations/m9999_not_in_manifest.py" not in built.names
    assert "migrations/NOTES.txt" not in built.names
    assert "migrations/sql/9999_not_in_manifest.up.sql" not in built.names


def test_contains_manylinux_x86_64_cpython_313_dependencies(built: Built) -> None:
    # The function runs python3.13 (modules/migrator): the compiled wheels must be cp313.
    names = built.names
    assert "psycopg/__init__.py" in names
    assert "pglast/__init__.py" in names
    assert any(re.fullmatch(r"pglast/parser\.cpython-313-x86_64-linux-gnu\.so", name) for name in names)
    assert any(
        re.fullmatch(r"psycopg_binary/_psycopg\.cpython-313-x86_64-linux-gnu\.so", name) for name in names
    )
    assert any(re.fullmatch(r"psycopg_binary\.libs/libpq-[0-9a-f]+\.so\.\d+.*", name) for name in names)
    assert any(name.endswith(".dist-info/METADATA") and name.startswith("psycopg-") for name in names)


def test_imports_with_only_the_standard_library_and_the_zip(built: Built, tmp_path: Path) -> None:
    # GIVEN the package unpacked as Lambda unpacks it
    with zipfile.ZipFile(built.first) as archive:
        archive.extractall(tmp_path / "task")
    probe = (
        "import json, sys\n"
        "import psycopg, pglast, psycopg_binary\n"
        "from migrator import handler, runner\n"
        "from migrator.sqlaction import guard, readonly\n"
        "import migrations.manifest\n"
        "print(json.dumps({'path': sys.path, 'impl': psycopg.pq.__impl__,\n"
        "  'files': [m.__file__ for m in (psycopg, pglast, guard, migrations.manifest)],\n"
        "  'checked': guard.check_sql('SELECT 1;'), 'modules': list(migrations.manifest.MODULES),\n"
        "  'sql': [m.forward for m in migrations.manifest.MIGRATIONS if m.files]}))\n"
    )
    # WHEN a bare interpreter of the runtime's version (-S: no site-packages, -s: no user site, -P: no cwd)
    # imports from it
    python = find_python("3.13")
    assert python, "python3.13 (the Lambda runtime's version) is needed to import the package's cp313 wheels"
    proc = subprocess.run(
        [str(python), "-S", "-s", "-P", "-c", probe],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "task"), "PATH": os.environ.get("PATH", "")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # THEN everything comes from the zip, psycopg uses its bundled libpq, and the guard works
    assert not any("site-packages" in entry for entry in result["path"])
    assert all(path.startswith(str(tmp_path / "task")) for path in result["files"])
    assert result["impl"] == "binary"
    assert result["checked"] == "SELECT 1"
    assert result["modules"] == built.modules
    # The SQL-file migrations load from the unpacked zip.
    assert len(result["sql"]) == len({Path(f).name.split(".")[0] for f in built.files})
    assert "CREATE INDEX CONCURRENTLY" in result["sql"][0]


def test_a_manifest_module_that_does_not_exist_fails_the_build(tmp_path: Path) -> None:
    source = copy_tree(tmp_path / "source")
    (source / "migrations" / "manifest.py").write_text(
        'MODULES = ("migrations.m0001_create_users", "migrations.m0404_missing")\n'
    )
    proc = run_build(source, tmp_path / "out.zip", env=NO_INDEX_ENV)
    assert proc.returncode == 1
    assert "migrations.m0404_missing" in proc.stderr
    assert "does not exist" in proc.stderr
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ('("migrations/sql/0404_missing.up.sql",)', "does not exist"),
        ('("scripts/release/tf.py",)', "is not a .sql file inside migrations/"),
        ('("migrations/../../etc/passwd.sql",)', "is not a .sql file inside migrations/"),
    ],
)
def test_a_manifest_file_that_is_missing_or_outside_migrations_fails_the_build(
    tmp_path: Path, files: str, message: str
) -> None:
    source = copy_tree(tmp_path / "source")
    (source / "migrations" / "manifest.py").write_text(
        f'MODULES = ("migrations.m0001_create_users",)\nFILES = {files}\n'
    )
    proc = run_build(source, tmp_path / "out.zip", env=NO_INDEX_ENV)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert not (tmp_path / "out.zip").exists()


def test_a_manifest_that_imports_a_missing_module_fails_the_build(tmp_path: Path) -> None:
    source = copy_tree(tmp_path / "source")
    (source / "migrations" / "manifest.py").write_text(
        "from migrations import m0404_missing\nMODULES = (m0404_missing.__name__,)\n"
    )
    proc = run_build(source, tmp_path / "out.zip", env=NO_INDEX_ENV)
    assert proc.returncode == 1
    assert "migrations.m0404_missing" in proc.stderr
    assert not (tmp_path / "out.zip").exists()


def test_a_failed_download_is_reported(tmp_path: Path) -> None:
    # GIVEN an empty wheel cache and an index that does not answer
    source = copy_tree(tmp_path / "source")
    proc = run_build(source, tmp_path / "out.zip", wheel_cache=tmp_path / "empty-cache", env=NO_INDEX_ENV)
    assert proc.returncode == 1
    assert "pip could not download the Lambda dependencies" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.parametrize(
    ("wheel", "arch", "glibc"),
    [
        ("typing_extensions-4.16.0-py3-none-any.whl", "x86_64", None),
        (
            "psycopg_binary-3.3.9-cp313-cp313-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
            "x86_64",
            (2, 17),
        ),
        (
            "pglast-8.8-cp313-cp313-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
            "x86_64",
            (2, 17),
        ),
        ("future-1.0-cp313-cp313-manylinux_2_28_x86_64.whl", "x86_64", (2, 28)),
        (
            "psycopg_binary-3.3.9-cp313-cp313-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
            "arm64",
            (2, 27),
        ),
    ],
    ids=["pure", "manylinux2014", "compressed-tag-set", "2_28-only", "arm64"],
)
def test_oldest_glibc_of_a_wheel(wheel: str, arch: str, glibc: tuple[int, int] | None) -> None:
    assert oldest_glibc(wheel, arch) == glibc


def test_the_glibc_ceiling_is_amazon_linux_2023s() -> None:
    # python3.13 runs on Amazon Linux 2023 (glibc 2.34): a manylinux_2_28 wheel now runs there ...
    check_runs_on_lambda([Path("future-1.0-cp313-cp313-manylinux_2_28_x86_64.whl")])
    check_runs_on_lambda([Path("future-1.0-cp313-cp313-manylinux_2_34_x86_64.whl")])
    # ... and one that needs a newer glibc is refused, naming the runtime's OS
    with pytest.raises(
        BuildError, match=r"needs glibc 2\.35, but the python3\.13 Lambda runtime \(Amazon Linux 2023\)"
    ):
        check_runs_on_lambda([Path("future-1.0-cp313-cp313-manylinux_2_35_x86_64.whl")])
    with pytest.raises(BuildError, match=r"not a manylinux aarch64 wheel"):
        check_runs_on_lambda([Path("future-1.0-cp313-cp313-manylinux_2_28_x86_64.whl")], "arm64")


def test_an_arm64_build_carries_aarch64_wheels(tmp_path: Path) -> None:
    source = copy_tree(tmp_path / "source")
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.tooling.build_lambda", "--source-root", str(source), "--output",
         str(tmp_path / "arm.zip"), "--wheel-cache", str(WHEEL_CACHE), "--arch", "arm64"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(tmp_path / "arm.zip") as archive:
        names = archive.namelist()
    assert any(re.fullmatch(r"pglast/parser\.cpython-313-aarch64-linux-gnu\.so", name) for name in names)
    assert not any("x86_64" in name for name in names)
