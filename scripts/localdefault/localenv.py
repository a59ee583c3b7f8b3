"""The embedded local default: a moto server and a PostgreSQL on free local ports.

Everything it starts or writes lives in one gitignored folder (``.local/`` by default): pid files, logs, the
PostgreSQL data directory and ``state.json``, which records the ports and the local test credentials so that
every other tool (Makefile, tests, the demo) finds the same services.

    python -m scripts.localdefault.localenv up       # start (idempotent) and print the state as JSON
    python -m scripts.localdefault.localenv down     # stop by process id
    python -m scripts.localdefault.localenv status   # JSON: what runs, where

The PostgreSQL server refuses to run as root, so as root it runs as the ``postgres`` user. It serves TLS
with a certificate for ``localhost`` signed by a local test CA (``.local/tls/ca.pem``), because the migrator
requires TLS wherever it reads its credentials from Secrets Manager, as on AWS. It preloads
``pg_stat_statements`` (RDS loads it by default from PostgreSQL 11 on), whose view the statement inventory
reads, and the migrator's user gets what the RDS master user has: CREATEROLE, CREATEDB and
``pg_read_all_stats`` (RDS: through ``rds_superuser``, a member of ``pg_monitor``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from scripts import LOCAL_DIR, REPO

STATE_FILE = LOCAL_DIR / "state.json"
REGION = "us-east-1"
STATE_BUCKET = "release-kit-tfstate"
LOCAL_TFVARS = REPO / "terraform" / "env" / "local.tfvars"
APP_DATABASE = "app"
APP_USER = "migrator"
# Preloaded: the statement inventory reads its view (RDS loads it by default on PostgreSQL 11 and later).
PRELOAD = "pg_stat_statements"


class LocalEnvError(RuntimeError):
    """The local default could not be started or reached; the message says what to do."""


@dataclass
class State:
    moto_port: int
    moto_pid: int
    pg_port: int
    pg_data: str
    pg_superuser_password: str
    app_password: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:{self.pg_superuser_password}@127.0.0.1:{self.pg_port}/postgres"

    @property
    def app_url(self) -> str:
        return f"postgresql://{APP_USER}:{self.app_password}@127.0.0.1:{self.pg_port}/{APP_DATABASE}"

    def aws_env(self) -> dict[str, str]:
        """Variables that point boto3, the aws CLI and terraform at the local moto server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def terraform_env(self) -> dict[str, str]:
        """What a local terraform run needs on top of aws_env(): the existing database and its password."""
        return {
            "TF_VAR_database_existing_port": str(self.pg_port),
            "TF_VAR_database_password": self.app_password,
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def load_state() -> State | None:
    """The recorded state, or None when nothing was started."""
    if not STATE_FILE.exists():
        return None
    return State(**json.loads(STATE_FILE.read_text()))


def _save_state(state: State) -> None:
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.chmod(0o600)
    tmp.replace(STATE_FILE)


def _say(message: str) -> None:
    print(f"[local] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- PostgreSQL


def _pg_data_dir() -> Path:
    """``.local/pg`` when the postgres user can reach it; otherwise a private folder under /var/tmp.

    As root the server runs as ``postgres``, which cannot enter a checkout under a private home directory.
    The fallback is linked from ``.local/pg`` so ``make clean`` still finds it.
    """
    preferred = LOCAL_DIR / "pg"
    if preferred.is_symlink():
        return preferred.resolve()
    if os.geteuid() != 0:
        return preferred
    probe = subprocess.run(_as_postgres(["test", "-x", str(LOCAL_DIR)]), check=False)
    if probe.returncode == 0:
        return preferred
    tag = hashlib.sha256(str(LOCAL_DIR).encode()).hexdigest()[:12]
    fallback = Path("/var/tmp") / f"release-kit-pg-{tag}"  # noqa: S108 - postgres-owned, mode 0700
    preferred.symlink_to(fallback)
    return fallback


def _start_postgres(state: dict) -> None:
    data = Path(state.get("pg_data") or _pg_data_dir())
    state["pg_data"] = str(data)
    if not (data / "PG_VERSION").exists():
        _say(f"initialising PostgreSQL in {data}")
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        data.chmod(0o700)
        pwfile = data.parent / f".{data.name}.pwfile"
        pwfile.write_text(state["pg_superuser_password"] + "\n")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    "initdb",
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        pwfile.unlink()
    if not state.get("pg_port") or _port_open(state["pg_port"]):
        state["pg_port"] = _free_port()
    _ensure_server_certificate(data)
    _say(f"starting PostgreSQL on 127.0.0.1:{state['pg_port']}")
    options = (
        f"-p {state['pg_port']} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off"
        " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
        f" -c shared_preload_libraries={PRELOAD}"
    )
    subprocess.run(
        _as_postgres(
            ["pg_ctl", "-D", str(data), "-l", str(data / "server.log"), "-o", options, "-w", "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _ensure_server_certificate(data: Path) -> None:
    """A test CA (``.local/tls/ca.pem``) and, in the data directory, a server certificate it signs for the
    name ``localhost`` only (so a client checking the host name must connect to ``localhost``)."""
    from scripts.localdefault.testca import LocalCA

    tls_dir = LOCAL_DIR / "tls"
    if (data / "server.crt").exists() and (tls_dir / "ca.pem").exists():
        return
    ca = LocalCA.create("release-kit local test CA")
    tls_dir.mkdir(parents=True, exist_ok=True)
    (tls_dir / "ca.pem").write_bytes(ca.certificate_pem)
    cert, key = ca.issue("localhost")
    for name, body, mode in (("server.crt", cert, 0o644), ("server.key", key, 0o600)):
        path = data / name
        path.write_bytes(body)
        path.chmod(mode)
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")


def _outdated_settings(raw: dict) -> list[str]:
    """What a running server started by an older local default lacks (TLS, the preloaded
    pg_stat_statements): both need a restart."""
    import psycopg  # imported late: `env` and `down` must work before the venv has it

    admin = State(**raw).admin_url
    try:
        with psycopg.connect(admin, connect_timeout=5) as conn:
            ssl = conn.execute("SHOW ssl").fetchone()[0]
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    except psycopg.Error:
        return []  # not reachable as expected: leave it to the normal start logic
    missing = [] if ssl == "on" else ["TLS"]
    if PRELOAD not in [name.strip() for name in preload.split(",")]:
        missing.append(PRELOAD)
    return missing


def local_ca_file() -> Path:
    """The local test CA that signs the local PostgreSQL's certificate."""
    return LOCAL_DIR / "tls" / "ca.pem"


def _postgres_running(data: str) -> bool:
    pidfile = Path(data) / "postmaster.pid"
    try:
        return _alive(int(pidfile.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return False


def _ensure_app_database(state: State) -> None:
    import psycopg  # imported late: `env` and `down` must work before the venv has it

    with psycopg.connect(state.admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_USER,)).fetchone():
            conn.execute(f"CREATE ROLE {APP_USER} LOGIN CREATEDB")
        # What the RDS master user has: CREATEROLE, so the migrator can create the sql action's (and the
        # application's) least-privileged roles. temp_file_limit and track_activities are superuser-only; on
        # RDS they belong in the parameter group, here the migrator may set them per role so the local
        # default exercises them.
        conn.execute(f"ALTER ROLE {APP_USER} CREATEROLE CREATEDB")
        # Other roles' statements in pg_stat_statements (the statement inventory). RDS: the master user has
        # it through rds_superuser, a member of pg_monitor, which is a member of pg_read_all_stats.
        conn.execute(f"GRANT pg_read_all_stats TO {APP_USER}")
        conn.execute(f"GRANT SET ON PARAMETER temp_file_limit, track_activities TO {APP_USER}")
        # Re-applied every start: the recorded password is the one source of truth.
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(APP_USER), psycopg.sql.Literal(state.app_password)
            )
        )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)).fetchone():
            conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_USER}")
    # The view is per database, and only a superuser may create it here (the extension is not trusted); on
    # RDS the master user may (rds_superuser), which is what the migrator tries when it is missing.
    with psycopg.connect(state.admin_url.rsplit("/", 1)[0] + f"/{APP_DATABASE}", autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS {PRELOAD}")


# ------------------------------------------------------------------------------------------------ moto


def _moto_ready(port: int) -> bool:
    """Any HTTP answer will do. The probe must stay cheap: under a busy apply a heavier call can take
    seconds, and a moto server wrongly judged dead would be replaced by an empty one."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=10):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _start_moto(state: dict) -> None:
    if not state.get("moto_port") or _port_open(state["moto_port"]):
        state["moto_port"] = _free_port()
    _say(f"starting moto server on 127.0.0.1:{state['moto_port']}")
    log = open(LOCAL_DIR / "moto.log", "ab")  # noqa: SIM115 - handed to the child, which outlives us
    env = {
        **os.environ,
        # Certificates validate at once instead of after moto's default 60 s.
        "MOTO_ACM_VALIDATION_WAIT": "0",
        # moto runs no containers; it reports this many running tasks per ECS service (local desired_count).
        "MOTO_ECS_SERVICE_RUNNING": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.localdefault.motoserver",
            "-H",
            "127.0.0.1",
            "-p",
            str(state["moto_port"]),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        cwd=REPO,
    )
    state["moto_pid"] = proc.pid
    (LOCAL_DIR / "moto.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 30
    while not _moto_ready(state["moto_port"]):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LocalEnvError(f"moto server did not start; see {LOCAL_DIR / 'moto.log'}")
        time.sleep(0.1)


def local_zone_name() -> str:
    """The hosted zone named in the local tfvars: it stands in for a zone a real account already has."""
    match = re.search(r'^\s*zone_name\s*=\s*"([^"]+)"', LOCAL_TFVARS.read_text(), re.MULTILINE)
    if not match:
        raise LocalEnvError(f"zone_name is not set in {LOCAL_TFVARS}")
    return match.group(1)


def _ensure_aws_fixtures(state: State) -> None:
    """The state bucket and the hosted zone: what a real account has before this kit's Terraform runs."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - moto's test credentials
        region_name=REGION,
    )
    s3 = session.client("s3", endpoint_url=state.endpoint)
    if STATE_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=STATE_BUCKET)
    # Versioned and encrypted, as the README asks of a real account's state bucket (preflight checks both)
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=STATE_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    route53 = session.client("route53", endpoint_url=state.endpoint)
    zone = local_zone_name().rstrip(".") + "."
    if zone not in {z["Name"] for z in route53.list_hosted_zones()["HostedZones"]}:
        route53.create_hosted_zone(Name=zone, CallerReference=f"release-kit-{time.time_ns()}")
    # The service-linked roles ECS and ELB act through: a real account has them after first use or creating
    # them once (preflight checks them).
    iam = session.client("iam", endpoint_url=state.endpoint)
    for service in ("ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com"):
        if not iam.list_roles(PathPrefix=f"/aws-service-role/{service}/")["Roles"]:
            iam.create_service_linked_role(AWSServiceName=service)


# ----------------------------------------------------------------------------------------------- commands


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One up/down at a time: parallel test sessions and make targets all call ``up``."""
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCAL_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def up() -> State:
    """Start whatever is not running yet; return the state. Safe to call again and again, concurrently."""
    with _exclusive():
        return _up()


def _up() -> State:
    previous = load_state()
    raw = (
        asdict(previous)
        if previous
        else {
            "moto_port": 0,
            "moto_pid": 0,
            "pg_port": 0,
            "pg_data": "",
            "pg_superuser_password": secrets.token_urlsafe(18),
            "app_password": secrets.token_urlsafe(18),
        }
    )
    if not (_alive(raw["moto_pid"]) and _port_open(raw["moto_port"])):
        _start_moto(raw)
    outdated = _outdated_settings(raw) if raw["pg_data"] and _postgres_running(raw["pg_data"]) else []
    if outdated:
        # Started by an older local default: restart it with its certificate and preloaded libraries.
        _say(f"restarting PostgreSQL for {' and '.join(outdated)}")
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", raw["pg_data"], "-m", "fast", "-w", "stop"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if not (raw["pg_data"] and _postgres_running(raw["pg_data"])):
        _start_postgres(raw)
    state = State(**raw)
    _save_state(state)
    _ensure_app_database(state)
    _ensure_aws_fixtures(state)
    return state


def down() -> None:
    """Stop both services by process id. moto holds everything in memory, so what was deployed on it (the
    stacks, the Route 53 records, the Terraform state and the journal in its bucket) is gone; PostgreSQL's
    data stays until ``clean``."""
    with _exclusive():
        _down()


def _down() -> None:
    state = load_state()
    if state is None:
        _say("nothing to stop")
        return
    if _alive(state.moto_pid):
        _say(f"stopping moto server (pid {state.moto_pid})")
        os.killpg(state.moto_pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(state.moto_pid):
                break
            time.sleep(0.1)
        else:
            os.killpg(state.moto_pid, signal.SIGKILL)
    if state.pg_data and _postgres_running(state.pg_data):
        _say("stopping PostgreSQL")
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", state.pg_data, "-m", "fast", "-w", "stop"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    # A fresh moto server has no resources: forget it so the next `up` re-creates the fixtures.
    _save_state(State(**{**asdict(state), "moto_pid": 0}))
    _say(
        "stopped: what was deployed on moto (stacks, records, the Terraform state) is gone with it; "
        "PostgreSQL keeps its data until `make clean`; `make demo` deploys again"
    )


def clean() -> None:
    """Stop everything and remove every file the local default wrote."""
    down()
    state = load_state()
    if state and state.pg_data:
        shutil.rmtree(state.pg_data, ignore_errors=True)
    shutil.rmtree(LOCAL_DIR, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "scratch") -> Iterator[str]:
    """A new, empty database on the local PostgreSQL, dropped (with any connections left) afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SECRETS_DIR = LOCAL_DIR / "secrets"


def _private_file(path: Path, text: str) -> Path:
    """``text`` in ``path``, readable by this user only (written before anyone else could open it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def shell_exports(state: State) -> str:
    """`make env`: export lines that let plain terraform, aws and psql commands reach the local default, and
    print no password. Terraform needs one secret here, the migrator user's password
    (TF_VAR_database_password: local.tfvars uses an existing database without existing_secret_arn, and plan
    refuses without it): it is read from a file in .local/secrets when the line is evaluated. The superuser's
    password is in a pgpass file for psql, never in the environment."""
    # TF_DATA_DIR is the local environment's own data directory (the one `make plan/apply` use), so plain
    # `terraform -chdir=terraform state list|output|show` sees the local state.
    env = {**state.aws_env(), **state.terraform_env(), "TF_DATA_DIR": str(LOCAL_DIR / "terraform" / "local")}
    if os.environ.get("TF_CLI_CONFIG_FILE"):
        env["TF_CLI_CONFIG_FILE"] = os.environ["TF_CLI_CONFIG_FILE"]
    password_file = _private_file(SECRETS_DIR / "database_password", env.pop("TF_VAR_database_password"))
    pgpass = _private_file(
        SECRETS_DIR / "pgpass",
        f"127.0.0.1:{state.pg_port}:*:postgres:{state.pg_superuser_password}\n"
        f"127.0.0.1:{state.pg_port}:{APP_DATABASE}:{APP_USER}:{state.app_password}\n",
    )
    lines = [
        "# For the local default only (moto's endpoint, test credentials, its PostgreSQL). Planning another",
        "# ENV in this shell? Open a new one, or: unset "
        + " ".join(sorted([*env, "TF_VAR_database_password"])),
    ]
    lines += [f"export {key}={_shell_quote(value)}" for key, value in env.items()]
    lines.append(
        "# local-only secret: the migrator user's password of the local PostgreSQL, which plain terraform "
        "needs here (no existing_secret_arn in local.tfvars)"
    )
    lines.append(f'export TF_VAR_database_password="$(cat {_shell_quote(str(password_file))})"')
    lines.append(
        f"# psql: PGPASSFILE={_shell_quote(str(pgpass))} psql -h 127.0.0.1 -p {state.pg_port} -U postgres "
        f"postgres  (or -U {APP_USER} {APP_DATABASE})"
    )
    return "\n".join(lines)


def _shell_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def status() -> dict:
    state = load_state()
    if state is None:
        return {"running": False}
    return {
        "moto": {"running": _alive(state.moto_pid), "endpoint": state.endpoint, "pid": state.moto_pid},
        "postgres": {
            "running": _postgres_running(state.pg_data),
            "port": state.pg_port,
            "data": state.pg_data,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localenv", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "clean"])
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            state = up()
            print(json.dumps({"endpoint": state.endpoint, "postgres_port": state.pg_port}))
        elif args.command == "down":
            down()
        elif args.command == "clean":
            clean()
        else:
            print(json.dumps(status(), indent=2))
    except (LocalEnvError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
