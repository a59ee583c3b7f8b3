"""One local default for every end-to-end test module: the stacks the release flow deploys are reused by
the progressive release tests (each Route 53 record costs ~15 s on moto, each load balancer ~60 s)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from kit import REPO, Kit


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    local_dir = tmp_path_factory.mktemp("local-default")
    # Releases write the traffic settings into the env tfvars: work on a copy, never on the checkout's.
    shutil.copytree(REPO / "terraform" / "env", local_dir / "env")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "AWS_", "TF_VAR_", "DATABASE_URL"))
    }
    env |= {"RELEASE_KIT_LOCAL_DIR": str(local_dir), "RELEASE_KIT_ENV_DIR": str(local_dir / "env")}
    kit = Kit(env=env, local_dir=local_dir)
    kit.make("build")
    kit.make("up")
    yield kit
    kit.make("down", check=False)
    subprocess.run(
        [sys.executable, "-m", "scripts.localdefault.localenv", "clean"], cwd=REPO, env=env, check=False
    )
