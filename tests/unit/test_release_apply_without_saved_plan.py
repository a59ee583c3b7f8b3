"""`make apply` without a saved plan (first-hour probe P6): with no terminal and no AUTO_APPROVE it shows the
plan, says how to apply it, exits 2 (bad input: nothing was done) and keeps no plan that a later apply would
use unseen; a plan with no changes is "nothing to apply", exit 0."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from scripts.release import exitcodes, switch, trafficfile


@pytest.fixture
def fake_apply(monkeypatch, tmp_path):
    """switch.apply with the plan, workspace and env file faked: ``state['has_changes']`` says what the
    plan finds; ``state['applied']`` counts terraform applies."""
    state = {"has_changes": True, "applied": 0}
    monkeypatch.setattr(switch, "PLANS_DIR", tmp_path)
    monkeypatch.setattr(trafficfile, "read", lambda path: trafficfile.Traffic("green", 0))
    monkeypatch.setattr(trafficfile, "refuse_overrides", lambda files, env: None)

    def apply_plan(*args):
        state["applied"] += 1

    ws = SimpleNamespace(outputs=lambda: {"live_color": "green"}, init=lambda: None, apply=apply_plan)
    monkeypatch.setattr(switch, "workspace", lambda env, extra=(): ws)
    review = {"dangers": [], "weights_before": {}, "weights_after": {}, "live_before": None, "operations": 1}

    def fake_plan(env, color=None, extra=()):
        saved = switch.SavedPlan(env)
        saved.plan_file.write_text("plan")
        saved.meta_file.write_text(json.dumps({"color": color, "has_changes": state["has_changes"]}))
        return SimpleNamespace(to_dict=lambda: review)

    monkeypatch.setattr(switch, "plan", fake_plan)
    monkeypatch.setattr(switch, "to_markdown", lambda result: "### Terraform plan review")
    monkeypatch.setattr(switch.journal, "record_quietly", lambda *a, **k: None)
    monkeypatch.setattr(switch.evidence, "mark_zero", lambda *a: None)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    return state


def test_no_terminal_and_no_auto_approve_shows_the_plan_exits_2_and_keeps_no_plan(fake_apply, capsys):
    with pytest.raises(switch.BadInput) as raised:
        switch.apply("local", "green")
    assert raised.value.exit_code == exitcodes.BAD_INPUT
    message = str(raised.value)
    assert "AUTO_APPROVE=1" in message and "there is no saved plan" not in message
    assert "make apply COLOR=green AUTO_APPROVE=1" in message
    assert "### Terraform plan review" in capsys.readouterr().out
    # THEN no plan is left for the next apply to use unseen, and nothing was applied
    assert switch.SavedPlan("local").meta() is None
    assert fake_apply["applied"] == 0


def test_a_plan_with_no_changes_is_nothing_to_apply(fake_apply, capsys):
    fake_apply["has_changes"] = False
    outputs = switch.apply("local", "green")
    assert outputs == {"live_color": "green"}
    assert "nothing to apply: the plan has no changes" in capsys.readouterr().err
    assert switch.SavedPlan("local").meta() is None and fake_apply["applied"] == 0


def test_auto_approve_applies_the_plan_it_just_made(fake_apply):
    switch.apply("local", "green", auto_approve=True)
    assert fake_apply["applied"] == 1
    assert switch.SavedPlan("local").meta() is None  # consumed


def test_make_apply_exits_2_through_main(fake_apply, monkeypatch):
    monkeypatch.setenv("KIT_ENV", "local")
    monkeypatch.setenv("KIT_COLOR", "green")
    monkeypatch.delenv("KIT_AUTO_APPROVE", raising=False)
    monkeypatch.delenv("KIT_VAR_FILE", raising=False)
    monkeypatch.delenv("VAR_FILE", raising=False)
    monkeypatch.setattr(switch, "env_problem", lambda env: None)
    assert switch.main(["apply"]) == exitcodes.BAD_INPUT
