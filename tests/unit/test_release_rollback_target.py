"""Where `make rollback` sends traffic outside a release: by the journal's last change that moved traffic.

The journal and Route 53's answer are stubbed here (the e2e tests run them on moto); what is tested is the
decision alone."""

from __future__ import annotations

import pytest

from scripts.release import breakglass, journal
from scripts.release.trafficfile import Traffic

BLUE, GREEN = {"blue": 100, "green": 0}, {"blue": 0, "green": 100}


def _decide(monkeypatch, events: list[dict], answered: dict) -> tuple[Traffic, str | None, list[str]]:
    monkeypatch.setattr(journal, "read", lambda ws, last=None: events)
    monkeypatch.setattr(breakglass, "_answered", lambda session, outputs: answered)
    # what Route 53 alone would say: the other colour (stands for previous_colour, which reads the file)
    monkeypatch.setattr(breakglass, "previous_colour", lambda ws, s, o: Traffic("fallback", 0))
    warnings: list[str] = []
    wanted, done = breakglass._after_the_last_change(None, None, {}, warnings)
    return wanted, done, warnings


def test_after_a_release_it_goes_back_to_where_the_release_started(monkeypatch):
    events = [{"kind": "release", "outcome": "completed", "weights_before": GREEN, "weights_after": BLUE}]
    wanted, done, _ = _decide(monkeypatch, events, BLUE)
    assert wanted == Traffic("green", 0) and done is None


@pytest.mark.parametrize(
    "last",
    [
        {"kind": "rollback", "outcome": "rolled_back", "weights_before": BLUE, "weights_after": GREEN},
        {"kind": "release", "outcome": "rolled_back", "weights_before": {"blue": 10, "green": 90},
         "weights_after": GREEN},
    ],
)  # fmt: skip
def test_a_second_rollback_does_nothing_instead_of_sending_traffic_back(monkeypatch, last):
    wanted, done, _ = _decide(monkeypatch, [last], GREEN)
    assert wanted == Traffic("green", 0) and done is not None and "nothing" not in done


def test_an_event_that_moved_nothing_is_not_the_last_change(monkeypatch):
    events = [
        {"kind": "rollback", "outcome": "rolled_back", "weights_before": GREEN, "weights_after": BLUE},
        {"kind": "release", "outcome": "stopped", "weights_before": BLUE, "weights_after": BLUE},
    ]
    wanted, done, _ = _decide(monkeypatch, events, BLUE)
    assert wanted == Traffic("blue", 0) and done is not None  # still the rollback's doing


def test_weights_the_journal_does_not_explain_go_by_route53_with_a_warning(monkeypatch):
    events = [{"kind": "release", "outcome": "completed", "weights_before": GREEN, "weights_after": BLUE}]
    wanted, done, warnings = _decide(monkeypatch, events, GREEN)
    assert wanted == Traffic("fallback", 0) and done is None
    assert "not what the journal's last change left" in warnings[0]
