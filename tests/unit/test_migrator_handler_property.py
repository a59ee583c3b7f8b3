"""Property: whatever JSON arrives, the handler returns one JSON-serialisable result and never raises.

No database: with no DATABASE_URL every valid event ends in a ConfigurationError after validation, and every
invalid one in InvalidEvent. Bounded examples keep it to a few seconds.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from migrator.errors import InvalidEvent
from migrator.events import ACTIONS, parse_event
from migrator.handler import handle

KEYS = ["action", "steps", "step", "target", "sql", "dry_run", "allow_contract", "allow_production_seed"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
plausible_values = st.one_of(
    st.sampled_from([*ACTIONS, "drop", ""]),
    st.integers(min_value=-5, max_value=2000),
    st.booleans(),
    st.sampled_from(["0001", "0003_create_follows", "SELECT 1", "DELETE FROM users", "bad id!"]),
    json_values,
)
event_like = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), plausible_values, max_size=4)
with_action = st.builds(lambda action, rest: {**rest, "action": action}, st.sampled_from(ACTIONS), event_like)
events = st.one_of(json_values, event_like, with_action)


class Context:
    aws_request_id = "property-test"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_handler_always_returns_a_json_result(event):
    result = handle(event, Context(), environ={})

    text = json.dumps(result)
    assert "Traceback" not in text
    assert isinstance(result["ok"], bool) and result["ok"] is False  # no database configured
    assert result["action"] in (*ACTIONS, None)
    assert isinstance(result["duration_ms"], int) and result["duration_ms"] >= 0
    assert set(result["error"]) == {"type", "message"}
    assert isinstance(result["error"]["message"], str) and result["error"]["message"]
    try:
        parse_event(event)
    except InvalidEvent:
        assert result["error"]["type"] == "InvalidEvent"
    else:
        assert result["error"]["type"] == "ConfigurationError"
        assert result["action"] == event["action"]
