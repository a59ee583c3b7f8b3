"""`make preflight`: what a real account can lack, checked against the local moto server.

moto implements every API the checks use but one: Lambda's GetAccountSettings (the concurrency quota). The
tests of the quota rule stub exactly that call with botocore's Stubber; everything else is moto's answer.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from scripts.release import preflight
from scripts.release.verify import FAIL, PASS, SKIP

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's account
TODAY = datetime.date(2026, 11, 30)


def test_make_preflight_passes_on_the_local_default(local_default):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_VAR_", "KIT_"))}
    proc = subprocess.run(
        ["make", "-s", "preflight", "FORMAT=json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    statuses = {check["name"]: check["status"] for check in result["checks"]}
    # moto's default VPC quota (5) against whatever VPCs the tests before this one left on this server: PASS,
    # or SKIP with the figures (never FAIL on the local endpoint)
    assert statuses.pop("quota: VPCs") in (PASS, SKIP)
    assert statuses == {
        "credentials": PASS,
        "region": PASS,
        "hosted zone": PASS,
        "state bucket": PASS,
        "state bucket versioning": PASS,
        "state bucket encryption": PASS,
        "lambda concurrency": SKIP,  # moto has no GetAccountSettings; it says so
        "runtime": PASS,
        "package": PASS,
        "blue image": SKIP,  # a public image: DescribeImages cannot see it
        "green image": SKIP,
        "egress": PASS,
        "database password": PASS,
        "statement inventory": PASS,  # the local default preloads pg_stat_statements
        "service-linked roles": PASS,  # `make up` creates them, as a used account has them
        "quota: elastic IPs": SKIP,  # moto knows only the VPC quotas; it says so
        "quota: application load balancers": SKIP,
        "quota: Fargate vCPUs": SKIP,
        "kms key": PASS,
        "zone delegation": SKIP,  # a local zone is delegated from nowhere
        "CAA": PASS,
        "network": PASS,
        "database": SKIP,  # on this machine: no VPC route can be judged
    }


@pytest.fixture
def account(aws_env, monkeypatch, tmp_path):
    """A production-shaped ENV against moto in eu-west-1: the example tfvars, a state bucket that is neither
    versioned nor encrypted, the example's zone, and blue's image pushed to ECR (green's tag is missing)."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    example = (REPO / "terraform" / "env" / "production.tfvars.example").read_text()
    green_image = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/api:2.0.0"
    blue_image = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/api:1.0.0"
    head, _, tail = example.partition("green = {")
    example = head + "green = {" + tail.replace(blue_image, green_image, 1)
    assert green_image in example
    (env_dir / "preflight.tfvars").write_text(example)
    bucket = f"preflight-state-{os.getpid()}"
    (env_dir / "preflight.s3.tfbackend").write_text(
        f'bucket = "{bucket}"\nkey = "p/terraform.tfstate"\nregion = "eu-west-1"\n'
    )
    monkeypatch.setattr(preflight, "ENV_DIR", env_dir)
    session = boto3.session.Session(region_name="eu-west-1")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    route53 = session.client("route53")
    if "example.com." not in {z["Name"] for z in route53.list_hosted_zones()["HostedZones"]}:
        route53.create_hosted_zone(Name="example.com.", CallerReference=f"preflight-{os.getpid()}")
    ecr = session.client("ecr")
    repositories = {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
    if "api" not in repositories:
        ecr.create_repository(repositoryName="api")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(repositoryName="api", imageManifest=json.dumps(manifest), imageTag="1.0.0")
    # RDS manages the example's master password: no password is exported
    monkeypatch.delenv("TF_VAR_database_password", raising=False)
    yield session, env_dir
    for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def _stub_quota(monkeypatch, session, *, total: int, unreserved: int) -> None:
    """moto lacks GetAccountSettings: hand out a Lambda client with just that call stubbed."""
    real_client = session.client

    def client(name, **kwargs):
        made = real_client(name, **kwargs)
        if name == "lambda":
            stubber = Stubber(made)
            stubber.add_response(
                "get_account_settings",
                {
                    "AccountLimit": {
                        "ConcurrentExecutions": total,
                        "UnreservedConcurrentExecutions": unreserved,
                    }
                },
            )
            stubber.activate()
        return made

    monkeypatch.setattr(session, "client", client)


def _by_name(checks) -> dict[str, preflight.Check]:
    return {check.name: check for check in checks}


def test_what_a_new_account_lacks_is_reported_with_the_fix(account, monkeypatch):
    session, _ = account
    _stub_quota(monkeypatch, session, total=1000, unreserved=1000)
    checks = _by_name(preflight.preflight("preflight", session, today=TODAY))
    assert checks["credentials"].status == PASS
    assert checks["region"].status == PASS
    assert checks["hosted zone"].status == PASS
    assert checks["state bucket"].status == PASS
    assert checks["state bucket versioning"].status == FAIL
    assert "put-bucket-versioning" in checks["state bucket versioning"].detail
    assert checks["state bucket encryption"].status == FAIL
    assert "put-bucket-encryption" in checks["state bucket encryption"].detail
    assert checks["lambda concurrency"].status == PASS
    assert checks["runtime"].detail == "python3.13, supported until 2029-06-30"
    assert checks["blue image"].status == PASS
    assert checks["green image"].status == FAIL
    assert "api:2.0.0 was not found" in checks["green image"].detail
    assert checks["egress"].status == PASS
    assert checks["database password"].status == PASS
    # No database to ask before the first apply (no DATABASE_URL, no deployed migrator): it says so
    assert checks["statement inventory"].status == SKIP


def test_the_statement_inventory_source_is_checked(local_default, monkeypatch):
    from psycopg import sql

    from tests.integration.colour_support import rds_like_database

    with rds_like_database(local_default.admin_url, local_default.pg_port, extension=False) as db:
        monkeypatch.setenv("DATABASE_URL", db.migrator_url)
        missing = preflight.check_statement_inventory("production")
        assert missing.status == FAIL and "CREATE EXTENSION pg_stat_statements" in missing.detail
        with db.admin() as admin:
            admin.execute("CREATE EXTENSION pg_stat_statements")
        assert preflight.check_statement_inventory("production").status == PASS
        with db.admin() as admin:
            admin.execute(sql.SQL("REVOKE pg_read_all_stats FROM {}").format(sql.Identifier(db.migrator)))
        unreadable = preflight.check_statement_inventory("production")
        assert unreadable.status == FAIL and "GRANT pg_read_all_stats" in unreadable.detail


def test_a_reservation_a_quota_of_10_cannot_give_is_refused(account, monkeypatch):
    session, env_dir = account
    tfvars = env_dir / "preflight.tfvars"
    tfvars.write_text(
        tfvars.read_text().replace(
            'architecture = "x86_64"', 'architecture = "x86_64"\n  reserved_concurrency = 1'
        )
    )
    _stub_quota(monkeypatch, session, total=10, unreserved=10)
    check = _by_name(preflight.preflight("preflight", session, today=TODAY))["lambda concurrency"]
    assert check.status == FAIL
    assert "would leave 9 unreserved, but Lambda keeps at least 10 (quota 10)" in check.detail


@pytest.mark.parametrize(
    ("total", "unreserved", "status"), [(1000, 1000, PASS), (1000, 100, FAIL), (200, 101, PASS)]
)
def test_the_reservation_must_leave_100_unreserved(account, monkeypatch, total, unreserved, status):
    session, env_dir = account
    tfvars = env_dir / "preflight.tfvars"
    text = tfvars.read_text().replace(
        'architecture = "x86_64"', 'architecture = "x86_64"\n  reserved_concurrency = 1'
    )
    tfvars.write_text(text)
    _stub_quota(monkeypatch, session, total=total, unreserved=unreserved)
    assert (
        _by_name(preflight.preflight("preflight", session, today=TODAY))["lambda concurrency"].status
        == status
    )


def test_region_zones_egress_and_password_mistakes(account, monkeypatch):
    session, env_dir = account
    _stub_quota(monkeypatch, session, total=1000, unreserved=1000)
    tfvars = env_dir / "preflight.tfvars"
    text = tfvars.read_text().replace('["eu-west-1a", "eu-west-1b"]', '["us-east-1a", "us-east-1b"]')
    text = text.replace('egress             = "nat"', 'egress             = "endpoints"')
    text = text.replace("123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:1.0.0", "ghcr.io/example/api:1.0.0")
    tfvars.write_text(text)
    monkeypatch.setenv("TF_VAR_database_password", "left-over-from-an-old-shell")
    checks = _by_name(preflight.preflight("preflight", session, today=TODAY))
    assert (
        "network.azs ['us-east-1a', 'us-east-1b'] are not availability zones of eu-west-1"
        in checks["region"].detail
    )
    assert checks["blue image"].status == SKIP
    assert checks["egress"].status == FAIL
    assert "blue.image ghcr.io/example/api:1.0.0 is not in ECR in eu-west-1" in checks["egress"].detail
    assert checks["database password"].status == FAIL  # RDS manages it: a password set anyway is refused
    assert "RDS manages the master password" in checks["database password"].detail
    monkeypatch.delenv("TF_VAR_database_password")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    tfvars.write_text(tfvars.read_text().replace("create              = true", "create = false"))
    checks = _by_name(preflight.preflight("preflight", session, today=TODAY))
    assert checks["database password"].detail.startswith("TF_VAR_database_password is not set")
    assert "the tfvars deploy to eu-west-1 but this shell's region is us-east-1" in checks["region"].detail


def test_no_zone_and_no_bucket(account, monkeypatch):
    session, env_dir = account
    _stub_quota(monkeypatch, session, total=1000, unreserved=1000)
    tfvars = env_dir / "preflight.tfvars"
    tfvars.write_text(
        tfvars.read_text().replace('zone_name   = "example.com"', 'zone_name   = "not-delegated.example"')
    )
    (env_dir / "preflight.s3.tfbackend").write_text(
        'bucket = "no-such-bucket-anywhere"\nregion = "eu-west-1"\n'
    )
    checks = _by_name(preflight.preflight("preflight", session, today=TODAY))
    assert checks["hosted zone"].status == FAIL
    assert "no public Route 53 hosted zone named not-delegated.example" in checks["hosted zone"].detail
    assert checks["state bucket"].status == FAIL
    assert "state bucket versioning" not in checks


def test_runtime_support_is_judged_by_todays_date():
    assert preflight.check_runtime("python3.11", TODAY).status == FAIL  # updates blocked since 2026-08-31
    assert preflight.check_runtime("python3.13", TODAY).status == PASS
    assert preflight.check_runtime("python3.13", datetime.date(2029, 7, 1)).status == FAIL
    assert preflight.check_runtime(preflight.migrator_runtime(), TODAY).status == PASS


def test_without_credentials_nothing_else_is_asked(aws_env):
    session = boto3.session.Session(region_name="eu-west-1")
    sts = session.client("sts")
    stubber = Stubber(sts)
    stubber.add_client_error("get_caller_identity", "ExpiredToken", http_status_code=403)
    with stubber:
        check = preflight.check_credentials(type("S", (), {"client": lambda self, name: sts})())
    assert check.status == FAIL
    assert "no usable AWS credentials (ExpiredToken)" in check.detail


def test_a_missing_environment_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, "ENV_DIR", tmp_path)
    with pytest.raises(preflight.PreflightError, match="does not exist: copy terraform/env/production"):
        preflight.preflight("staging", boto3.session.Session(region_name="eu-west-1"))


def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"")
    return path


def test_the_package_must_be_built_for_the_functions_architecture(tmp_path: Path):
    x86 = _zip(tmp_path / "x86.zip", ["pglast/parser.cpython-313-x86_64-linux-gnu.so", "migrator/handler.py"])
    arm = _zip(tmp_path / "arm.zip", ["pglast/parser.cpython-313-aarch64-linux-gnu.so"])
    arm64 = {"migrator": {"architecture": "arm64"}}
    assert preflight.check_package({}, x86).status == PASS
    assert preflight.check_package(arm64, arm).status == PASS
    wrong = preflight.check_package(arm64, x86)
    assert wrong.status == FAIL
    assert (
        "carries x86_64 wheels but migrator.architecture is arm64: run `make build ARCH=arm64`"
        in wrong.detail
    )
    missing = preflight.check_package({}, tmp_path / "migrator.zip")
    assert (missing.status, missing.detail) == (
        FAIL,
        "migrator.zip is not built: run `make build ARCH=x86_64`",
    )
