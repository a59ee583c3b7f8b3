"""`make preflight ENV=<env>`: before the first apply on an account, check what a real account can lack.

Each check prints PASS, FAIL or SKIP with what to do; the command exits 1 on any FAIL (FORMAT=json prints
the checks as JSON). It reads the environment's tfvars and backend file, and asks AWS only read-only
questions:

* credentials and the account id (STS GetCallerIdentity);
* the region: the shell's agrees with the tfvars, and the tfvars' availability zones are in it;
* the hosted zone for ``zone_name`` exists and is public;
* the state bucket exists, is versioned and is encrypted (and sits in the backend's region);
* the Lambda concurrency quota leaves room for the migrator's reserved concurrency (Lambda keeps 100, or the
  whole quota when it is smaller, unreserved);
* the migrator's runtime is supported today, and the built package's wheels match its architecture;
* each enabled colour's image exists, where that can be checked (ECR DescribeImages; other registries SKIP);
* private-subnet egress is configured (NAT, or VPC endpoints with every image in this region's ECR);
* the database's credentials: RDS manages a created instance's (TF_VAR_database_password must then be unset);
  an existing database needs existing_secret_arn or TF_VAR_database_password;
* and, from ``account``: the service-linked roles, the quotas the first apply spends, the KMS key, the zone's
  delegation and CAA records, a team's own VPC, and whether an existing database is reachable.
* the statement inventory's source: pg_stat_statements is loaded, installed in the database and readable
  for the migrator (pg_read_all_stats). It asks the database directly (DATABASE_URL, or the local default),
  or the deployed migrator (its capture action); before the first apply there is neither, and it says SKIP.

The tfvars are read by Terraform itself (``terraform console`` over a scratch configuration that declares
the variables as ``any``), so HCL is parsed the way plan will parse it.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts.release import account
from scripts.release.account import Check
from scripts.release.verify import FAIL, PASS, SKIP

REPO = Path(__file__).resolve().parents[2]
ENV_DIR = REPO / "terraform" / "env"
MIGRATOR_MAIN = REPO / "modules" / "migrator" / "main.tf"
# AWS Lambda's runtime table (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html): deprecation,
# then the day function updates are blocked.
RUNTIME_SUPPORT = {
    "python3.11": (datetime.date(2026, 6, 30), datetime.date(2026, 8, 31)),
    "python3.12": (datetime.date(2028, 10, 31), datetime.date(2029, 1, 10)),
    "python3.13": (datetime.date(2029, 6, 30), datetime.date(2029, 8, 31)),
    "python3.14": (datetime.date(2030, 6, 30), datetime.date(2030, 8, 31)),
}
# Lambda keeps 100 of the account's concurrency unreserved (docs: "configuring reserved concurrency"), and
# all of it on a new account whose quota is below that (quota 10: any reservation fails).
MIN_UNRESERVED = 100
_TFVARS_VARIABLES = (
    "region",
    "zone_name",
    "domain_name",
    "live_record_name",
    "environment",
    "name",
    "kms_key_arn",
    "alarms",
    "blue",
    "green",
    "network",
    "database",
    "migrator",
)
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)"
    r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class PreflightError(RuntimeError):
    """The checks could not run at all (no tfvars, unreadable tfvars); the message says what to do."""


def read_tfvars(path: Path) -> dict[str, Any]:
    """The variables of a tfvars file as Terraform reads them (unset ones are None)."""
    with tempfile.TemporaryDirectory(prefix="preflight-") as scratch:
        declarations = "".join(
            f'variable "{name}" {{\n  type    = any\n  default = null\n}}\n' for name in _TFVARS_VARIABLES
        )
        Path(scratch, "variables.tf").write_text(declarations)
        expression = "jsonencode({" + ", ".join(f"{n} = var.{n}" for n in _TFVARS_VARIABLES) + "})"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_VAR_") and k != "TF_DATA_DIR"}
        env["TF_DATA_DIR"] = str(Path(scratch, ".terraform"))
        proc = subprocess.run(
            ["terraform", f"-chdir={scratch}", "console", f"-var-file={path}"],
            input=expression,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if proc.returncode != 0:
        lines = [line.strip("│╷╵ ") for line in proc.stderr.splitlines() if line.strip("│╷╵ ")]
        raise PreflightError(f"terraform could not read {path.name}: {' '.join(lines)[:600]}")
    # Warnings about the tfvars' other variables come first on stdout; the value is the last line.
    return json.loads(json.loads(proc.stdout.strip().splitlines()[-1]))


def read_backend(path: Path) -> dict[str, str]:
    """bucket, key and region of an S3 backend file (simple ``name = "value"`` lines)."""
    values = dict(re.findall(r'^\s*(\w+)\s*=\s*"([^"]*)"', path.read_text(), re.MULTILINE))
    return values


def migrator_runtime() -> str:
    match = re.search(r'^\s*runtime\s*=\s*"([^"]+)"', MIGRATOR_MAIN.read_text(), re.MULTILINE)
    if not match:
        raise PreflightError(f"no runtime is set in {MIGRATOR_MAIN.relative_to(REPO)}")
    return match.group(1)


# ------------------------------------------------------------------------------------------- checks


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)


def check_credentials(session) -> Check:
    try:
        identity = session.client("sts").get_caller_identity()
    except Exception as exc:
        return Check(
            "credentials",
            FAIL,
            f"no usable AWS credentials ({_error_code(exc)}): log in (aws sso login, AWS_PROFILE, or the CI "
            "role) and run again",
        )
    return Check("credentials", PASS, f"account {identity['Account']} as {identity['Arn']}")


def check_region(session, tfvars: dict[str, Any]) -> Check:
    wanted = tfvars.get("region") or "us-east-1"
    shell = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or session.region_name
    if shell and shell != wanted:
        return Check(
            "region",
            FAIL,
            f"the tfvars deploy to {wanted} but this shell's region is {shell}: export AWS_REGION={wanted} "
            "(verify and migrate follow the deployment's region, but your own aws commands would not)",
        )
    azs = list((tfvars.get("network") or {}).get("azs") or [])
    try:
        zones = session.client("ec2", region_name=wanted).describe_availability_zones()["AvailabilityZones"]
    except Exception as exc:
        return Check("region", FAIL, f"cannot list the availability zones of {wanted} ({_error_code(exc)})")
    known = {zone["ZoneName"] for zone in zones}
    foreign = [az for az in azs if az not in known]
    if foreign:
        return Check(
            "region",
            FAIL,
            f"network.azs {foreign} are not availability zones of {wanted}: use two of {sorted(known)[:6]}",
        )
    return Check("region", PASS, f"{wanted}, with availability zones {', '.join(azs) or '(none set)'}")


def check_hosted_zone(session, tfvars: dict[str, Any]) -> Check:
    name = str(tfvars.get("zone_name") or "").rstrip(".")
    if not name:
        return Check("hosted zone", FAIL, "zone_name is not set in the tfvars: set it to your public zone")
    zones = session.client("route53").list_hosted_zones_by_name(DNSName=f"{name}.")["HostedZones"]
    public = [z for z in zones if z["Name"] == f"{name}." and not z.get("Config", {}).get("PrivateZone")]
    if not public:
        return Check(
            "hosted zone",
            FAIL,
            f"no public Route 53 hosted zone named {name}: create it (and delegate the domain to its name "
            "servers) before the first apply",
        )
    return Check("hosted zone", PASS, f"{name} ({public[0]['Id'].split('/')[-1]})")


def check_state_bucket(session, backend: dict[str, str]) -> list[Check]:
    bucket = backend.get("bucket")
    if not bucket:
        return [Check("state bucket", FAIL, 'the backend file names no bucket: set bucket = "..."')]
    s3 = session.client("s3", region_name=backend.get("region") or session.region_name)
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        return [
            Check(
                "state bucket",
                FAIL,
                f"bucket {bucket} does not exist or is not yours ({_error_code(exc)}): create it, versioned "
                "and encrypted, in the backend's region",
            )
        ]
    checks = [Check("state bucket", PASS, f"{bucket} exists")]
    location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    if backend.get("region") and location != backend["region"]:
        checks.append(
            Check(
                "state bucket region",
                FAIL,
                f"{bucket} is in {location} but the backend file says {backend['region']}: fix region there",
            )
        )
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    checks.append(
        Check("state bucket versioning", PASS, "enabled")
        if versioning == "Enabled"
        else Check(
            "state bucket versioning",
            FAIL,
            f"versioning is {versioning or 'off'}: aws s3api put-bucket-versioning --bucket {bucket} "
            "--versioning-configuration Status=Enabled (a bad apply must be recoverable)",
        )
    )
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        algorithm = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        checks.append(Check("state bucket encryption", PASS, algorithm))
    except Exception as exc:
        checks.append(
            Check(
                "state bucket encryption",
                FAIL,
                f"no default encryption ({_error_code(exc)}): "
                f"aws s3api put-bucket-encryption --bucket {bucket} "
                "--server-side-encryption-configuration "
                '\'{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"}}]}\'',
            )
        )
    return checks


def check_concurrency(session, tfvars: dict[str, Any]) -> Check:
    reserved = (tfvars.get("migrator") or {}).get("reserved_concurrency")
    region = tfvars.get("region") or session.region_name
    try:
        settings = session.client("lambda", region_name=region).get_account_settings()["AccountLimit"]
    except Exception as exc:
        if os.environ.get("AWS_ENDPOINT_URL") and _error_code(exc) in ("404", "NotImplemented"):
            return Check(
                "lambda concurrency",
                SKIP,
                "the local endpoint (moto) does not implement GetAccountSettings; on AWS this compares the "
                "quota with migrator.reserved_concurrency",
            )
        return Check(
            "lambda concurrency", FAIL, f"cannot read the Lambda account settings ({_error_code(exc)})"
        )
    total, unreserved = settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]
    if not reserved:
        return Check(
            "lambda concurrency", PASS, f"the migrator reserves none (quota {total}, {unreserved} unreserved)"
        )
    keep = min(MIN_UNRESERVED, total)
    if unreserved - int(reserved) < keep:
        return Check(
            "lambda concurrency",
            FAIL,
            f"migrator.reserved_concurrency = {reserved} would leave {unreserved - int(reserved)} "
            "unreserved, "
            f"but Lambda keeps at least {keep} (quota {total}): remove reserved_concurrency (the "
            "database lock serialises runs anyway) or ask for a higher quota in Service Quotas",
        )
    return Check(
        "lambda concurrency", PASS, f"reserving {reserved} leaves {unreserved - int(reserved)} unreserved"
    )


def check_runtime(runtime: str, today: datetime.date) -> Check:
    support = RUNTIME_SUPPORT.get(runtime)
    if support is None:
        return Check("runtime", FAIL, f"{runtime} is not in the known runtime table: use python3.13")
    deprecated, blocked = support
    if today >= blocked:
        return Check("runtime", FAIL, f"{runtime}: Lambda blocks updates since {blocked}: move to python3.13")
    if today >= deprecated:
        return Check(
            "runtime",
            FAIL,
            f"{runtime} is deprecated since {deprecated} (updates blocked {blocked}): move on",
        )
    return Check("runtime", PASS, f"{runtime}, supported until {deprecated}")


def check_package(tfvars: dict[str, Any], package: Path) -> Check:
    """The package's compiled wheels are for the function's architecture (an arm64 function cannot load
    x86_64 shared objects, and the failure would only show at the first invoke)."""
    arch = (tfvars.get("migrator") or {}).get("architecture") or "x86_64"
    if not package.exists():
        return Check("package", FAIL, f"{package.name} is not built: run `make build ARCH={arch}`")
    import zipfile

    with zipfile.ZipFile(package) as archive:
        machines = {
            machine
            for name in archive.namelist()
            if name.endswith(".so") or ".so." in name
            for machine in ("x86_64", "aarch64")
            if f"-{machine}-linux-gnu" in name
        }
    wanted = {"x86_64": "x86_64", "arm64": "aarch64"}[arch]
    if machines and machines != {wanted}:
        return Check(
            "package",
            FAIL,
            f"{package.name} carries {', '.join(sorted(machines))} wheels but migrator.architecture is "
            f"{arch}: "
            f"run `make build ARCH={arch}`",
        )
    return Check("package", PASS, f"{package.name} is built for {arch}")


def check_image(session, color: str, image: str) -> Check:
    name = f"{color} image"
    match = _ECR_IMAGE.match(image)
    if not match:
        return Check(
            name,
            SKIP,
            f"{image} is not in Amazon ECR, so DescribeImages cannot see it: make sure it exists and that "
            "the "
            'tasks can reach its registry (network.egress = "nat")',
        )
    image_id = {"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"}
    ecr = session.client("ecr", region_name=match["region"])
    try:
        ecr.describe_images(registryId=match["account"], repositoryName=match["repo"], imageIds=[image_id])
    except Exception as exc:
        return Check(
            name,
            FAIL,
            f"{image} was not found ({_error_code(exc)}): push it (or fix the tag) before the apply, or the "
            "service never starts",
        )
    return Check(name, PASS, f"{image} exists")


def check_egress(tfvars: dict[str, Any]) -> Check:
    network = tfvars.get("network") or {}
    egress = network.get("egress") or "nat"
    region = tfvars.get("region") or "us-east-1"
    if egress == "nat":
        per_az = " per AZ" if network.get("nat_gateway_per_az") else " (one, in the first AZ)"
        return Check(
            "egress", PASS, f"NAT gateway{per_az}: tasks and the migrator reach any registry and AWS"
        )
    if egress == "endpoints":
        images = [
            f"{color}.image {(tfvars.get(color) or {}).get('image')}"
            for color in ("blue", "green")
            if (tfvars.get(color) or {}).get("enabled")
            and not re.match(
                rf"^\d{{12}}\.dkr\.ecr\.{region}\.amazonaws\.com/", (tfvars.get(color) or {}).get("image", "")
            )
        ]
        if images:
            return Check(
                "egress",
                FAIL,
                f"VPC endpoints reach only AWS services, but {' and '.join(images)} "
                f"is not in ECR in {region}: "
                'set network.egress = "nat" or push the image to ECR',
            )
        return Check("egress", PASS, "VPC endpoints for ECR, CloudWatch Logs, Secrets Manager and S3")
    return Check("egress", FAIL, f'network.egress = "{egress}": set "nat" or "endpoints"')


def check_database_password(tfvars: dict[str, Any]) -> Check:
    password = os.environ.get("TF_VAR_database_password", "")  # noqa: SIM112 - Terraform's own spelling
    database = tfvars.get("database") or {}
    if database.get("create"):
        if password:
            return Check(
                "database password",
                FAIL,
                "TF_VAR_database_password is set, but RDS manages the master password of the instance the "
                "kit creates (plan refuses it): unset it",
            )
        return Check("database password", PASS, "RDS generates, keeps and rotates the master password")
    if database.get("existing_secret_arn"):
        return Check("database password", PASS, "the team's secret (existing_secret_arn); none passes here")
    if not password:
        return Check(
            "database password",
            FAIL,
            "TF_VAR_database_password is not set: export it (it is ephemeral: needed on every plan and "
            "apply, never stored), or name the team's own secret in database.existing_secret_arn",
        )
    return Check("database password", PASS, f"set ({len(password)} characters)")


def check_statement_inventory(env: str) -> Check:
    """pg_stat_statements loaded, installed and readable for the migrator (the compatibility check reads
    it)."""
    name = "statement inventory"
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url and env == "local":
        from scripts.localdefault import localenv

        state = localenv.load_state()
        url = state.app_url if state else ""
    if url:
        import psycopg
        from migrator.runner import inventory

        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                status = inventory.source_status(conn)
        except psycopg.Error as exc:
            return Check(name, FAIL, f"cannot reach the database to ask ({str(exc).strip()[:200]})")
        if status["ok"]:
            return Check(name, PASS, f"pg_stat_statements loaded and readable ({status['installed']})")
        return Check(name, FAIL, status["reason"])
    return _inventory_through_the_migrator(env, name)


def _inventory_through_the_migrator(env: str, name: str) -> Check:
    from scripts.release import environment
    from scripts.release.invoke import InvokeError, invoke

    try:
        ws = environment.workspace(env)
        ws.init()
        function = ws.outputs().get("migrator_function_name")
    except Exception:
        function = None
    if not function:
        return Check(
            name,
            SKIP,
            "no deployed migrator to ask yet (before the first apply): run `make preflight` again after it, "
            "or set DATABASE_URL",
        )
    try:
        result = invoke(function, {"action": "capture"})
    except InvokeError as exc:
        return Check(name, FAIL, f"the migrator could not be invoked: {exc}")
    if result.get("ok"):
        return Check(name, PASS, "pg_stat_statements loaded and readable (asked the deployed migrator)")
    return Check(name, FAIL, (result.get("error") or {}).get("message") or "the capture failed")


# ------------------------------------------------------------------------------------------ the run


def preflight(
    env: str, session, *, today: datetime.date | None = None, package: Path | None = None
) -> list[Check]:
    """Every check for ENV, in order. Only read-only AWS calls are made."""
    tfvars_path, backend_path = ENV_DIR / f"{env}.tfvars", ENV_DIR / f"{env}.s3.tfbackend"
    for path in (tfvars_path, backend_path):
        if not path.exists():
            shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            raise PreflightError(
                f"{shown} does not exist: copy terraform/env/production.*.example to start ENV={env}"
            )
    tfvars = read_tfvars(tfvars_path)
    region = tfvars.get("region") or session.region_name or "us-east-1"
    checks = [check_credentials(session)]
    if checks[0].status == FAIL:
        return checks  # nothing else can be asked
    guarded: list[Callable[[], Check | list[Check]]] = [
        lambda: check_region(session, tfvars),
        lambda: check_hosted_zone(session, tfvars),
        lambda: check_state_bucket(session, read_backend(backend_path)),
        lambda: check_concurrency(session, tfvars),
        lambda: check_runtime(migrator_runtime(), today or datetime.date.today()),
        lambda: check_package(tfvars, package or REPO / "dist" / "migrator.zip"),
        *(
            (lambda color=color: check_image(session, color, tfvars[color]["image"]))
            for color in ("blue", "green")
            if (tfvars.get(color) or {}).get("enabled")
        ),
        lambda: check_egress(tfvars),
        lambda: check_database_password(tfvars),
        lambda: account.check_service_linked_roles(session, tfvars),
        lambda: account.check_quotas(session, tfvars, _name_prefix(tfvars, env)),
        lambda: account.check_kms(session, tfvars, region),
        lambda: account.check_delegation(session, tfvars),
        lambda: account.check_caa(session, tfvars),
        lambda: account.check_network(session, tfvars, region),
        lambda: account.check_database(session, tfvars, region),
        lambda: check_statement_inventory(env),
    ]
    for run in guarded:
        try:
            result = run()
        except Exception as exc:  # one check that cannot ask AWS must not hide the others
            result = Check("check", FAIL, f"could not run a check ({_error_code(exc)}): {str(exc)[:200]}")
        checks.extend(result if isinstance(result, list) else [result])
    return checks


def _name_prefix(tfvars: dict[str, Any], env: str) -> str:
    return f"{tfvars.get('name') or 'release-kit'}-{tfvars.get('environment') or env}"


def render(env: str, checks: list[Check]) -> str:
    lines = [f"preflight ENV={env}:"]
    lines += [f"  {c.status:4}  {c.name}: {c.detail}" for c in checks]
    failed = sum(c.status == FAIL for c in checks)
    lines.append(f"  => {'ready for the first apply' if not failed else f'{failed} check(s) failed'}")
    return "\n".join(lines)


def main() -> int:
    import boto3

    from scripts.release import environment

    env = os.environ.get("KIT_ENV") or os.environ.get("ENV") or "local"
    try:
        if env == environment.LOCAL_ENV:
            # The local default's endpoint and test credentials, and the password its tooling supplies
            ws = environment.workspace(env)
            ws.export_aws_env()
            os.environ.update({k: v for k, v in ws.extra_env.items() if k.startswith("TF_VAR_")})
        region = (
            read_tfvars(ENV_DIR / f"{env}.tfvars").get("region")
            if (ENV_DIR / f"{env}.tfvars").exists()
            else None
        )
        session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or region)
        checks = preflight(env, session)
    except (PreflightError, environment.ReleaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if os.environ.get("FORMAT") == "json":
        print(
            json.dumps(
                {
                    "env": env,
                    "ok": all(c.status != FAIL for c in checks),
                    "checks": [asdict(c) for c in checks],
                }
            )
        )
    else:
        print(render(env, checks))
    return 1 if any(c.status == FAIL for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
