"""First-hour findings on the migration journal and the contract gate's advice (probe P5, P14): the journal
says what a migrator run did (the action, what it applied or rolled back, refused or failed), and the gate
only advises steps that can work in the state it found."""

from __future__ import annotations

import pytest

from scripts.release import contract, journal


@pytest.fixture
def recorded(monkeypatch):
    events: list[dict] = []
    monkeypatch.setattr(
        journal, "record_quietly", lambda ws, kind, **fields: events.append({"kind": kind, **fields})
    )
    return events


@pytest.mark.parametrize(
    ("event", "result", "outcome", "migrations"),
    [
        (
            {"action": "rollback", "steps": 1},
            {"ok": True, "action": "rollback", "rolled_back": [{"id": "0007", "name": "contract"}]},
            "rolled_back",
            ["0007"],
        ),
        (
            {"action": "migrate"},
            {"ok": True, "action": "migrate", "applied": [{"id": "0004"}, {"id": "0005"}]},
            "applied",
            ["0004", "0005"],
        ),
        ({"action": "migrate"}, {"ok": True, "action": "migrate", "applied": []}, "unchanged", []),
        (
            {"action": "baseline", "target": "0004"},
            {"ok": True, "action": "baseline", "baselined": [{"id": "0001"}, {"id": "0004"}]},
            "baselined",
            ["0001", "0004"],
        ),
        (
            {"action": "seed"},
            {"ok": True, "action": "seed", "seeded": [{"id": "s1", "name": "users", "rows_changed": 3}]},
            "seeded",
            ["s1"],
        ),
        (
            {"action": "migrate"},
            {
                "ok": False,
                "action": "migrate",
                "error": {"type": "ContractRefused", "message": "0007 is a contract step"},
                "contract": ["0007"],
            },
            "refused",
            ["0007"],
        ),
        (
            {"action": "migrate", "allow_contract": True},
            {"ok": False, "error": {"type": "ContractGateError", "message": "refused"}, "contract": ["0007"]},
            "refused",
            ["0007"],
        ),
        (
            {"action": "migrate"},
            {"ok": False, "error": {"type": "MigrationFailed", "message": "syntax error"}, "applied": []},
            "failed",
            [],
        ),
    ],
)
def test_the_journal_records_the_action_what_it_did_and_a_refusal_as_refused(
    recorded, event, result, outcome, migrations
):
    contract.journal_run(None, event, result)
    assert len(recorded) == 1
    entry = recorded[0]
    assert entry["action"] == event["action"]
    assert entry["outcome"] == outcome
    assert entry["migrations"] == migrations


def test_dry_runs_and_read_only_actions_are_not_journalled(recorded):
    contract.journal_run(None, {"action": "migrate", "dry_run": True}, {"ok": True, "applied": []})
    for action in ("list", "sql", "check", "report"):
        contract.journal_run(None, {"action": action}, {"ok": True})
    assert recorded == []


def test_make_history_shows_the_action_and_the_ids_plainly():
    line = journal.render_line(
        {
            "at": "2026-12-08T00:57:48.676Z",
            "kind": "migration",
            "action": "rollback",
            "outcome": "rolled_back",
            "migrations": ["0007"],
            "steps": 1,
            "who": "arn:aws:sts::123456789012:user/moto",
        }
    )
    assert line.split()[1:4] == ["migration", "rolled_back", "action=rollback"]
    assert "migrations=0007" in line and "['" not in line


def test_the_contract_advice_never_suggests_releasing_to_the_colour_already_live():
    # GIVEN green live and blue idle at weight 0 with a task still running (the probe's state)
    evidence = contract.Evidence("green", "blue", 0, 1, 1)
    advice = contract.advice(evidence, "terraform/env/local.tfvars")
    # THEN the advice scales blue down through the env file, and never releases to green again
    assert "make release COLOR=green" not in advice
    assert "blue.desired_count = 0" in advice and "terraform/env/local.tfvars" in advice
    assert "`make plan` and `make apply`" in advice


def test_the_contract_advice_follows_the_evidence():
    canary = contract.advice(contract.Evidence("green", "blue", 10, 0, 0), "f.tfvars")
    assert "canary_percent = 0" in canary and "`make release` finishes a release in progress" in canary
    assert "desired_count" not in canary
    stopping = contract.advice(contract.Evidence("green", "blue", 0, 2, 0), "f.tfvars")
    assert "wait for blue's 2 task(s) to stop" in stopping
    missing = contract.advice(contract.Evidence("green", "blue", None, 0, 0), "f.tfvars")
    assert "no Route 53 record" in missing
    reverted = contract.advice(
        contract.Evidence("green", "blue", 0, 0, 0, live_problem="reverted"), "f.tfvars"
    )
    assert "make verify COLOR=green" in reverted
