"""The contract gate: a contract migration runs only when the evidence says the previous colour is retired.

A contract step removes or tightens something the previous release may still use, so it is refused while
the colour that is not live still takes traffic (its Route 53 weight, as Route 53 answers in the zone named by
its ID, is above 0, or its record is missing, which proves nothing), still runs tasks (its ECS service's
running count), still has a session of its own database role open or ran a statement since its weight
reached 0 (the statement inventory, through the migrator), or its load balancer still served requests or
held connections in the last CONTRACT_QUIET_MINUTES (CloudWatch: long-lived connections do not move on a DNS
switch; see evidence.py); and while the live colour does not run what Terraform deployed (an ECS circuit
breaker that reverted it to the previous release's task definition would be broken by the contract step).
FORCE_CONTRACT=1 overrides; the override, with the evidence it overrode, goes to the journal. A contract step
that passes is then checked against the live colour's statements only (``serving``): the old one is gone.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from scripts.release import evidence as evidence_of
from scripts.release import journal, observe, trafficfile, verify
from scripts.release.tf import Workspace

if TYPE_CHECKING:
    from boto3.session import Session


class ContractGateError(RuntimeError):
    """A contract migration was refused; the message says why and what to do."""

    def __init__(self, message: str, migrations: list[str] | None = None) -> None:
        super().__init__(message)
        self.migrations = list(migrations or [])


@dataclass(frozen=True)
class Evidence:
    live_color: str | None
    previous_color: str | None
    previous_weight: int | None  # None: the colour is deployed but Route 53 has no record of it
    previous_running: int
    previous_desired: int
    live_problem: str | None = None  # why the live colour does not run what Terraform deployed, if so
    database: evidence_of.DatabaseEvidence | None = None
    load_balancer: evidence_of.LoadBalancerEvidence | None = None

    @property
    def retired(self) -> bool:
        return (
            self.previous_weight == 0
            and self.previous_running == 0
            and not self.live_problem
            and (self.database is None or self.database.quiet)
            and (self.load_balancer is None or self.load_balancer.quiet)
        )

    def describe(self) -> str:
        weight = (
            "has no record in Route 53 (a missing record proves nothing about its traffic)"
            if self.previous_weight is None
            else f"has weight {self.previous_weight} in Route 53"
        )
        text = (
            f"{self.previous_color} {weight} and runs {self.previous_running} task(s) "
            f"(desired {self.previous_desired})"
        )
        for more in (self.database, self.load_balancer):
            if more is not None:
                text += f"; {more.describe(self.previous_color or '?')}"
        if self.live_problem:
            text += f", and {self.live_color} does not run what Terraform deployed ({self.live_problem})"
        return text


def gather_all(
    ws: Workspace, session: Session, outputs: dict, *, function: str | None, invoke=None
) -> Evidence:
    """:func:`gather`, plus what the database and the previous colour's load balancer say."""
    found = gather(session, outputs)
    previous = found.previous_color
    if previous is None:
        return found
    minutes = evidence_of.quiet_minutes(ws.env)
    database = None
    if function and invoke is not None:
        try:
            events = journal.read(ws)
        except journal.JournalError:
            events = []
        database = evidence_of.database(invoke, function, previous, events, minutes)
    stack = (outputs.get("stacks") or {}).get(previous) or {}
    balancer = evidence_of.load_balancer(session, stack.get("alb_arn_suffix"), minutes)
    return dataclasses.replace(found, database=database, load_balancer=balancer)


def gather(session: Session, outputs: dict) -> Evidence:
    """What AWS says about the colour that is not live."""
    live = outputs.get("live_color")
    previous = {"blue": "green", "green": "blue"}.get(live or "")
    hostnames = outputs.get("hostnames") or {}
    live_name = hostnames.get("live")
    weights = observe.route53_weights(session, live_name, outputs.get("hosted_zone_id")) if live_name else {}
    stacks = outputs.get("stacks") or {}
    counts = observe.task_counts(session, {previous: stacks[previous]}) if previous in stacks else {}
    tasks = counts.get(previous or "", {"running": 0, "desired": 0})
    # A colour that is not deployed has no record, rightly; a deployed one without a record is unexplained.
    weight = weights.get(previous or "", None if previous in stacks else 0)
    running = verify.running(live, outputs, session) if live in stacks else None
    problem = running.failures() if running is not None and not running.ok else None
    return Evidence(live, previous, weight, tasks["running"], tasks["desired"], problem)


def advice(evidence: Evidence, env_file: str) -> str:
    """What to do so that ``evidence`` says retired, for the state it describes: only steps that can work
    there (the live colour is already live, so releasing to it again is not one of them)."""
    previous, live = evidence.previous_color or "the old colour", evidence.live_color or "the live colour"
    steps: list[str] = []
    if evidence.previous_weight is None:
        steps.append(
            f"{previous} is deployed but has no Route 53 record: `make plan` and `make apply` restore it, or "
            f"set {previous}.enabled = false in {env_file} and plan and apply"
        )
    elif evidence.previous_weight > 0:
        steps.append(
            f"move {previous}'s traffic away: `make release` finishes a release in progress (`make status` "
            f"shows it), or set canary_percent = 0 in {env_file}, then `make plan` and `make apply`"
        )
    if evidence.previous_desired > 0:
        steps.append(
            f"stop {previous}'s tasks: set {previous}.desired_count = 0 (or {previous}.enabled = false) in "
            f"{env_file}, then `make plan` and `make apply`"
        )
    elif evidence.previous_running > 0:
        steps.append(f"wait for {previous}'s {evidence.previous_running} task(s) to stop (desired is 0)")
    if any(e is not None and not e.quiet for e in (evidence.database, evidence.load_balancer)):
        steps.append(
            f"wait until {previous}'s sessions and connections are gone and it has been quiet for "
            "CONTRACT_QUIET_MINUTES"
        )
    if evidence.live_problem:
        steps.append(f"let {live} finish its deployment (`make verify COLOR={live}` says when)")
    if not steps:
        steps.append(f"retire {previous} (no weight, no tasks, quiet) and run the contract step again")
    return "To retire it: " + "; ".join(steps)


def check(
    ws: Workspace,
    session: Session,
    outputs: dict,
    *,
    force: bool,
    migrations: list[str],
    function: str | None = None,
    invoke=None,
) -> Evidence:
    """Refuse (ContractGateError) unless the previous colour is retired or ``force``; record an override."""
    evidence = gather_all(ws, session, outputs, function=function, invoke=invoke)
    if evidence.retired:
        return evidence
    if not force:
        raise ContractGateError(
            f"contract migration(s) {', '.join(migrations) or '(pending)'} refused: "
            f"{evidence.describe()}, so old code the contract step breaks may still run. "
            f"{advice(evidence, trafficfile.shown(trafficfile.path_for(ws.env)))}. FORCE_CONTRACT=1 "
            "overrides, and the override is recorded in the journal",
            migrations,
        )
    journal.record(
        ws,
        "migration",
        outputs=outputs,
        migrations=migrations,
        forced_contract=True,
        evidence=asdict(evidence),
        outcome="forced",
        reason=f"FORCE_CONTRACT=1 while {evidence.describe()}",
    )
    return evidence


def _flag(name: str) -> bool:
    return os.environ.get(f"KIT_{name}", "").strip().lower() in ("1", "true", "yes")


def pending_contracts(listed: dict, target: str | None) -> list[str]:
    """The contract migrations a ``migrate`` up to ``target`` (all when None) would run."""
    ids: list[str] = []
    for migration in listed.get("migrations", []):
        if migration.get("state") == "pending" and migration.get("contract"):
            ids.append(migration["id"])
        if target is not None and migration.get("id") == target:
            break
    return ids


def gate_event(ws: Workspace, function_name: str, event: dict) -> dict:
    """`make migrate`'s gate: a migrate that would run a contract step (ALLOW_CONTRACT=1 or
    FORCE_CONTRACT=1) needs the evidence; FORCE_CONTRACT=1 also allows the step. Returns the event to send."""
    from scripts.release.invoke import invoke

    force = _flag("FORCE_CONTRACT")
    if event.get("action") != "migrate" or not (event.get("allow_contract") or force):
        return event
    listed = invoke(function_name, {"action": "list"})
    contracts = pending_contracts(listed, event.get("target"))
    if not contracts:
        return event
    import boto3

    outputs = ws.outputs()
    evidence = check(
        ws,
        boto3.session.Session(),
        outputs,
        force=force,
        migrations=contracts,
        function=function_name,
        invoke=invoke,
    )
    print(f"[migrate] contract gate: {evidence.describe()}", file=sys.stderr)
    # The old colour is gone (or the operator says so): only the live one's statements must keep working.
    if "serving" not in event and evidence.live_color:
        event = {**event, "serving": [evidence.live_color]}
    return {**event, "allow_contract": True} if force else event


# What a migrator action that succeeded did, as the journal's outcome, and the result key listing it.
_DONE = {
    "migrate": ("applied", "applied"),
    "rollback": ("rolled_back", "rolled_back"),
    "baseline": ("baselined", "baselined"),
    "seed": ("seeded", "seeded"),
}
JOURNALLED_ACTIONS = tuple(_DONE)


def migration_outcome(action: str, result: dict) -> str:
    """The journal's outcome for a migrator run: what the action did (``applied``, ``rolled_back``,
    ``baselined``, ``seeded``; ``unchanged`` when there was nothing to do), ``refused`` when a safety rail
    said no (nothing changed) and ``failed`` when something broke."""
    from scripts.release import exitcodes

    if result.get("ok"):
        done, key = _DONE.get(action, ("applied", "applied"))
        return done if result.get(key) else "unchanged"
    code = exitcodes.for_migrator_error((result.get("error") or {}).get("type") or "Error")
    return "refused" if code in (exitcodes.REFUSED, exitcodes.BAD_INPUT) else "failed"


def journal_run(ws: Workspace, event: dict, result: dict) -> None:
    """Every migration run that can change the schema or its history goes to the journal, refused ones
    included (list, sql, check and dry runs do not): the action, the migrations it applied, rolled back,
    baselined or seeded (or, refused, the contract steps it was refused for), and the outcome."""
    action = event.get("action")
    if action not in JOURNALLED_ACTIONS or event.get("dry_run"):
        return
    key = _DONE[action][1]
    done = result.get(key) or []
    ids = [str(m.get("id") or m.get("name")) if isinstance(m, dict) else str(m) for m in done]
    error = result.get("error") or {}
    refused_for = (
        [] if result.get("ok") else result.get("contract") or []
    )  # a contract refusal names the steps it refused
    journal.record_quietly(
        ws,
        "migration",
        action=action,
        migrations=ids or [str(m) for m in refused_for if isinstance(refused_for, list)],
        **{k: event[k] for k in ("target", "steps") if event.get(k) is not None},
        allow_contract=bool(event.get("allow_contract")),
        serving=event.get("serving"),
        outcome=migration_outcome(action, result),
        reason=None if result.get("ok") else error.get("message"),
        **evidence_of.overridden(result),
    )
