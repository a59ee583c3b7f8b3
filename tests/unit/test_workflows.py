"""The GitHub workflows: the plan job stays read-only and needs no secret, the release runs in a
protected environment one at a time, and every action is pinned to a commit (actionlint checks the rest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job["steps"]


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_every_action_is_pinned_to_a_commit_and_checkout_keeps_no_credentials(name):
    for step in _steps(_load(name)):
        if "uses" not in step:
            continue
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if step["uses"].startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_the_plan_job_is_read_only_needs_no_secret_and_takes_no_lock():
    job = _load("ci.yml")["jobs"]["plan"]
    text = (WORKFLOWS / "ci.yml").read_text()
    plan_text = text[text.index("  plan:") :]
    assert "secrets." not in plan_text  # no database password, nothing else
    assert job["env"]["TF_CLI_ARGS_plan"] == "-lock=false"
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert "apply" not in " ".join(step.get("run", "") for step in job["steps"])


def test_the_release_runs_in_a_protected_environment_one_at_a_time_and_is_never_cancelled():
    workflow = _load("release.yml")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert {"color", "steps", "migrate", "environment"} <= set(inputs)
    assert inputs["color"]["options"] == ["blue", "green"]
    assert workflow["concurrency"] == {
        "group": "release-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    job = workflow["jobs"]["release"]
    assert job["environment"] == "${{ inputs.environment }}"  # required reviewers are set on it
    assert job["permissions"]["id-token"] == "write"
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "make release" in runs
    # The inputs reach make through the environment, never pasted into a script
    assert "${{ inputs" not in runs
    # The traffic settings the release wrote are committed whatever its outcome
    assert any(step.get("if") == "always()" and "git commit" in step.get("run", "") for step in job["steps"])
