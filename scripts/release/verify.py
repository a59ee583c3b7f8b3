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
from dataclasses import asdict, dataclass
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

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"color": self.color, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}

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


def verify(color: str, outputs: dict[str, Any], session, smoke_url: str | None = None) -> Verdict:
    """Check ``color``'s stack using the root outputs (what Terraform deployed) and the AWS APIs."""
    stacks = outputs.get("stacks") or {}
    stack = stacks.get(color)
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
    checks: list[Check] = []
    ecs = session.client("ecs")
    services = ecs.describe_services(cluster=stack["cluster_name"], services=[stack["service_name"]])[
        "services"
    ]
    service = next((s for s in services if s.get("status") == "ACTIVE"), None)
    if service is None:
        checks.append(Check("deployed", FAIL, f"ECS service {stack['service_name']} is not active"))
        return Verdict(color, tuple(checks))
    checks.append(Check("deployed", PASS, f"ECS service {stack['service_name']} is active"))

    desired, running = service["desiredCount"], service["runningCount"]
    status = PASS if desired > 0 and running >= desired else FAIL
    checks.append(Check("tasks running", status, f"{running} running of {desired} desired"))

    task_def = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    images = sorted({c["image"] for c in task_def["containerDefinitions"]})
    expected = stack["image"]
    status = PASS if expected in images else FAIL
    checks.append(Check("image", status, f"task definition runs {', '.join(images)} (expected {expected})"))

    health = session.client("elbv2").describe_target_health(TargetGroupArn=stack["target_group_arn"])
    states = [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]]
    if not states:
        if _local_endpoint():
            checks.append(
                Check(
                    "target health",
                    SKIP,
                    "no targets registered: the local endpoint runs no containers, so none can register",
                )
            )
        else:
            checks.append(Check("target health", FAIL, "no targets registered with the target group"))
    else:
        healthy = states.count("healthy")
        status = PASS if healthy == len(states) else FAIL
        checks.append(
            Check("target health", status, f"{healthy} of {len(states)} targets healthy ({states})")
        )

    # The path the target group probes, so verify asks what the load balancer asks.
    path = stack.get("health_check_path") or "/health"
    checks.append(http_smoke(smoke_url or f"https://{stack['hostname']}{path}"))
    return Verdict(color, tuple(checks))
