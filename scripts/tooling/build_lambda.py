"""Build the migration Lambda's package, ``dist/migrator.zip``, reproducibly.

    python -m scripts.tooling.build_lambda [--source-root DIR] [--output FILE]
        [--wheel-cache DIR] [--arch ARCH]

The zip holds, at its root:

* ``migrator/``: every ``lambda/migrator/**/*.py`` (no requirements.txt, no ``__pycache__``), and any
  CA bundle ``lambda/migrator/certs/*.pem`` (e.g. the RDS global bundle, for TLS verify-full);
* ``migrations/``: ``__init__.py``, ``manifest.py``, every module named in ``migrations.manifest.MODULES``
  and the ``__init__.py`` of each subpackage on the way, and every SQL file named in
  ``migrations.manifest.FILES``; nothing else from that folder;
* the runtime dependencies of ``lambda/migrator/requirements.txt`` as CPython 3.13 manylinux wheels for the
  function's architecture (x86_64 by default, or arm64; ``ARCH`` in the Makefile), unpacked (``*.dist-info``
  kept whole: it is small and keeps the licences and METADATA).

Wheels are cached in ``.local/wheels``: once they are there, a build needs no network. Two builds from the
same tree are byte-identical: entries sorted, timestamps 1980-01-01, permissions 0644 (0755 for executables
and shared objects), deflate level 6 (zlib is deterministic for a given input and level), no directory
entries. The zip is written to a temporary file and renamed into place.

Prints a human line to stderr and a JSON summary (path, bytes, sha256, files) to stdout; exits 1 with a
one-line message when a manifest module does not exist or the wheels cannot be downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
# The function's runtime (modules/migrator): the wheels must be for this CPython.
RUNTIME = "python3.13"
PYTHON_VERSION = RUNTIME.removeprefix("python")
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}  # Lambda's name -> the wheel platform suffix


def platform_args(arch: str = "x86_64") -> tuple[str, ...]:
    machine = ARCHITECTURES[arch]
    return (
        "--only-binary=:all:",
        "--platform", f"manylinux2014_{machine}",
        "--platform", f"manylinux_2_17_{machine}",
        "--platform", f"manylinux_2_28_{machine}",
        "--python-version", PYTHON_VERSION,
        "--implementation", "cp",
        "--abi", f"cp{PYTHON_VERSION.replace('.', '')}",
    )  # fmt: skip


PLATFORM_ARGS = platform_args()

# The python3.13 Lambda runtime runs on Amazon Linux 2023, whose glibc is 2.34: a wheel that needs a newer
# one (manylinux_2_35 and later, which pip could pick if the platform list allowed it) would fail to import.
LAMBDA_OS = "Amazon Linux 2023"
LAMBDA_GLIBC = (2, 34)
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}

# Run in a child interpreter so the manifest (which imports every migration) loads from the tree being
# built, not from whatever `migrations` this process may already have imported.
_READ_MANIFEST = """
import json, re, sys
try:
    import migrations.manifest as manifest
    modules = [str(name) for name in manifest.MODULES]
    files = [str(name) for name in getattr(manifest, "FILES", ())]
except ImportError as exc:
    # `import migrations.m0404` names the module; `from migrations import m0404` names only the package.
    name = re.search(r"cannot import name '([^']+)'", str(exc))
    missing = f"{exc.name}.{name.group(1)}" if name and exc.name else exc.name
    print(json.dumps({"missing": missing, "error": f"{type(exc).__name__}: {exc}"} if missing
                     else {"error": f"{type(exc).__name__}: {exc}"}))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
else:
    print(json.dumps({"modules": modules, "files": files}))
"""


class BuildError(Exception):
    """The package cannot be built; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class BuildResult:
    path: str
    bytes: int
    sha256: str
    files: int


@dataclass(frozen=True)
class Entry:
    data: bytes
    mode: int  # 0o644 or 0o755
    source: str  # where it came from, for conflict messages


# ---------------------------------------------------------------------------------------------- sources


def migrator_entries(root: Path) -> dict[str, Entry]:
    package = root / "lambda" / "migrator"
    if not (package / "handler.py").is_file():
        raise BuildError(f"{package}/handler.py not found: is {root} the repository root?")
    entries = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts:
            continue
        entries[f"migrator/{relative.as_posix()}"] = Entry(path.read_bytes(), 0o644, str(path))
    # CA bundles the operator put there (the RDS global bundle): MIGRATOR_SSLROOTCERT names one of them.
    for path in sorted((package / "certs").glob("*.pem")):
        entries[f"migrator/certs/{path.name}"] = Entry(path.read_bytes(), 0o644, str(path))
    return entries


def manifest_modules(root: Path) -> list[str]:
    """``migrations.manifest.MODULES`` of the tree at ``root``."""
    return read_manifest(root)[0]


def read_manifest(root: Path) -> tuple[list[str], list[str]]:
    """``migrations.manifest.MODULES`` and ``FILES`` (SQL files, relative to ``root``) of the tree at
    ``root``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), str(root / "lambda")]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", _READ_MANIFEST], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise BuildError(f"could not read migrations/manifest.py: {proc.stderr.strip()[-500:]}") from None
    if "missing" in answer:
        raise BuildError(
            f"migrations/manifest.py imports module {answer['missing']!r}, which does not exist "
            f"({answer['error']}); add the module or remove it from the manifest"
        )
    if "error" in answer:
        raise BuildError(f"migrations/manifest.py could not be imported: {answer['error']}")
    return answer["modules"], answer.get("files", [])


def migrations_entries(root: Path, modules: list[str], files: list[str] = ()) -> dict[str, Entry]:
    wanted = {"migrations/__init__.py", "migrations/manifest.py"}
    for name in files:
        relative = Path(name)
        if (
            relative.is_absolute()
            or ".." in relative.parts
            or relative.parts[:1] != ("migrations",)
            or relative.suffix != ".sql"
        ):
            raise BuildError(
                f"manifest file {name!r} is not a .sql file inside migrations/ (FILES holds paths relative "
                "to the repository root, such as migrations/sql/0008_x.up.sql)"
            )
        if not (root / relative).is_file():
            raise BuildError(f"manifest file {name!r} does not exist; add it or remove it from the manifest")
        wanted.add(relative.as_posix())
    for name in modules:
        parts = name.split(".")
        if parts[0] != "migrations" or len(parts) < 2 or not all(part.isidentifier() for part in parts):
            raise BuildError(f"manifest module {name!r} is not a module inside the migrations package")
        module_file = Path(*parts).with_suffix(".py")
        package_init = Path(*parts, "__init__.py")
        if (root / module_file).is_file():
            wanted.add(module_file.as_posix())
        elif (root / package_init).is_file():
            wanted.add(package_init.as_posix())
        else:
            raise BuildError(
                f"manifest module {name!r} does not exist (no {module_file.as_posix()}); "
                "add the file or remove it from migrations.manifest.MODULES"
            )
        for depth in range(2, len(parts)):  # the subpackages between `migrations` and the module
            init = Path(*parts[:depth], "__init__.py")
            if (root / init).is_file():
                wanted.add(init.as_posix())
    entries = {}
    for relative in sorted(wanted):
        path = root / relative
        if not path.is_file():
            raise BuildError(f"{relative} does not exist")
        entries[relative] = Entry(path.read_bytes(), 0o644, str(path))
    return entries


# ----------------------------------------------------------------------------------------------- wheels


def _pip_download(
    requirements: Path, dest: Path, find_links: Path, *, offline: bool, arch: str = "x86_64"
) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
        *platform_args(arch), "--find-links", str(find_links), "-r", str(requirements), "-d", str(dest),
    ]  # fmt: skip
    if offline:
        cmd.insert(4, "--no-index")
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def resolve_wheels(requirements: Path, cache: Path, workdir: Path, arch: str = "x86_64") -> list[Path]:
    """The wheels that satisfy ``requirements``, downloading into ``cache`` only what is missing there."""
    if not requirements.is_file():
        raise BuildError(f"{requirements} not found")
    cache.mkdir(parents=True, exist_ok=True)
    chosen = workdir / "wheels"
    chosen.mkdir()
    if _pip_download(requirements, chosen, cache, offline=True, arch=arch).returncode != 0:
        online = _pip_download(requirements, cache, cache, offline=False, arch=arch)
        if online.returncode != 0:
            tail = "\n".join(online.stderr.strip().splitlines()[-5:])
            raise BuildError(
                f"pip could not download the Lambda dependencies of {requirements} for manylinux "
                f"{ARCHITECTURES[arch]} CPython {PYTHON_VERSION} (check the network or the pins):\n{tail}"
            )
        offline = _pip_download(requirements, chosen, cache, offline=True, arch=arch)
        if offline.returncode != 0:
            raise BuildError(
                f"pip downloaded the wheels but cannot resolve them offline: {offline.stderr[-500:]}"
            )
    wheels = sorted(chosen.glob("*.whl"))
    not_wheels = sorted(set(chosen.iterdir()) - set(wheels))
    if not_wheels:
        raise BuildError(f"pip returned non-wheel files: {', '.join(p.name for p in not_wheels)}")
    return wheels


def oldest_glibc(wheel_name: str, arch: str = "x86_64") -> tuple[int, int] | None:
    """The oldest glibc any of the wheel's platform tags runs on; None for a pure-Python wheel."""
    platforms = wheel_name.removesuffix(".whl").split("-")[-1].split(".")
    if platforms == ["any"]:
        return None
    machine = ARCHITECTURES[arch]
    versions = []
    for platform in platforms:
        if not platform.endswith(f"_{machine}"):
            continue
        tag = platform.removesuffix(f"_{machine}")
        if tag in _LEGACY_MANYLINUX:
            versions.append(_LEGACY_MANYLINUX[tag])
        elif tag.startswith("manylinux_"):
            major, minor = tag.removeprefix("manylinux_").split("_")
            versions.append((int(major), int(minor)))
    if not versions:
        raise BuildError(f"{wheel_name} is not a manylinux {machine} wheel")
    return min(versions)


def check_runs_on_lambda(wheels: list[Path], arch: str = "x86_64") -> None:
    for wheel in wheels:
        glibc = oldest_glibc(wheel.name, arch)
        if glibc is not None and glibc > LAMBDA_GLIBC:
            raise BuildError(
                f"{wheel.name} needs glibc {glibc[0]}.{glibc[1]}, but the {RUNTIME} Lambda runtime "
                f"({LAMBDA_OS}) has {LAMBDA_GLIBC[0]}.{LAMBDA_GLIBC[1]}: pin a version that ships a "
                f"manylinux wheel for glibc {LAMBDA_GLIBC[0]}.{LAMBDA_GLIBC[1]} or older"
            )


def wheel_entries(wheel: Path) -> dict[str, Entry]:
    entries = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or "__pycache__" in name.split("/") or name.endswith((".pyc", ".pyo")):
                continue
            first, _, rest = name.partition("/")
            if first.endswith(".data"):
                # Only purelib/platlib belong on the import path; scripts, headers and data do not.
                category, _, rest = rest.partition("/")
                if category not in ("purelib", "platlib") or not rest:
                    continue
                name = rest
            executable = bool((info.external_attr >> 16) & 0o111) or ".so" in Path(name).suffixes
            entries[name] = Entry(archive.read(info), 0o755 if executable else 0o644, wheel.name)
    return entries


# ------------------------------------------------------------------------------------------------ build


def _merge(into: dict[str, Entry], more: dict[str, Entry]) -> None:
    for name, entry in more.items():
        if name in into and into[name].data != entry.data:
            raise BuildError(f"{name} comes from both {into[name].source} and {entry.source}")
        into[name] = entry


def write_zip(entries: dict[str, Entry], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            for name in sorted(entries):
                entry = entries[name]
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, so that external_attr carries the permissions
                info.external_attr = (0o100000 | entry.mode) << 16
                archive.writestr(info, entry.data, compresslevel=COMPRESS_LEVEL)
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build(
    root: Path = REPO, output: Path | None = None, wheel_cache: Path | None = None, arch: str = "x86_64"
) -> BuildResult:
    """Build the package from the tree at ``root`` for the function's ``arch`` and return what was written."""
    if arch not in ARCHITECTURES:
        raise BuildError(f"architecture {arch!r} is not one Lambda runs: use x86_64 or arm64")
    root = root.resolve()
    output = (output or root / "dist" / "migrator.zip").resolve()
    wheel_cache = (wheel_cache or root / ".local" / "wheels").resolve()

    entries: dict[str, Entry] = {}
    _merge(entries, migrator_entries(root))
    _merge(entries, migrations_entries(root, *read_manifest(root)))
    with tempfile.TemporaryDirectory(prefix="build-lambda-") as workdir:
        wheels = resolve_wheels(
            root / "lambda" / "migrator" / "requirements.txt", wheel_cache, Path(workdir), arch
        )
        check_runs_on_lambda(wheels, arch)
        for wheel in wheels:
            _merge(entries, wheel_entries(wheel))
    for name in entries:
        if name.split("/")[0] in ("tests", "scripts", "lambda"):
            raise BuildError(
                f"{name} would be packaged; the package holds only migrator, migrations and wheels"
            )

    write_zip(entries, output)
    data = output.read_bytes()
    return BuildResult(str(output), len(data), hashlib.sha256(data).hexdigest(), len(entries))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.tooling.build_lambda", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--source-root", type=Path, default=REPO, help="the repository tree to package")
    parser.add_argument(
        "--output", type=Path, help="the zip to write (default: <source-root>/dist/migrator.zip)"
    )
    parser.add_argument("--wheel-cache", type=Path, help="wheel cache (default: <source-root>/.local/wheels)")
    parser.add_argument(
        "--arch",
        choices=sorted(ARCHITECTURES),
        default=os.environ.get("KIT_ARCH") or "x86_64",
        help="the function's architecture (migrator.architecture in the tfvars); default x86_64",
    )
    args = parser.parse_args(argv)
    try:
        result = build(args.source_root, args.output, args.wheel_cache, args.arch)
    except BuildError as exc:
        print(f"build_lambda: error: {exc}", file=sys.stderr)
        return 1
    shown = os.path.relpath(result.path) if result.path.startswith(os.getcwd() + os.sep) else result.path
    print(
        f"{shown}: {result.bytes / 2**20:.1f} MiB ({result.files} files), sha256 {result.sha256}",
        file=sys.stderr,
    )
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
