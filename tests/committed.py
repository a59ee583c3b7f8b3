"""The env files as committed, for the tests that read them.

`make demo` deploys through the checkout's own ``terraform/env/local.tfvars`` and leaves its edits there
(green live at version 2: `git diff terraform/env` shows them), so the suite never reads that file from the
working tree: it reads what ``HEAD`` holds, and `make test` passes whether or not the demo ran first.
Without git (an exported tarball) the working tree's file is what there is.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV_DIR = REPO / "terraform" / "env"


def text(path: Path) -> str:
    """``path`` (inside the repository) as HEAD holds it; the working tree's when git cannot say."""
    relative = path.resolve().relative_to(REPO).as_posix()
    shown = subprocess.run(
        ["git", "-C", str(REPO), "show", f"HEAD:{relative}"], capture_output=True, text=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else path.read_text()


def copy_env_dir(destination: Path) -> Path:
    """terraform/env as committed, written to ``destination`` (created or replaced)."""
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(ENV_DIR, destination)
    for path in ENV_DIR.iterdir():
        if path.is_file():
            (destination / path.name).write_text(text(path))
    return destination
