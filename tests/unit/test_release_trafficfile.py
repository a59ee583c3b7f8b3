"""The one source of truth for traffic: reading and writing live_color/canary_percent byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.release import trafficfile
from scripts.release.trafficfile import Traffic, TrafficFileError
from tests import committed

REPO = Path(__file__).resolve().parents[2]
LOCAL_TFVARS = REPO / "terraform" / "env" / "local.tfvars"


def test_the_committed_local_file_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "local.tfvars"
    path.write_text(committed.text(LOCAL_TFVARS))
    assert trafficfile.read(path) == Traffic("blue", 0)


def test_writing_changes_only_the_two_values(tmp_path: Path) -> None:
    # GIVEN the committed file, with its comments, alignment and a live_color inside a comment
    path = tmp_path / "local.tfvars"
    original = committed.text(LOCAL_TFVARS) + '# live_color = "blue" in a comment is not the setting\n'
    path.write_text(original)

    # WHEN blue stays live and green gets a 30% canary
    assert trafficfile.write(path, Traffic("blue", 30)) is True

    # THEN exactly one value changed, and writing the same again changes nothing
    assert path.read_text() == original.replace("canary_percent = 0", "canary_percent = 30")
    assert trafficfile.write(path, Traffic("blue", 30)) is False
    assert trafficfile.write(path, Traffic("green", 0)) is True
    assert path.read_text() == original.replace('live_color     = "blue"', 'live_color     = "green"')
    assert trafficfile.read(path) == Traffic("green", 0)


def test_a_missing_canary_line_is_added_after_live_color(tmp_path: Path) -> None:
    path = tmp_path / "x.tfvars"
    path.write_text('a = 1\nlive_color = "blue"\nb = 2\n')
    trafficfile.write(path, Traffic("blue", 10))
    assert path.read_text() == 'a = 1\nlive_color = "blue"\ncanary_percent = 10\nb = 2\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = 1\n", "has no line `live_color"),
        ('live_color = "purple"\n', 'must be "blue" or "green"'),
        ('live_color = "blue"\nlive_color = "green"\n', "sets live_color 2 times"),
        ('live_color = "blue"\ncanary_percent = 60\n', "whole number from 0 to 50"),
        ('live_color = "blue"\ncanary_percent = var.x\n', "whole number from 0 to 50"),
    ],
)
def test_bad_files_are_refused_with_what_to_do(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.tfvars"
    path.write_text(text)
    with pytest.raises(TrafficFileError, match=message):
        trafficfile.read(path)


def test_an_invalid_setting_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "x.tfvars"
    path.write_text('live_color = "blue"\ncanary_percent = 0\n')
    with pytest.raises(TrafficFileError):
        trafficfile.write(path, Traffic("blue", 51))
    assert path.read_text() == 'live_color = "blue"\ncanary_percent = 0\n'


@pytest.mark.parametrize(
    ("percent", "expected", "weights"),
    [
        (10, Traffic("blue", 10), {"blue": 90, "green": 10}),
        (50, Traffic("blue", 50), {"blue": 50, "green": 50}),
        (75, Traffic("green", 25), {"blue": 25, "green": 75}),
        (100, Traffic("green", 0), {"blue": 0, "green": 100}),
    ],
)
def test_a_share_maps_onto_live_color_and_a_canary_of_at_most_50(percent, expected, weights) -> None:
    traffic = Traffic.for_share("blue", "green", percent)
    assert traffic == expected
    assert traffic.weights == weights


def test_an_extra_var_file_may_not_set_traffic(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.tfvars"
    overlay.write_text("log_retention_days = 3\n")
    trafficfile.refuse_overrides((overlay,), "local")
    overlay.write_text('live_color = "green"\n')
    with pytest.raises(TrafficFileError, match="traffic settings live only in"):
        trafficfile.refuse_overrides((overlay,), "local")


def test_the_pull_request_job_plans_the_committed_file_without_sed() -> None:
    import yaml

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    run = next(step["run"] for step in steps if step.get("name") == "make plan")
    assert "sed" not in run and "COLOR" not in run
    assert 'make plan ENV="$ENV"' in run


def test_the_production_example_is_readable_too() -> None:
    assert trafficfile.read(REPO / "terraform" / "env" / "production.tfvars.example") == Traffic("blue", 0)


@pytest.mark.parametrize(
    ("traffic", "text"),
    [
        (Traffic("blue", 0), "blue live"),
        (Traffic("green", 10), "green live, blue canary at 10%"),
        (Traffic("blue", 50), "blue live, green at 50% (a tie)"),
    ],
)
def test_status_describes_a_canary_or_a_tie_as_such(traffic, text):
    from scripts.release.status import describe_traffic

    assert describe_traffic(traffic) == text


@pytest.mark.parametrize(
    ("written", "state_live", "state", "route53", "agree"),
    [
        # a tie: every source lists 50/50; which colour Route 53 "answers" does not matter
        (Traffic("blue", 50), "blue", {"blue": 50, "green": 50}, {"blue": 50, "green": 50}, True),
        (Traffic("green", 10), "green", {"blue": 10, "green": 90}, {"blue": 10, "green": 90}, True),
        # green disabled: no record for it, only blue's is compared
        (Traffic("blue", 0), "blue", {"blue": 100}, {"blue": 100}, True),
        # Route 53 holds other weights than the repository and the state (a hand edit, a failed apply)
        (Traffic("blue", 10), "blue", {"blue": 90, "green": 10}, {"blue": 100, "green": 0}, False),
        # the state names another live colour than the repository (an unapplied switch)
        (Traffic("green", 0), "blue", {"blue": 100, "green": 0}, {"blue": 100, "green": 0}, False),
        # nothing deployed (after `make down` locally): not agreement
        (Traffic("green", 0), None, {}, {}, False),
    ],
)
def test_status_judges_agreement_on_weights(written, state_live, state, route53, agree):
    from scripts.release.status import traffic_problems

    problems = traffic_problems(written, state_live, state, route53)
    assert (problems == []) is agree, problems


def test_status_says_what_to_run_when_the_file_was_never_applied_or_nothing_is_deployed():
    from scripts.release.status import traffic_problems

    served = {"blue": 0, "green": 100}
    unapplied = traffic_problems(Traffic("blue", 0), "green", served, served)
    assert "holds a change that was never applied (`make apply` applies it" in unapplied[0]
    nothing = traffic_problems(Traffic("green", 0), None, {}, {})
    assert nothing[0].startswith("nothing is deployed in ENV=local") and "make demo" in nothing[0]


def test_status_of_an_environment_that_does_not_exist_is_bad_input(monkeypatch, capsys):
    from scripts.release import exitcodes, status

    monkeypatch.setenv("KIT_ENV", "staging")
    assert status.main() == exitcodes.BAD_INPUT
    assert "ENV=staging is not an environment here" in capsys.readouterr().err
