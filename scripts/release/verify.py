"""The gate before a switch: is the colour about to receive traffic really ready?

Each check returns PASS, FAIL or SKIP. SKIP is for a check that cannot run here (for example, the local
endpoint runs no containers, so no targets register with the load balancer); it is printed plainly and
never counts as a pass. A colour is ready when no check fails.
"""

from __future__ import annotations

import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Verdict:
    color: str
    checks: tuple[Check, ...]
    service: dict | None = field(default=None, compare=False, repr=False)  # what DescribeServices answered

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"color": self.color, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def failures(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if c.status == FAIL)

    def render(self) -> str:
        lines = [f"verify {self.color}:"]
        lines += [f"  {c.status:4}  {c.name}: {c.detail}" for c in self.checks]
        skipped = sum(c.status == SKIP for c in self.checks)
        outcome = "ready" if self.ok else "NOT ready"
        note = f" ({skipped} check(s) could not run here; see SKIP lines)" if skipped else ""
        lines.append(f"  => {self.color} is {outcome}{note}")
        return "\n".join(lines)


def _local_endpoint() -> bool:
    """True when AWS calls go to a local emulator, which deploys resources but runs no containers."""
    return bool(os.environ.get("AWS_ENDPOINT_URL"))


def http_smoke(url: str, timeout: float = 5.0) -> Check:
    """GET ``url``; PASS on a 2xx answer, FAIL on any other answer or a refused connection, SKIP when the
    host name does not resolve from here (a private zone, or the local default's made-up domain)."""
    name = "HTTP smoke check"
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return Check(name, FAIL, f"{url} is not an http(s) URL")
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror:
        return Check(name, SKIP, f"{host} does not resolve from this machine, so {url} was not requested")
    context = ssl.create_default_context()
    if os.environ.get("VERIFY_INSECURE_TLS") == "1":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, headers={"User-Agent": "release-kit-verify"})  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310 - http(s) only
            return Check(name, PASS, f"{url} answered {response.status}")
    except urllib.error.HTTPError as exc:
        return Check(name, FAIL, f"{url} answered {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check(name, FAIL, f"{url} did not answer: {reason}")


def deployment_checks(service: dict, expected_task_definition: str | None) -> list[Check]:
    """What ECS really runs, against what Terraform deployed: exactly one deployment, the PRIMARY one, with
    rolloutState COMPLETED, running Terraform's task definition. Pure: it reads a DescribeServices answer."""
    deployments = service.get("deployments") or []
    shown = "; ".join(_describe_deployment(d) for d in deployments) or "none"
    only = deployments[0] if len(deployments) == 1 else None
    if only and only.get("status") == "PRIMARY" and only.get("rolloutState") == "COMPLETED":
        rollout = Check("deployment", PASS, f"one deployment, PRIMARY and COMPLETED ({shown})")
    else:
        rollout = Check(
            "deployment", FAIL, f"{len(deployments)} deployment(s), expected one PRIMARY COMPLETED: {shown}"
        )
    reverted = revert(service, expected_task_definition)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    running = {primary.get("taskDefinition"), service.get("taskDefinition")} - {None}
    if reverted:
        definition = Check("task definition", FAIL, reverted)
    elif expected_task_definition is None:
        definition = Check(
            "task definition", FAIL, "the Terraform outputs name no task definition: apply first"
        )
    elif running == {expected_task_definition}:
        definition = Check("task definition", PASS, f"runs Terraform's {_short(expected_task_definition)}")
    else:
        definition = Check(
            "task definition",
            FAIL,
            f"runs {', '.join(sorted(_short(t) for t in running)) or 'nothing'}, not Terraform's "
            f"{_short(expected_task_definition)}: the ECS deployment circuit breaker reverted it or it was "
            "changed outside Terraform (`make plan` shows the drift)",
        )
    return [rollout, definition]


def revert(service: dict, expected_task_definition: str | None) -> str | None:
    """A sentence naming an ECS deployment circuit-breaker revert of Terraform's task definition, or None.

    With ``rollback = true`` a failed deployment is marked rolloutState FAILED and the service goes back to
    the last deployment that completed (ECS API reference, DeploymentCircuitBreaker and Deployment): the
    revert shows as a FAILED deployment of Terraform's task definition while another one is, or becomes,
    the PRIMARY."""
    deployments = service.get("deployments") or []
    failed = [d for d in deployments if d.get("rolloutState") == "FAILED"]
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    name = service.get("serviceName", "the service")
    for deployment in failed:
        what = f"deployment {deployment.get('id')} of {_short(deployment.get('taskDefinition'))}"
        why = deployment.get("rolloutStateReason") or "no reason given"
        if primary is not None and primary is not deployment:
            return (
                f"the ECS deployment circuit breaker reverted {name}: {what} failed ({why}) and the service "
                f"went back to {_short(primary.get('taskDefinition'))}"
            )
        return f"the ECS deployment circuit breaker stopped {name}'s {what}: {why}"
    if expected_task_definition and primary and primary.get("taskDefinition") != expected_task_definition:
        events = [e.get("message", "") for e in service.get("events") or []]
        rolled = next((m for m in events if "circuit breaker" in m or "rolling back" in m), None)
        if rolled:
            return (
                f"{name} runs {_short(primary.get('taskDefinition'))}, not Terraform's "
                f"{_short(expected_task_definition)}: the ECS deployment circuit breaker reverted it "
                f"({rolled})"
            )
    return None


def target_check(states: list[str], desired: int) -> Check:
    """Healthy targets must equal the service's desired count (more means an unfinished deployment or
    leftovers, fewer means tasks the load balancer does not trust)."""
    if not states:
        if _local_endpoint():
            return Check(
                "target health",
                SKIP,
                "no targets registered: the local endpoint runs no containers, so none can register",
            )
        return Check("target health", FAIL, "no targets registered with the target group")
    healthy = states.count("healthy")
    status = PASS if healthy == desired and desired > 0 else FAIL
    return Check(
        "target health", status, f"{healthy} healthy target(s), {desired} desired ({', '.join(states)})"
    )


def _describe_deployment(deployment: dict) -> str:
    state = deployment.get("rolloutState", "no rollout state")
    reason = (
        f": {deployment['rolloutStateReason']}"
        if state == "FAILED" and deployment.get("rolloutStateReason")
        else ""
    )
    return (
        f"{deployment.get('status')} {deployment.get('id')} {_short(deployment.get('taskDefinition'))} "
        f"{state}{reason}"
    )


def _short(task_definition: str | None) -> str:
    """``arn:...:task-definition/family:7`` -> ``family:7``."""
    return (task_definition or "?").rsplit("/", 1)[-1]


def running(color: str, outputs: dict[str, Any], session) -> Verdict:
    """What really runs for ``color``: its service is active with its tasks running, one COMPLETED PRIMARY
    deployment of Terraform's task definition, and as many healthy targets as desired tasks. The end of
    every bake and the contract gate ask this; `make verify` asks it and more."""
    stack = (outputs.get("stacks") or {}).get(color)
    if not stack:
        return Verdict(
            color,
            (
                Check(
                    "deployed",
                    FAIL,
                    f"the {color} stack is not enabled or not deployed: set "
                    f"{color}.enabled = true and apply before switching traffic to it",
                ),
            ),
        )
    from scripts.release import observe

    found = observe.service(session, stack)
    if found is None:
        return Verdict(
            color, (Check("deployed", FAIL, f"ECS service {stack['service_name']} is not active"),)
        )
    checks = [Check("deployed", PASS, f"ECS service {stack['service_name']} is active")]
    desired, running_count = found["desiredCount"], found["runningCount"]
    status = PASS if desired > 0 and running_count >= desired else FAIL
    checks.append(Check("tasks running", status, f"{running_count} running of {desired} desired"))
    checks += deployment_checks(found, stack.get("task_definition_arn"))
    checks.append(target_check(observe.target_states(session, stack["target_group_arn"]), desired))
    return Verdict(color, tuple(checks), service=found)


def verify(color: str, outputs: dict[str, Any], session, smoke_url: str | None = None) -> Verdict:
    """Check ``color``'s stack using the root outputs (what Terraform deployed) and the AWS APIs."""
    verdict = running(color, outputs, session)
    if verdict.service is None:
        return verdict
    stack = outputs["stacks"][color]
    checks = list(verdict.checks)
    task_def = session.client("ecs").describe_task_definition(
        taskDefinition=verdict.service["taskDefinition"]
    )
    images = sorted({c["image"] for c in task_def["taskDefinition"]["containerDefinitions"]})
    expected = stack["image"]
    status = PASS if expected in images else FAIL
    checks.insert(
        -1, Check("image", status, f"task definition runs {', '.join(images)} (expected {expected})")
    )
    # The path the target group probes, so verify asks what the load balancer asks.
    path = stack.get("health_check_path") or "/health"
    checks.append(http_smoke(smoke_url or f"https://{stack['hostname']}{path}"))
    return Verdict(color, tuple(checks), service=verdict.service)
