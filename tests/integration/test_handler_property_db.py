"""Property on a real database: read-only events (list, dry runs, arbitrary sql text) always return a JSON
result and never write anything, whatever their values."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from migrator.handler import handle

from tests.integration.migrator_support import history, tables

ids = st.one_of(
    st.sampled_from(["0001", "0004", "0007", "0006_index_posts_author_created"]), st.text(max_size=12)
)
read_only_events = st.one_of(
    st.just({"action": "list"}),
    st.builds(lambda t: {"action": "migrate", "dry_run": True, "allow_contract": True, "target": t}, ids),
    st.builds(lambda n: {"action": "rollback", "dry_run": True, "steps": n}, st.integers(-3, 1003)),
    st.builds(lambda t: {"action": "rollback", "dry_run": True, "target": t}, ids),
    st.builds(
        lambda s: {"action": "sql", "sql": s},
        st.one_of(st.text(max_size=60), st.sampled_from(["SELECT 1", "SELECT * FROM users", "DROP TABLE x"])),
    ),
)


class Context:
    aws_request_id = "property-db"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=read_only_events)
def test_read_only_events_never_write(fresh_database, event):
    result = handle(event, Context(), environ={"DATABASE_URL": fresh_database})

    json.dumps(result)
    assert isinstance(result["ok"], bool) and result["action"] == event["action"]
    if not result["ok"]:
        assert result["error"]["type"] != "InternalError", result
    assert history(fresh_database) == [] and tables(fresh_database) == set()
