"""The release flow: everything between a reviewed change and live traffic.

One entry module per make target:

    switch.py     make plan / make apply / make verify
    rollout.py    make release / make rollback (the progressive, resumable release)
    status.py     make status
    journal.py    make history (and the journal every other module appends to)
    migrate.py    make migrate (through ``invoke``, the deployed function's client)
    preflight.py  make preflight
    demo.py       make demo

and the pieces they share: ``tf`` (the terraform CLI), ``plan_review``, ``verify`` (the readiness checks),
``trafficfile`` (the one source of truth for live_color and canary_percent), ``observe`` (what Route 53, ECS
and CloudWatch answer) and ``contract`` (the evidence a contract migration needs). This facade keeps
``from scripts import release; release.plan(...)`` working for older callers.
"""

from scripts.release.switch import (
    COLORS,
    LOCAL_ENV,
    ReleaseError,
    apply,
    aws_session,
    check_color,
    plan,
    verify_color,
    workspace,
)

__all__ = [
    "COLORS",
    "LOCAL_ENV",
    "ReleaseError",
    "apply",
    "aws_session",
    "check_color",
    "plan",
    "verify_color",
    "workspace",
]
