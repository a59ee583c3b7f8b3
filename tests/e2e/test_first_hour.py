"""A newcomer's first hour: `make demo`, then what the README and the demo's last lines say to try next,
from the same checkout with no extra flag. Each command must succeed with no warning, no disagreement, no
danger and no progress counter past its total.

The group has a local default of its own (its own moto, PostgreSQL, state and copy of terraform/env): the
demo starts from nothing deployed, as on a fresh clone.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from kit import Kit

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-first-hour")]

V2 = "public.ecr.aws/nginx/nginx:1.28"
# What a newcomer must never see in the output of these commands.
NOISE = re.compile(r"Warning|WARNING|warning:|DISAGREE|PROBLEM|(?<!No )DANGER|Traceback")
COUNTER = re.compile(r"\b(\d+)/(\d+)\b")


def _clean(proc: subprocess.CompletedProcess[str]) -> str:
    """The command's whole output, after checking it carries no noise and no counter past its total."""
    output = proc.stderr + proc.stdout
    assert not NOISE.search(output), NOISE.search(output)[0] + "\n" + output[-4000:]
    for done, total in COUNTER.findall(output):
        if int(total) > 0 and int(done) > int(total) and not _is_a_date_or_version(done, total, output):
            pytest.fail(f"a progress counter overflows: {done}/{total}\n{output[-4000:]}")
    return output


def _is_a_date_or_version(done: str, total: str, output: str) -> bool:
    return bool(re.search(rf"\d/{done}/{total}|{done}/{total}/\d", output))


def test_after_the_demo_everything_a_newcomer_tries_next_just_works(kit: Kit) -> None:
    # WHEN the demo runs on a fresh local default
    demo = kit.make("demo")
    output = _clean(demo)

    # THEN it prints one summary, last, and says what it left and what to try next
    summary = kit.summary(demo.stdout)
    assert len(demo.stdout.strip().splitlines()) == 1  # people read stderr; stdout is the one JSON line
    assert summary["live_color"] == "green" and summary["weights"] == {"blue": 0, "green": 100}
    assert summary["applied_migrations"][-1] == "0007"
    assert "The demo left" in output and "Try next" in output
    # the checkout's env file says what is deployed: green live, both colours at version 2
    assert kit.traffic() == ("green", 0)
    assert kit.tfvars.read_text().count(V2) == 2 and "migrator_package_path" not in kit.tfvars.read_text()

    # WHEN the newcomer looks: status agrees everywhere, and a plan has nothing to change
    status = kit.make("status")
    _clean(status)
    assert json.loads(kit.make("status", "FORMAT=json").stdout)["problems"] == []
    plan = kit.make("plan")
    assert "No changes" in _clean(plan), plan.stderr

    # WHEN they release to the other colour and roll back
    proc, summary = kit.release("COLOR=blue", "STEPS=50,100", "BAKE=5", "AUTO_APPROVE=1")
    _clean(proc)
    assert summary["outcome"] == "completed", proc.stderr
    assert kit.live_weights() == {"blue": 100, "green": 0} and kit.traffic() == ("blue", 0)
    rollback = kit.make("rollback")
    _clean(rollback)
    assert (kit.summary(rollback.stdout)["from"], kit.summary(rollback.stdout)["to"]) == ("blue", "green")
    assert kit.live_weights() == {"blue": 0, "green": 100} and kit.traffic() == ("green", 0)

    # THEN the migrations read as a table, and status still agrees
    listed = _clean(kit.make("migrate", "ACTION=list"))
    assert re.search(r"^0007 +contract_users_display_name +applied", listed, re.M), listed
    assert not listed.lstrip().startswith("{")
    assert json.loads(kit.make("status", "FORMAT=json").stdout)["problems"] == []
