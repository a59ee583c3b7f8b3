"""The end-to-end tests' handle on a local default of their own: make targets, boto3 clients on its moto
server, and the weights Route 53 really holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Kit:
    """Runs make targets against an isolated local default (its own moto, PostgreSQL, state and plans)."""

    env: dict[str, str]
    local_dir: Path

    def make(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["make", "-s", *args],
            cwd=REPO,
            env=self.env,
            text=True,
            capture_output=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        sys.stderr.write(f"$ make {' '.join(args)}\n{proc.stderr}{proc.stdout}\n")
        if check and proc.returncode != 0:
            pytest.fail(f"make {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc

    def migrate(self, **params: str) -> dict:
        proc = self.make("migrate", *(f"{k}={v}" for k, v in params.items()), check=False)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert (proc.returncode == 0) == (result["ok"] is True), proc.stderr
        return result

    def state(self) -> dict:
        return json.loads((self.local_dir / "state.json").read_text())

    def boto(self, service: str):
        endpoint = f"http://127.0.0.1:{self.state()['moto_port']}"
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def live_weights(self) -> dict[str, int]:
        """The weights Route 53 itself holds for the live name (not what Terraform says it set)."""
        route53 = self.boto("route53")
        zone = route53.list_hosted_zones_by_name(DNSName="example.test")["HostedZones"][0]["Id"]
        records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        return {
            r["SetIdentifier"]: r["Weight"]
            for r in records
            if r["Name"] == "api.example.test." and "SetIdentifier" in r
        }

    def outputs(self) -> dict:
        state = self.boto("s3").get_object(Bucket="release-kit-tfstate", Key="local/terraform.tfstate")
        return {name: item["value"] for name, item in json.loads(state["Body"].read())["outputs"].items()}

    def app_connection(self, color: str = "blue") -> psycopg.Connection:
        """A connection as ``color``'s own database role, with its secret's credentials (what ECS injects)."""
        secret_arn = self.outputs()["database_app_secret_arns"][color]
        secret = json.loads(self.boto("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
        return psycopg.connect(
            host=secret["host"],
            port=secret["port"],
            dbname=secret["dbname"],
            user=secret["username"],
            password=secret["password"],
            autocommit=True,
        )

    def review(self) -> dict:
        return json.loads((self.local_dir / "plans" / "local.json").read_text())["review"]

    # ---------------------------------------------------------------------------- the progressive release

    @property
    def tfvars(self) -> Path:
        """This kit's copy of terraform/env/local.tfvars: the one source of truth for its traffic."""
        return self.local_dir / "env" / "local.tfvars"

    def traffic(self) -> tuple[str, int]:
        text = self.tfvars.read_text()
        color = re.search(r'^live_color\s*=\s*"(\w+)"', text, re.M)
        canary = re.search(r"^canary_percent\s*=\s*(\d+)", text, re.M)
        assert color and canary, text
        return color[1], int(canary[1])

    def start(self, *args: str) -> subprocess.Popen[str]:
        """A make target in the background, in its own process group (so a test can Ctrl-C it)."""
        return subprocess.Popen(
            ["make", "-s", *args],
            cwd=REPO,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def rollout_state(self) -> dict | None:
        path = self.local_dir / "releases" / "local.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def wait_for_step(self, proc: subprocess.Popen[str], index: int, timeout: float = 240) -> None:
        """Wait until the background release has saved ``index`` as its next step."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.rollout_state()
            if state and state["index"] >= index:
                return
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the release ended before step {index}:\n{err[-3000:]}{out}")
            time.sleep(0.3)
        pytest.fail(f"the release did not reach step {index} in {timeout}s")

    @staticmethod
    def summary(stdout: str) -> dict:
        return json.loads(stdout.strip().splitlines()[-1])

    def release(self, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
        proc = self.make("release", *args, check=False)
        summary = self.summary(proc.stdout)
        assert (proc.returncode == 0) == (summary["ok"] is True), proc.stderr
        return proc, summary

    def journal(self) -> list[dict]:
        proc = self.make("history", "FORMAT=json")
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
