"""Invoke the deployed migrator function.

On AWS this is a synchronous ``lambda.invoke`` with a read timeout longer than the function's own timeout and
no client retries (a migration must never be started twice by a retry).

A local endpoint (moto) stores functions but cannot run them. There, ``invoke`` does what the Lambda service
would: it reads the deployed function's configuration, downloads the deployed package from ``Code.Location``,
checks it against ``CodeSha256``, and runs that package's handler with that configuration (handler string,
environment variables, timeout, memory) in a separate Python process whose only libraries are the package
and boto3, as in the Lambda runtime. This proves the package and its wiring, not just the source tree.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import uuid
import zipfile
from pathlib import Path

from scripts import LOCAL_DIR

RUNTIME_DIR = LOCAL_DIR / "lambda-runtime"
PACKAGES_DIR = LOCAL_DIR / "lambda-packages"
# The Lambda runtime ships boto3; pin the local stand-in to the version the tests use.
RUNTIME_BOTO3 = "boto3==1.35.99"


class InvokeError(RuntimeError):
    """The function could not be invoked (not deployed, unreachable, timed out, or it crashed)."""


def _lambda_config(read_timeout: int | None = None):
    """One attempt only (a retried migration request could start a second run), and a read timeout that
    outlasts the function when it is given."""
    from botocore.config import Config

    return Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout or 60, connect_timeout=10)


def _lambda_client(read_timeout: int | None = None):
    import boto3

    return boto3.client("lambda", config=_lambda_config(read_timeout))


def invoke(
    function_name: str, event: dict, *, local: bool | None = None, echo_logs: bool | None = None
) -> dict:
    """Invoke ``function_name`` synchronously with ``event`` and return its JSON result. Locally, the
    function's own log lines go to stderr, prefixed ``[lambda]``, when ``echo_logs`` (by default: with
    VERBOSE=1; on AWS they are in CloudWatch Logs); a crash shows them whatever ``echo_logs`` says."""
    if echo_logs is None:
        echo_logs = os.environ.get("KIT_VERBOSE", "").strip().lower() in ("1", "true", "yes")
    if local is None:
        local = bool(os.environ.get("AWS_ENDPOINT_URL"))
    from botocore.exceptions import ClientError

    try:
        config = _lambda_client().get_function(FunctionName=function_name)
    except ClientError as exc:
        raise InvokeError(
            f"cannot read function {function_name}: {exc.response['Error']['Message']}. "
            "Is it deployed? (make apply)"
        ) from None
    if local:
        return run_deployed_package(config, event, echo_logs=echo_logs)
    timeout = config["Configuration"]["Timeout"]
    response = _lambda_client(read_timeout=timeout + 60).invoke(
        FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
    )
    payload = response["Payload"].read().decode()
    if response.get("FunctionError"):
        raise InvokeError(f"the function failed ({response['FunctionError']}): {payload[:2000]}")
    return json.loads(payload)


# --------------------------------------------------------------------------------------- local runtime


def _reports_version(python: str, version: str) -> bool:
    try:
        proc = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return proc.returncode == 0 and proc.stdout.strip() == version


def find_python(version: str) -> Path | None:
    """A real interpreter of ``version`` (e.g. "3.13") on this machine, or None. A pyenv shim on PATH may
    refuse to run outside its configured versions, so pyenv's own installations are tried as well."""
    candidates = [shutil.which(f"python{version}")]
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidates.insert(0, sys.executable)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}"))]
    for candidate in candidates:
        if candidate and _reports_version(candidate, version):
            return Path(candidate)
    return None


def _runtime_python(runtime: str) -> Path:
    """A Python that stands in for the Lambda runtime: the same minor version, stdlib + boto3 only. It is
    never another version: the package's compiled wheels are built for the runtime's version."""
    version = runtime.removeprefix("python")
    base = find_python(version)
    if base is None:
        raise InvokeError(
            f"the function's runtime is {runtime}, and no Python {version} was found on this machine "
            f"(python{version} on PATH, or pyenv's versions): the package's compiled wheels are built for "
            f"{version}, so it is not run on another version. Install Python {version} "
            f"(e.g. `pyenv install {version}`) and invoke again"
        )
    runtime_dir = RUNTIME_DIR.with_name(f"{RUNTIME_DIR.name}-{version}")
    python = runtime_dir / "bin" / "python"
    marker = runtime_dir / ".installed"
    wanted = f"{base}\n{RUNTIME_BOTO3}"
    if not marker.exists() or marker.read_text() != wanted:
        print(f"[invoke] preparing the local {runtime} runtime in {runtime_dir} (once)", file=sys.stderr)
        shutil.rmtree(runtime_dir, ignore_errors=True)
        subprocess.run([str(base), "-m", "venv", str(runtime_dir)], check=True)
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", RUNTIME_BOTO3],
            capture_output=True,
            text=True,
            check=False,
        )
        if installed.returncode != 0:  # its output (index warnings and all) only when it failed
            raise InvokeError(
                f"could not install {RUNTIME_BOTO3} into {runtime_dir}:\n{installed.stdout}{installed.stderr}"
            )
        marker.write_text(wanted)
    return python


def _download_package(config: dict) -> Path:
    """The deployed package, unpacked (cached by its hash), after checking it matches CodeSha256."""
    expected = config["Configuration"]["CodeSha256"]
    target = PACKAGES_DIR / hashlib.sha256(expected.encode()).hexdigest()[:16]
    if (target / ".complete").exists():
        return target
    location = config["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=60) as response:  # noqa: S310 - AWS's presigned URL
        body = response.read()
    actual = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if actual != expected:
        raise InvokeError(f"the downloaded package's sha256 {actual} does not match the deployed {expected}")
    tmp = Path(tempfile.mkdtemp(dir=PACKAGES_DIR.parent if PACKAGES_DIR.parent.exists() else None))
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        archive.extractall(tmp)
    (tmp / ".complete").write_text(expected)
    PACKAGES_DIR.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # another invoke unpacked the same package first
        tmp.rename(target)
    return target


# Runs inside the stand-in runtime: import the handler named by the configuration, call it once, and write
# the JSON result to the file named by RELEASE_KIT_RESULT. The handler's own log lines go to stdout/stderr.
_BOOTSTRAP = r"""
import importlib, json, os, sys, time, uuid
deadline = time.monotonic() + int(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])
class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    invoked_function_arn = os.environ["RELEASE_KIT_FUNCTION_ARN"]
    aws_request_id = os.environ["RELEASE_KIT_REQUEST_ID"]
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "local"
    @staticmethod
    def get_remaining_time_in_millis():
        return max(0, int((deadline - time.monotonic()) * 1000))
module_name, _, function = os.environ["_HANDLER"].rpartition(".")
handler = getattr(importlib.import_module(module_name), function)
event = json.loads(sys.stdin.read())
result = handler(event, Context())
with open(os.environ["RELEASE_KIT_RESULT"], "w") as out:
    json.dump(result, out)
"""


def run_deployed_package(config: dict, event: dict, *, echo_logs: bool = True) -> dict:
    """Run the deployed package's handler with the deployed configuration, as the Lambda service would."""
    conf = config["Configuration"]
    if conf.get("PackageType", "Zip") != "Zip":
        raise InvokeError("only zip-packaged functions can be run locally")
    python = _runtime_python(conf["Runtime"])
    task_root = _download_package(config)
    request_id = str(uuid.uuid4())
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    with tempfile.TemporaryDirectory() as scratch:
        result_file = Path(scratch) / "result.json"
        env = {
            # What the Lambda service sets for every function ...
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": conf["Handler"],
            "PYTHONPATH": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": conf["FunctionName"],
            "AWS_LAMBDA_FUNCTION_VERSION": conf["Version"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(conf["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(conf["Timeout"]),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "TZ": ":UTC",
            "LANG": "C.UTF-8",
            "PATH": "/usr/bin:/bin",
            "HOME": scratch,
            # ... the credentials of its role (here: the local endpoint's test credentials) ...
            **{
                k: v
                for k, v in os.environ.items()
                if k
                in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")
            },
            # ... and the function's own configuration.
            **conf.get("Environment", {}).get("Variables", {}),
            "RELEASE_KIT_RESULT": str(result_file),
            "RELEASE_KIT_REQUEST_ID": request_id,
            "RELEASE_KIT_FUNCTION_ARN": conf["FunctionArn"],
        }
        try:
            proc = subprocess.run(
                [str(python), "-c", _BOOTSTRAP],
                input=json.dumps(event),
                text=True,
                env=env,
                cwd=task_root,
                timeout=conf["Timeout"] + 5,
                capture_output=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InvokeError(f"Task timed out after {conf['Timeout']} seconds") from None
        crashed = proc.returncode != 0 or not result_file.exists()
        if echo_logs or crashed:
            for line in (proc.stdout + proc.stderr).splitlines():
                print(f"[lambda] {line}", file=sys.stderr)
        if crashed:
            raise InvokeError(f"the function crashed (exit {proc.returncode}); its output is above")
        return json.loads(result_file.read_text())
