"""The compatibility check in the release flow, end to end: a colour's own traffic fills the inventory, and
a release whose migrate step would break the live colour's statements stops before any traffic moves.

It runs after test_rollout.py (green live, every migration applied, blue drained) on the same local default.
The migrator it deploys carries one more migration than the repository's, built the way `make demo` builds
its own first try (scripts/release/demo.py): that is what a developer's branch would deploy.
"""

from __future__ import annotations

import json

import pytest
from kit import Kit

from scripts.release.demo import package_with

pytestmark = pytest.mark.e2e

RENAME = ("0008_rename_display_name", "ALTER TABLE users RENAME COLUMN display_name TO name;\n")


def test_a_colours_traffic_fills_the_inventory(kit: Kit) -> None:
    # WHEN green's own query mix runs as green's role (the local default runs no containers)
    ran = kit.make("traffic", "COLOR=green", "ROUNDS=2")
    assert json.loads(ran.stdout.strip().splitlines()[-1])["ok"] is True
    # THEN the inventory holds green's statements, the tables they touch, and when green last ran one
    listed = json.loads(kit.make("statements", "COLOR=green", "FORMAT=json").stdout)
    green = listed["colors"]["green"]
    assert green["role"] == "app_green" and green["statements"] >= 10
    assert green["tables"] == ["follows", "posts", "users"]
    status = json.loads(kit.make("status", "FORMAT=json").stdout)
    assert status["colours"]["green"]["database"]["last_statement"] == green["last_seen"]


def test_the_release_migrate_step_refuses_a_migration_that_breaks_the_live_colour(kit: Kit) -> None:
    # GIVEN a migrator whose next migration renames a column green's statements use, marked expand
    package = package_with(kit.local_dir / "migrator-rename.zip", [RENAME], why="a rename marked expand")
    overlay = kit.local_dir / "rename-migrator.tfvars"
    overlay.write_text(
        'blue = { enabled = true, image = "public.ecr.aws/nginx/nginx:1.27", container_port = 80, '
        'health_check_path = "/" }\n'
        f'migrator_package_path = "{package}"\n'
    )
    kit.make("plan", f"VAR_FILE={overlay}")
    kit.make("apply", f"VAR_FILE={overlay}")
    before = kit.live_weights()

    # WHEN blue is released with its migrations
    proc, summary = kit.release("COLOR=blue", "MIGRATE=1", "STEPS=100", "BAKE=0", "AUTO_APPROVE=1",
                                f"VAR_FILE={overlay}")  # fmt: skip

    # THEN it stops at the migrate step, before any traffic moved, naming green's statement and the fix
    assert summary["outcome"] == "stopped", proc.stderr
    assert "were refused, no traffic was moved" in summary["reason"]
    assert (
        "0008_rename_display_name breaks green" in summary["reason"] and "display_name" in summary["reason"]
    )
    assert "Fix: mark 0008 contract" in summary["reason"]
    assert kit.live_weights() == before == {"blue": 0, "green": 100}
    assert kit.rollout_state()["index"] == 1  # verify done, migrate not: `make release` resumes there
    refused = [e for e in kit.journal() if e["kind"] == "migration"][-1]
    assert refused["outcome"] == "refused" and "Incompatible" in refused["reason"]  # a safety rail said no
    # AND nothing was migrated
    listed = kit.migrate(ACTION="list")
    assert {m["id"]: m["state"] for m in listed["migrations"]}["0008"] == "pending"
    kit.make("rollback", f"VAR_FILE={overlay}")  # ends the stopped release (nothing to move back)
