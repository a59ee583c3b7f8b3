"""`make demo` from a fresh clone (first-hour probe P11): the dependency install's progress line is shown,
plain text (an echo, no terminal control), and only `make up`'s JSON line goes to /dev/null."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _recipe(target: str) -> str:
    text = (REPO / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, target
    return match[1].replace("\\\n", " ")


def test_demo_installs_in_view_before_it_silences_up():
    recipe = _recipe("demo")
    venv, up = recipe.index("$(MAKE) -s venv"), recipe.index("$(MAKE) -s up >/dev/null")
    assert venv < up
    assert ">/dev/null" not in recipe[:up], "the install's progress line must not go to /dev/null"


def test_the_install_says_one_plain_line_even_with_make_s():
    # -W pretends requirements changed; -n prints the recipe instead of running pip.
    proc = subprocess.run(
        ["make", "-n", "-W", "requirements-dev.txt", "venv"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    echoes = [line for line in proc.stdout.splitlines() if line.startswith("echo ")]
    assert len(echoes) == 1 and "installing Python dependencies" in echoes[0]
    assert "\\033" not in echoes[0] and "\\r" not in echoes[0]
