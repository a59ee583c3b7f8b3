"""A deployed local default per group of end-to-end tests: the stacks the release flow deploys are reused by
the progressive release tests after it (each Route 53 record costs ~15 s on moto, each load balancer ~60 s).

A test module's ``xdist_group`` mark names its group (``e2e-release`` when it has none: the release flow, the
progressive releases and what runs after them, in file order). Each group gets its own local default (its
own moto, PostgreSQL, state and copy of terraform/env), created the first time one of its tests asks for
``kit``, so two groups can run side by side on two workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from kit import REPO, Kit

from tests import committed


def _start(local_dir) -> Kit:
    # Releases write the traffic settings into the env tfvars: work on a copy of the committed files, never
    # on the checkout's (which `make demo` edits: tests/committed.py).
    committed.copy_env_dir(local_dir / "env")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "AWS_", "TF_VAR_", "DATABASE_URL"))
    }
    env |= {"RELEASE_KIT_LOCAL_DIR": str(local_dir), "RELEASE_KIT_ENV_DIR": str(local_dir / "env")}
    kit = Kit(env=env, local_dir=local_dir)
    kit.make("build")
    kit.make("up")
    return kit


@pytest.fixture(scope="session")
def kits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Kit]]:
    started: dict[str, Kit] = {}
    yield started
    for kit in started.values():
        kit.make("down", check=False)
        subprocess.run(
            [sys.executable, "-m", "scripts.localdefault.localenv", "clean"],
            cwd=REPO,
            env=kit.env,
            check=False,
        )


@pytest.fixture
def kit(
    request: pytest.FixtureRequest, kits: dict[str, Kit], tmp_path_factory: pytest.TempPathFactory
) -> Kit:
    mark = request.node.get_closest_marker("xdist_group")
    group = mark.args[0] if mark and mark.args else "e2e-release"
    if group not in kits:
        kits[group] = _start(tmp_path_factory.mktemp(f"local-default-{group}"))
    return kits[group]
