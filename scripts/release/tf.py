"""A thin, honest wrapper around the terraform CLI for the root configuration.

We call terraform directly instead of python-terraform (stale: its ``destroy()`` passes ``-force``, which
Terraform 1.11 rejects, and ``output(name)`` breaks); see docs/decisions.md. Every call runs in
``terraform/`` with a per-environment data directory, so switching ENV never re-initialises another
environment's backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scripts import LOCAL_DIR, REPO

ROOT_DIR = REPO / "terraform"
ENV_DIR = ROOT_DIR / "env"


def env_dir() -> Path:
    """terraform/env, or RELEASE_KIT_ENV_DIR: the demo and the end-to-end tests work on a copy, because a
    release writes the traffic settings into the env tfvars."""
    return Path(os.environ.get("RELEASE_KIT_ENV_DIR") or ENV_DIR)


def environments() -> tuple[list[str], list[str]]:
    """The environments that exist (a tfvars and a backend file each), and those with only examples."""
    folder = env_dir()
    ready = sorted(
        p.name.removesuffix(".tfvars")
        for p in folder.glob("*.tfvars")
        if (folder / p.name.replace(".tfvars", ".s3.tfbackend")).exists()
    )
    examples = sorted(
        name
        for p in folder.glob("*.tfvars.example")
        if (name := p.name.removesuffix(".tfvars.example")) not in ready
    )
    return ready, examples


def env_problem(env: str) -> str | None:
    """What is wrong with ENV=env (None: its tfvars and backend files exist), with the environments there
    are, a close match, and how to start one from its example."""
    import difflib

    folder = env_dir()
    missing = [p.name for p in (folder / f"{env}.tfvars", folder / f"{env}.s3.tfbackend") if not p.exists()]
    if not missing:
        return None
    shown = folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder
    ready, examples = environments()
    close = difflib.get_close_matches(env, ready + examples, n=1, cutoff=0.5)
    message = f"ENV={env[:60]} is not an environment here ({', '.join(missing)} missing in {shown})"
    if close:
        message += f"; did you mean {close[0]}?"
    message += f" Environments: {', '.join(ready) or 'none'}"
    for name in examples:
        message += (
            f". To start {name}: copy {shown}/{name}.tfvars.example to {name}.tfvars and "
            f"{name}.s3.tfbackend.example to {name}.s3.tfbackend, and fill them in"
        )
    return message


class TerraformError(RuntimeError):
    """terraform failed; the message carries its diagnostics, never variable values."""


@dataclass
class Workspace:
    """One environment of the root configuration: its tfvars, backend settings and data directory."""

    env: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    extra_var_files: tuple[Path, ...] = ()
    # The root outputs last read from the state; their region is where this environment lives.
    last_outputs: dict | None = field(default=None, init=False, repr=False)

    @property
    def tfvars(self) -> Path:
        return env_dir() / f"{self.env}.tfvars"

    @property
    def backend_config(self) -> Path:
        return env_dir() / f"{self.env}.s3.tfbackend"

    @property
    def data_dir(self) -> Path:
        return LOCAL_DIR / "terraform" / self.env

    def check(self) -> None:
        problem = env_problem(self.env)
        if problem:
            raise TerraformError(problem)

    def environ(self) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, "TF_DATA_DIR": str(self.data_dir), "TF_IN_AUTOMATION": "1"}
        env.setdefault("TF_INPUT", "0")
        return env

    def export_aws_env(self) -> None:
        """Point this process's own AWS clients (boto3) where terraform's go: the local endpoint, if any, and
        the region the deployment lives in (the ``region`` output, once :meth:`outputs` has read it), so
        that verify and migrate never act on whatever region the shell happens to have."""
        os.environ.update({k: v for k, v in self.extra_env.items() if k.startswith("AWS_")})
        region = (self.last_outputs or {}).get("region")
        if region:
            shell = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if shell and shell != region:
                print(
                    f"[{self.env}] using region {region} from the Terraform outputs (the shell says {shell})",
                    file=sys.stderr,
                )
            os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region

    def var_args(self) -> list[str]:
        return [f"-var-file={self.tfvars}", *(f"-var-file={p}" for p in self.extra_var_files)]

    # ------------------------------------------------------------------------------------------ calls

    def run(self, *args: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["terraform", f"-chdir={ROOT_DIR}", *args],
            env=self.environ(),
            text=True,
            capture_output=capture,
            check=False,
        )
        if proc.returncode != 0:
            raise TerraformError(_diagnostics(proc.stderr or "") or f"terraform {args[0]} failed")
        return proc

    def init(self) -> None:
        """Initialise the backend and providers once per environment (cheap when already done)."""
        marker = self.data_dir / "release-kit-init"
        fingerprint = (
            f"{self.backend_config.stat().st_mtime_ns}:{(ROOT_DIR / '.terraform.lock.hcl').exists()}"
        )
        if marker.exists() and marker.read_text() == fingerprint:
            return
        self.run("init", "-input=false", "-reconfigure", f"-backend-config={self.backend_config}")
        marker.write_text(fingerprint)

    def plan(self, plan_file: Path, variables: Mapping[str, str], *, lock: bool = True) -> int:
        """Save a plan; return terraform's -detailed-exitcode (0 no changes, 2 changes). ``lock=False`` plans
        without the state lock (a read-only look that never waits for, or leaves, a lock)."""
        locking = "-lock-timeout=60s" if lock else "-lock=false"
        args = ["plan", "-input=false", locking, "-detailed-exitcode", f"-out={plan_file}"]
        args += self.var_args() + [f"-var={k}={v}" for k, v in variables.items()]
        proc = subprocess.run(
            ["terraform", f"-chdir={ROOT_DIR}", *args],
            env=self.environ(),
            text=True,
            capture_output=True,
            check=False,
        )
        if proc.returncode not in (0, 2):
            raise TerraformError(_diagnostics(proc.stderr) or "terraform plan failed")
        return proc.returncode

    def refresh_only(self, targets: tuple[str, ...], *, lock_timeout: str) -> None:
        """Record what the remote objects ``targets`` really are in the state, changing no infrastructure
        (`apply -refresh-only -target=...`); waits at most ``lock_timeout`` for the state lock."""
        self.run(
            "apply",
            "-refresh-only",
            "-auto-approve",
            "-input=false",
            "-no-color",
            f"-lock-timeout={lock_timeout}",
            *self.var_args(),
            *(f"-target={target}" for target in targets),
        )

    def show_json(self, plan_file: Path) -> dict:
        return json.loads(self.run("show", "-json", str(plan_file)).stdout)

    def outputs(self) -> dict:
        """The root outputs from the current state, as plain values ({} when nothing is deployed)."""
        raw = json.loads(self.run("output", "-json").stdout or "{}")
        self.last_outputs = {name: item["value"] for name, item in raw.items()}
        return dict(self.last_outputs)

    def apply(self, plan_file: Path, on_event: Callable[[dict], None]) -> None:
        """Apply a saved plan, streaming terraform's machine-readable events to ``on_event``."""
        cmd = [
            "terraform",
            f"-chdir={ROOT_DIR}",
            "apply",
            "-input=false",
            "-lock-timeout=60s",
            "-json",
            str(plan_file),
        ]
        errors: list[str] = []
        with subprocess.Popen(
            cmd, env=self.environ(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            assert proc.stdout is not None
            for event in _json_lines(proc.stdout):
                if event.get("type") == "diagnostic" and event.get("@level") == "error":
                    diag = event.get("diagnostic", {})
                    errors.append(f"{diag.get('summary', '')}: {diag.get('detail', '')}".strip(": "))
                on_event(event)
            stderr = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            message = "\n".join(errors) or _diagnostics(stderr) or "terraform apply failed"
            if "Saved plan is stale" in message:
                message = (
                    "the saved plan is stale: the state changed after it was made. "
                    "Run `make plan` again, review it, then apply."
                )
            raise TerraformError(message)


def _json_lines(stream) -> Iterator[dict]:
    for line in stream:
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def _diagnostics(stderr: str) -> str:
    """terraform's error text without the box-drawing frame."""
    lines = [line.lstrip("│╷╵ ").rstrip() for line in stderr.splitlines()]
    return "\n".join(line for line in lines if line).strip()


class ApplyProgress:
    """Renders terraform's apply events as short, timestamped progress lines for humans."""

    def __init__(self, total: int | None = None, out=sys.stderr, heartbeat_seconds: float = 15.0) -> None:
        self.out = out
        self.started = time.monotonic()
        self.heartbeat_seconds = heartbeat_seconds
        self.last_heartbeat = 0.0
        self.in_flight: dict[str, float] = {}
        self.done = 0
        self.total = total

    def _line(self, text: str) -> None:
        print(f"  [{time.monotonic() - self.started:5.0f}s] {text}", file=self.out, flush=True)

    def __call__(self, event: dict) -> None:
        kind = event.get("type")
        hook = event.get("hook", {})
        address = hook.get("resource", {}).get("addr", "")
        if kind == "apply_start":
            self.in_flight[address] = time.monotonic()
        elif kind == "apply_complete":
            started = self.in_flight.pop(address, time.monotonic())
            self.done += 1
            if self.total and self.done > self.total:
                self.total = None  # terraform did more than the plan announced: count, but promise no total
            of = f"/{self.total}" if self.total else ""
            self._line(
                f"{self.done}{of} {hook.get('action', 'done')}: {address} ({time.monotonic() - started:.0f}s)"
            )
        elif kind == "apply_errored":
            self.in_flight.pop(address, None)
            self._line(f"FAILED: {address}")
        elif kind == "apply_progress":
            now = time.monotonic()
            if now - self.last_heartbeat >= self.heartbeat_seconds and self.in_flight:
                self.last_heartbeat = now
                slowest = min(self.in_flight, key=self.in_flight.get)
                waiting = f" and {len(self.in_flight) - 1} more" if len(self.in_flight) > 1 else ""
                self._line(f"still working on {slowest} ({now - self.in_flight[slowest]:.0f}s){waiting}")
