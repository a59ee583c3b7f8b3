"""Shared fixtures: the real services every non-unit test uses.

The local default (``scripts/localdefault/``) provides one moto server and one PostgreSQL for the whole run;
``make test`` and ``.ci/run`` start it, and these fixtures start it too when a test is run on its own. Tests
never share a database: ``fresh_database`` gives each test its own, dropped afterwards.

``make test`` runs on several workers (pytest-xdist). Roles, ``pg_stat_statements`` and the moto server's
resources are shared by every database of a server, so each worker but the first gets a local default of its
own (``.local/xdist/<worker>``, stopped when its session ends), and tests that share state run on one
worker, in order (``pytest_collection_modifyitems``): each end-to-end group (its own deployed local
default, see tests/e2e/conftest.py), the Terraform plan tests, and otherwise each module.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and _WORKER != "gw0" and "RELEASE_KIT_LOCAL_DIR" not in os.environ:
    # Before anything imports `scripts` (which reads it once): this worker's own services and files.
    os.environ["RELEASE_KIT_LOCAL_DIR"] = str(
        Path(__file__).resolve().parents[1] / ".local" / "xdist" / _WORKER
    )
    _OWN_LOCAL_DEFAULT = True
else:
    _OWN_LOCAL_DEFAULT = False

from scripts.localdefault import localenv  # noqa: E402

EVENTS_DIR = Path(__file__).parent / "events"


@pytest.fixture(scope="session")
def local_default() -> localenv.State:
    """The running local default (started on first use; left running for the next command)."""
    return localenv.up()


@pytest.fixture(scope="session")
def pg_admin_url(local_default: localenv.State) -> str:
    """A superuser connection string to the local PostgreSQL (database ``postgres``)."""
    return local_default.admin_url


@pytest.fixture
def fresh_database(pg_admin_url: str) -> Iterator[str]:
    """A connection string to a brand-new, empty database that is dropped after the test."""
    with localenv.scratch_database(pg_admin_url, prefix="t") as url:
        yield url


@pytest.fixture
def aws_env(local_default: localenv.State, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 at the local moto server for this test."""
    env = local_default.aws_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def lambda_context():
    """A minimal stand-in for the Lambda context object (the handler reads only these attributes)."""

    class Context:
        function_name = "release-kit-migrator"
        function_version = "$LATEST"
        aws_request_id = str(uuid.uuid4())
        memory_limit_in_mb = 512

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 300_000

    return Context()


def load_event(name: str) -> dict:
    """A test event from tests/events/<name>.json."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


# The longest groups start first, each on a worker of its own (make test passes --no-loadscope-reorder, so
# xdist hands groups out in this order instead of by test count); everything else fills in around them.
LONGEST_FIRST = ("e2e-release", "e2e-first-hour", "terraform")


def _group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return str(mark.args[0]) if mark and mark.args else None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Which tests run together on one worker, in order: each end-to-end file's group (a module's own
    ``xdist_group`` mark, or ``e2e-release``), all the Terraform plan tests (their session fixtures plan
    once), and otherwise each module (some gather figures across their tests, such as the sql action's
    worst case over its corpus). The longest groups come first (LONGEST_FIRST)."""
    for item in items:
        path = Path(str(item.fspath))
        if "e2e" in path.parts:
            if _group(item) is None:
                item.add_marker(pytest.mark.xdist_group("e2e-release"))
        elif "terraform" in path.parts:
            item.add_marker(pytest.mark.xdist_group("terraform"))
        elif _group(item) is None:
            item.add_marker(pytest.mark.xdist_group(path.stem))
    rank = {group: index for index, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item) or "", len(rank)))  # stable: file order within


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _OWN_LOCAL_DEFAULT and localenv.load_state() is not None:
        localenv.down()
