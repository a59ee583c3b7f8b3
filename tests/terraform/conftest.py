"""Fixtures for the plan-level Terraform tests (tftest).

Terraform runs in a session copy of modules/ and terraform/, never in the working tree: tftest deletes
``.terraform`` and ``.terraform.lock.hcl`` in the directory it tests when it is done, and other people's
initialised working directories (and the committed lock file) must survive a test run. Each directory is
initialised once per session and shared by every case.

Module plans need no AWS at all (a test-only provider block skips credential checks). Root plans read the
hosted zone with a data source, so they need an endpoint: ``moto_endpoint`` uses AWS_ENDPOINT_URL when it is
set, or starts a throwaway moto server for the session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tftest
from tf_helpers import REGION, TEST_PASSWORD

from tests import committed

REPO = Path(__file__).resolve().parents[2]
LOCAL_ZONE = "example.test"

# Module tests need a configured provider but make no API calls.
TEST_PROVIDER = """
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}
"""

# Root tests never touch a real S3 backend.
LOCAL_BACKEND = """
terraform {
  backend "local" {}
}
"""


@pytest.fixture(scope="session")
def tf_scratch() -> Iterator[Path]:
    """A session temp dir, also tempfile's default, so tftest's saved plans land (and die) here."""
    scratch = Path(tempfile.mkdtemp(prefix="release-kit-tftest-"))
    previous_tempdir = tempfile.tempdir
    tempfile.tempdir = str(scratch / "tmp")
    (scratch / "tmp").mkdir()
    saved_env = {
        key: os.environ.get(key)
        for key in ("TMPDIR", "TF_PLUGIN_CACHE_DIR", "TF_IN_AUTOMATION", "TF_DATA_DIR")
    }
    # `eval "$(make -s env)"` exports the local environment's TF_DATA_DIR: the copies here have their own.
    os.environ.pop("TF_DATA_DIR", None)
    os.environ["TMPDIR"] = tempfile.tempdir
    os.environ.setdefault("TF_PLUGIN_CACHE_DIR", str(scratch / "plugin-cache"))
    (Path(os.environ["TF_PLUGIN_CACHE_DIR"])).mkdir(parents=True, exist_ok=True)
    os.environ["TF_IN_AUTOMATION"] = "1"
    try:
        yield scratch
    finally:
        tempfile.tempdir = previous_tempdir
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def tf_workspace(tf_scratch: Path) -> Path:
    """A copy of modules/ and terraform/ with the same relative layout (the root uses ../modules)."""
    workspace = tf_scratch / "workspace"
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", "*.tfplan")
    shutil.copytree(REPO / "modules", workspace / "modules", ignore=ignore)
    shutil.copytree(REPO / "terraform", workspace / "terraform", ignore=ignore)
    committed.copy_env_dir(workspace / "terraform" / "env")  # not the demo's edits (tests/committed.py)
    return workspace


@pytest.fixture(scope="session")
def migrator_zip(tf_scratch: Path) -> Path:
    """A stand-in for dist/migrator.zip: plans only hash it."""
    path = tf_scratch / "migrator.zip"
    with zipfile.ZipFile(path, "w") as archive:
        # Fixed timestamps keep the zip, and so the planned source_code_hash, the same on every run.
        for name, text in {
            "migrator/__init__.py": "",
            "migrator/handler.py": "def handler(event, context):\n    return {}\n",
        }.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), text)
    return path


_module_cache: dict[str, tftest.TerraformTest] = {}


# Modules that call AWS while planning: the database module opens an ephemeral random password
# (secretsmanager:GetRandomPassword), so its plans need the moto endpoint.
MODULES_CALLING_AWS = frozenset({"database"})


@pytest.fixture(scope="session")
def module_tf(
    tf_workspace: Path, migrator_zip: Path, request: pytest.FixtureRequest
) -> Callable[[str], tftest.TerraformTest]:
    """tftest for modules/<name>, initialised once per session."""

    def get(name: str) -> tftest.TerraformTest:
        if name not in _module_cache:
            tfdir = tf_workspace / "modules" / name
            (tfdir / "test_provider.tf").write_text(TEST_PROVIDER)
            shutil.copy(migrator_zip, tfdir / "fixture-migrator.zip")
            env = None
            if name in MODULES_CALLING_AWS:
                env = {"AWS_ENDPOINT_URL": request.getfixturevalue("moto_endpoint")}
            tf = tftest.TerraformTest(str(tfdir), binary=shutil.which("terraform") or "terraform", env=env)
            tf.setup(cleanup_on_exit=False)
            _module_cache[name] = tf
        return _module_cache[name]

    return get


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):  # noqa: S310
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An AWS endpoint for root plans: AWS_ENDPOINT_URL if set, else a moto server for this session.

    The hosted zone the local tfvars name is created there, as it pre-exists on a real account.
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    process = None
    if not endpoint:
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        moto_server = Path(sys.executable).parent / "moto_server"
        if not moto_server.exists():
            moto_server = Path(shutil.which("moto_server") or "moto_server")
        process = subprocess.Popen(
            [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_ACM_VALIDATION_WAIT": "0"},
        )
        deadline = time.monotonic() + 30
        while not _moto_ready(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"moto server did not start on {endpoint}")
            time.sleep(0.2)
    try:
        import boto3

        route53 = boto3.client(
            "route53",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        zones = {zone["Name"] for zone in route53.list_hosted_zones()["HostedZones"]}
        if f"{LOCAL_ZONE}." not in zones:
            route53.create_hosted_zone(Name=f"{LOCAL_ZONE}.", CallerReference=f"tftest-{time.time_ns()}")
        yield endpoint
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def root_tf(tf_workspace: Path, moto_endpoint: str, migrator_zip: Path) -> tftest.TerraformTest:
    """tftest for the root configuration with a local backend, pointed at the moto endpoint."""
    tfdir = tf_workspace / "terraform"
    (tfdir / "backend_override.tf").write_text(LOCAL_BACKEND)
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "TF_VAR_database_password": TEST_PASSWORD,
        "TF_VAR_migrator_package_path": str(migrator_zip),
    }
    tf = tftest.TerraformTest(str(tfdir), binary=shutil.which("terraform") or "terraform", env=env)
    tf.setup(cleanup_on_exit=False)
    return tf


@pytest.fixture(scope="session")
def production_plan(root_tf: tftest.TerraformTest, moto_endpoint: str):
    """terraform/env/production.tfvars.example planned on the local endpoint, once per session."""
    import boto3
    from tf_helpers import plan

    # The example's hosted zone pre-exists on a real account; create it on the local endpoint.
    route53 = boto3.client(
        "route53",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    if "example.com." not in {zone["Name"] for zone in route53.list_hosted_zones()["HostedZones"]}:
        route53.create_hosted_zone(Name="example.com.", CallerReference="production-example")
    # RDS manages the master password: the example plans with no password at all.
    return plan(root_tf, ["env/production.tfvars.example"], {"database_password": None})
