"""The end-to-end tests' handle on a local default of their own: make targets, boto3 clients on its moto
server, the weights Route 53 really holds, the release state in the state bucket, synthetic traffic, and a
second checkout of the repository on the same local default (another operator's machine)."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
STATE_BUCKET = "release-kit-tfstate"
RELEASE_STATE = "release-state/local"


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
        proc = self.make("migrate", "FORMAT=json", *(f"{k}={v}" for k, v in params.items()), check=False)
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
        zone = self.zone_id
        records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        return {
            r["SetIdentifier"]: r["Weight"]
            for r in records
            if r["Name"] == "api.example.test." and "SetIdentifier" in r
        }

    @functools.cached_property
    def zone_id(self) -> str:
        """The hosted zone of the live records, by the ID Terraform outputs (never the first zone listed)."""
        return self.outputs()["hosted_zone_id"]

    def desired_counts(self) -> dict[str, int]:
        """Each deployed colour's ECS desired count, as ECS holds it."""
        ecs = self.boto("ecs")
        counts = {}
        for color, stack in self.outputs()["stacks"].items():
            (service,) = ecs.describe_services(
                cluster=stack["cluster_name"], services=[stack["service_name"]]
            )["services"]
            counts[color] = service["desiredCount"]
        return counts

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
        """The release in progress, from the state bucket (None when there is none, or it has ended)."""
        document = self._bucket_json(f"{RELEASE_STATE}/release.json")
        return None if document is None or document.get("ended") else document

    def release_lock(self) -> dict | None:
        return self._bucket_json(f"{RELEASE_STATE}/lock.json")

    def _bucket_json(self, key: str) -> dict | None:
        s3 = self.boto("s3")
        try:
            return json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    @contextlib.contextmanager
    def synthetic_traffic(self, per_second: int = 200) -> Iterator[None]:
        """RequestCount datapoints for every load balancer while the block runs, as the ALBs would publish
        them under traffic: moto runs no load balancer, and a bake without traffic is inconclusive."""
        balancers = [
            lb["LoadBalancerArn"] for lb in self.boto("elbv2").describe_load_balancers()["LoadBalancers"]
        ]
        cloudwatch = self.boto("cloudwatch")
        stop = threading.Event()

        def publish() -> None:
            while not stop.wait(0.5):
                cloudwatch.put_metric_data(
                    Namespace="AWS/ApplicationELB",
                    MetricData=[
                        {
                            "MetricName": "RequestCount",
                            "Dimensions": [
                                {"Name": "LoadBalancer", "Value": arn.split(":loadbalancer/", 1)[1]}
                            ],
                            "Value": per_second / 2,
                            "Unit": "Count",
                        }
                        for arn in balancers
                    ],
                )

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def other_checkout(self, name: str) -> Kit:
        """Another operator's checkout on the same local default: its own working directory (terraform data,
        plans) and its own copy of the env files, pointing at the same moto server and state bucket."""
        other = self.local_dir.parent / f"{self.local_dir.name}-{name}"
        shutil.rmtree(other, ignore_errors=True)
        other.mkdir()
        shutil.copy(self.local_dir / "state.json", other / "state.json")
        shutil.copytree(self.local_dir / "tls", other / "tls")
        shutil.copytree(self.local_dir / "env", other / "env")
        env = {**self.env, "RELEASE_KIT_LOCAL_DIR": str(other), "RELEASE_KIT_ENV_DIR": str(other / "env")}
        return Kit(env=env, local_dir=other)

    def wait_for_weights(self, weights: dict[str, int], timeout: float = 120) -> float:
        """Seconds until Route 53 answers ``weights`` (polled every 0.1 s)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.live_weights() == weights:
                return time.monotonic() - started
            time.sleep(0.1)
        pytest.fail(f"Route 53 did not answer {weights} within {timeout}s: {self.live_weights()}")

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
