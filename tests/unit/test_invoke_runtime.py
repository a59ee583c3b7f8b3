"""The local invoke runs the deployed package on the runtime's own Python version, never on another one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scripts.release import invoke


def test_a_missing_runtime_python_is_said_plainly(monkeypatch):
    # GIVEN a machine without the runtime's Python (the lookup finds nothing)
    monkeypatch.setattr(invoke, "find_python", lambda version: None)
    # WHEN the deployed package would run THEN it is refused, naming the version and what to do
    with pytest.raises(invoke.InvokeError) as refused:
        invoke._runtime_python("python3.13")
    message = str(refused.value)
    assert "no Python 3.13 was found on this machine" in message
    assert "so it is not run on another version" in message
    assert "pyenv install 3.13" in message


def test_find_python_checks_the_version_it_finds(tmp_path: Path, monkeypatch):
    # A `python3.13` on PATH that is really another version (a broken shim, a symlink) is not taken
    impostor = tmp_path / "python3.13"
    impostor.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    impostor.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert current != "3.13"
    assert invoke.find_python("3.13") is None
    # ... while the running interpreter's own version is found
    assert invoke.find_python(current) is not None


def test_the_python_313_of_this_machine_is_found():
    # The machines this kit runs on have python3.13 (pyenv); the e2e test runs the package on it
    python = invoke.find_python("3.13")
    assert python is not None and invoke._reports_version(str(python), "3.13")
