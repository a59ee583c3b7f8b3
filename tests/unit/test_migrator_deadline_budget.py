"""The deadline arithmetic and the settings that drive retries and deadlines (no database: the behaviour
against PostgreSQL is in tests/integration/test_migrator_deadline.py)."""

from __future__ import annotations

import pytest
from migrator.deadline import FINISH_MARGIN_MS, Deadline, clamp_sql
from migrator.errors import ConfigurationError
from migrator.settings import Settings


class FixedContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_context_without_remaining_time_means_no_deadline():
    deadline = Deadline.from_context(object(), 10)
    assert not deadline.limited and deadline.can_start()
    assert deadline.statement_budget_ms(900_000) is None and deadline.remaining_ms() is None


def test_can_start_needs_the_reserve():
    context = FixedContext(10_000)
    deadline = Deadline.from_context(context, 10)
    assert deadline.can_start()
    context.remaining_ms = 9_999
    assert not deadline.can_start()


@pytest.mark.parametrize(
    ("remaining", "configured", "budget"),
    [
        (600_000, 60_000, None),  # the configured timeout ends well before the deadline: leave it
        (60_000, 900_000, 60_000 - FINISH_MARGIN_MS),  # it would outlast the invocation: lower it
        (60_000, 0, 60_000 - FINISH_MARGIN_MS),  # 0 = no limit in PostgreSQL: lower it too
        (500, 900_000, 500 - FINISH_MARGIN_MS),  # nothing left (<= 0): the caller stops
    ],
)
def test_statement_budget(remaining, configured, budget):
    assert Deadline.from_context(FixedContext(remaining), 1).statement_budget_ms(configured) == budget


def test_clamp_sql_guards_every_statement():
    body = clamp_sql(["CREATE TABLE a (id int)", "CREATE TABLE b (id int)"], 5000)
    assert body.count("set_config('statement_timeout'") == 2
    assert body.index("CREATE TABLE a") < body.rindex("set_config") < body.index("CREATE TABLE b")


def test_statement_timeout_in_milliseconds():
    assert Settings(statement_timeout="15min").statement_timeout_ms == 900_000
    assert Settings(statement_timeout="5s").statement_timeout_ms == 5_000
    assert Settings(statement_timeout="250").statement_timeout_ms == 250
    assert Settings(statement_timeout="0").statement_timeout_ms == 0


def test_retry_and_deadline_settings_from_the_environment():
    settings = Settings.from_env(
        {"MIGRATOR_LOCK_RETRIES": "5", "MIGRATOR_LOCK_RETRY_DELAY": "0.5", "MIGRATOR_DEADLINE_RESERVE": "30"}
    )
    assert (settings.lock_retries, settings.lock_retry_delay_seconds) == (5, 0.5)
    assert settings.deadline_reserve_seconds == 30
    defaults = Settings.from_env({})
    assert (defaults.lock_retries, defaults.lock_retry_delay_seconds, defaults.deadline_reserve_seconds) == (
        3,
        1.0,
        10.0,
    )
    with pytest.raises(ConfigurationError, match="MIGRATOR_LOCK_RETRIES"):
        Settings.from_env({"MIGRATOR_LOCK_RETRIES": "many"})
