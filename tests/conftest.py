"""Shared fixtures: the real services every non-unit test uses.

The local default (``scripts/localdefault/``) provides one moto server and one PostgreSQL for the whole run;
``make test`` and ``.ci/run`` start it, and these fixtures start it too when a test is run on its own. Tests
never share a database: ``fresh_database`` gives each test its own, dropped afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localdefault import localenv

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
