"""The release flow end to end, through the Makefile, against a local default of its own.

It applies real plans on a moto server, so it is the slow test of the suite (a few minutes, most of it the
AWS provider waiting on the load balancers and Route 53 records). It runs once, in order:

    apply blue (no task starts yet) -> migrate through the deployed function (it sets up and records the
    application role) -> apply again (the tasks start) -> log in as the application role (DML yes, DDL no)
    -> plan green (it writes live_color = "green" into the env tfvars) changes only the traffic -> apply
    green (weights checked with boto3) -> apply blue is refused (the file says green) -> make rollback to
    blue (checked again) -> roll back one migration

and checks the refusals a user meets on the way, and that the database password is nowhere in the state.
"""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest
from kit import REPO, Kit

pytestmark = pytest.mark.e2e


def test_release_flow(kit: Kit) -> None:
    # GIVEN nothing deployed, WHEN blue is applied, THEN blue takes all the traffic
    kit.make("apply", "COLOR=blue", "AUTO_APPROVE=1")
    assert kit.live_weights() == {"blue": 100, "green": 0}
    # ... but no task starts before migrate has set up the database role it logs in as
    assert kit.desired_counts() == {"blue": 0, "green": 0}

    # WHEN the expand migrations run through the deployed function, THEN they are applied (the contract step
    # after them stays pending), and `list`, also through the function, agrees
    migrated = kit.migrate(ACTION="migrate", TARGET="0006")
    assert migrated["ok"] is True, migrated
    # ... and the function set up each colour's own role, from its own secret, in the NOLOGIN group that
    # holds the grants
    roles = migrated["roles"]
    assert roles["group"] == {"name": "app", "created": True, "login": False}
    assert roles["colors"] == {
        color: {"name": f"app_{color}", "created": True, "login": True, "password": "set"}
        for color in ("blue", "green")
    }
    assert (roles["tables"], roles["ddl_refused"]) == (3, True)
    # AND each colour's tasks read its own secret alone: the task definition and the execution role's
    # policy that moto holds name that colour's secret and no other
    secrets = kit.outputs()["database_app_secret_arns"]
    stacks = kit.outputs()["stacks"]
    for color in ("blue", "green"):
        definition = kit.boto("ecs").describe_task_definition(
            taskDefinition=stacks[color]["task_definition_arn"]
        )
        sources = {s["valueFrom"].split(":username")[0].split(":password")[0]
                   for s in definition["taskDefinition"]["containerDefinitions"][0]["secrets"]}  # fmt: skip
        assert sources == {secrets[color]}
        policy = kit.boto("iam").get_role_policy(
            RoleName=f"release-kit-local-{color}-execution", PolicyName="database-secret"
        )["PolicyDocument"]
        assert secrets[color] in json.dumps(policy) and secrets[_other(color)] not in json.dumps(policy)
    assert sorted(migrated["roles_recorded"]) == ["app_blue", "app_green"]
    # WHEN the next apply runs (the README's first deploy: apply, migrate, apply), THEN the tasks start
    kit.make("apply", "COLOR=blue", "AUTO_APPROVE=1")
    assert kit.desired_counts() == {"blue": 1, "green": 1}
    listed = kit.migrate(ACTION="list")
    states = {m["id"]: m["state"] for m in listed["migrations"]}
    applied = [m for m, state in states.items() if state == "applied"]
    assert applied == ["0001", "0002", "0003", "0004", "0005", "0006"], listed
    assert states["0007"] == "pending"

    # AND the read-only sql action runs through the deployed function as its own least-privileged role
    counted = kit.migrate(ACTION="sql", SQL="SELECT count(*) AS users, current_user AS role FROM users")
    assert counted["ok"] is True and counted["rows"] == [[0, "migrator_sql_reader"]], counted
    refused = kit.migrate(ACTION="sql", SQL="SELECT (pid).pg_terminate_backend FROM pg_stat_activity")
    assert refused["error"]["type"] == "UnsafeSQL", refused

    # WHEN a client logs in as a colour's role, with the credentials ECS gives that colour's containers (its
    # own secret), THEN it can read and write the tables but not change the schema
    # (as green's version 2 code does: it writes display_name and never full_name, so that the contract step
    # 0007 keeps working for it; the compatibility check holds it to that later)
    with kit.app_connection("green") as app:
        app.execute("INSERT INTO users (username, display_name) VALUES ('e2e-app-role', 'E2E')")
        app.execute("UPDATE users SET display_name = 'App Role' WHERE username = 'e2e-app-role'")
        assert app.execute("SELECT display_name FROM users WHERE username = 'e2e-app-role'").fetchone() == (
            "App Role",
        )
        app.execute("DELETE FROM users WHERE username = 'e2e-app-role'")
        for ddl in (
            "CREATE TABLE app_made (id int)",
            "ALTER TABLE users ADD COLUMN x int",
            "DROP TABLE posts",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(ddl)

    # WHEN green is planned, THEN the env tfvars says so (only its two traffic values changed, byte for
    # byte), and the plan changes exactly the two weighted records and nothing else
    before = kit.tfvars.read_text()
    planned = kit.make("plan", "COLOR=green")
    assert 'wrote live_color = "green", canary_percent = 0' in planned.stderr
    assert kit.tfvars.read_text() == before.replace('live_color     = "blue"', 'live_color     = "green"')
    review = kit.review()
    assert sorted((c["action"], c["address"]) for c in review["changes"]) == [
        ("update", 'module.traffic.aws_route53_record.this["blue"]'),
        ("update", 'module.traffic.aws_route53_record.this["green"]'),
    ]
    assert review["weights_after"] == {"blue": 0, "green": 100}
    assert review["dangers"] == []

    # WHEN that plan is applied (green is verified first), THEN Route 53 sends everything to green
    applied_green = kit.make("apply", "COLOR=green")
    assert "verify green:" in applied_green.stderr
    assert "SKIP" in applied_green.stderr  # what cannot run locally says so
    assert kit.live_weights() == {"blue": 0, "green": 100}

    # WHEN apply is asked for the colour the file does not say, THEN it is refused, naming both values
    disagree = kit.make("apply", "COLOR=blue", "AUTO_APPROVE=1", check=False)
    assert disagree.returncode != 0
    assert "COLOR=blue disagrees with" in disagree.stderr and 'live_color = "green"' in disagree.stderr
    assert kit.live_weights() == {"blue": 0, "green": 100}

    # WHEN traffic is rolled back, THEN blue has it all again, and the file says so
    rolled_traffic = kit.make("rollback")
    assert kit.summary(rolled_traffic.stdout)["outcome"] == "rolled_back"
    assert kit.live_weights() == {"blue": 100, "green": 0}
    assert kit.traffic() == ("blue", 0)

    # WHEN one migration is rolled back through the function, THEN exactly one fewer is applied
    rolled = kit.migrate(ACTION="rollback", STEPS="1")
    assert rolled["ok"] is True, rolled
    after = [m["id"] for m in kit.migrate(ACTION="list")["migrations"] if m["state"] == "applied"]
    assert after == applied[:-1]


def _other(color: str) -> str:
    return "green" if color == "blue" else "blue"


def test_the_password_is_not_in_the_state(kit: Kit) -> None:
    password = kit.state()["app_password"]
    s3 = kit.boto("s3")
    state = s3.get_object(Bucket="release-kit-tfstate", Key="local/terraform.tfstate")["Body"].read().decode()
    assert '"migrator_function_name"' in state  # it is the real, populated state
    assert password not in state
    # The secret itself does hold it: that is where the function reads it from.
    secret_id = json.loads(state)["outputs"]["migrator_secret_arn"]["value"]
    secret = json.loads(kit.boto("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    assert secret["password"] == password
    assert set(secret) >= {"username", "password", "host", "port", "dbname"}
    # Each colour's role's password is only in its own secret, never in the state
    for color, arn in kit.outputs()["database_app_secret_arns"].items():
        app_secret = json.loads(kit.boto("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        assert app_secret["username"] == f"app_{color}"
        assert len(app_secret["password"]) == 40
        assert app_secret["password"] not in state


def test_plain_terraform_works_after_make_env(kit: Kit) -> None:
    # GIVEN the deployed local default, WHEN a shell evals `make -s env`, THEN plain terraform sees its state
    script = (
        'eval "$(make -s env)" && test -n "$TF_DATA_DIR" && '
        "terraform -chdir=terraform state list && "
        "terraform -chdir=terraform output -json && "
        "terraform -chdir=terraform show -no-color >/dev/null"
    )
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=REPO,
        env=kit.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "module.migrator.aws_lambda_function.this[0]" in proc.stdout
    assert '"migrator_function_name"' in proc.stdout


def test_refusals(kit: Kit) -> None:
    # An invalid colour is refused before terraform runs, with what to type instead
    bad = kit.make("plan", "COLOR=purple", check=False)
    assert bad.returncode != 0
    assert "COLOR must be blue or green (got 'purple')" in bad.stderr

    # A plan saved for one colour (which the file now says) is not applied for the other
    kit.make("plan", "COLOR=green")
    other = kit.make("apply", "COLOR=blue", check=False)
    assert other.returncode != 0
    assert "COLOR=blue disagrees with" in other.stderr and 'which says live_color = "green"' in other.stderr

    # A plan whose inputs changed after it was saved is stale
    overlay = kit.local_dir / "overlay.tfvars"
    overlay.write_text("log_retention_days = 1\n")
    kit.make("plan", "COLOR=blue", f"VAR_FILE={overlay}")
    assert kit.traffic() == ("blue", 0)
    overlay.write_text("log_retention_days = 3\n")
    stale = kit.make("apply", "COLOR=blue", f"VAR_FILE={overlay}", check=False)
    assert stale.returncode != 0
    assert "stale" in stale.stderr

    # Traffic is set in one place only: an extra var file may not set it
    overlay.write_text("canary_percent = 10\n")
    elsewhere = kit.make("plan", f"VAR_FILE={overlay}", check=False)
    assert elsewhere.returncode != 0
    assert "sets canary_percent, but traffic settings live only in" in elsewhere.stderr

    # Switching to a disabled colour fails in terraform's own validation, with a clear message, and the
    # file goes back to what is live
    overlay.write_text('green = { enabled = false, image = "nginx:1.27" }\n')
    disabled = kit.make("plan", "COLOR=green", f"VAR_FILE={overlay}", check=False)
    assert disabled.returncode != 0
    assert "green stack is not enabled" in disabled.stderr
    assert kit.traffic() == ("blue", 0)

    # A malformed migrate is refused before anything is invoked, in make's terms, and changes nothing
    refused = kit.migrate(ACTION="rollback", STEPS="-1")
    assert refused["ok"] is False
    assert refused["error"]["type"] == "BadInput"
    assert "STEPS=-1 must be from 1 to 1000" in refused["error"]["message"]
