"""Inventory-style plan assertions, in the style of cloud-foundation-fabric's tests.

An inventory is a JSON file next to a case's tfvars:

    {
      "values":  {"<resource address>": {"<attribute>": <expected>, ...}, ...},
      "counts":  {"<resource type>": <number of planned resources>, ...},
      "outputs": {"<output name>": <expected known value>, ...}
    }

``values`` entries are partial: only the attributes listed are compared (nested objects partially too,
lists exactly). ``counts`` is complete: every planned resource type must be listed. ``outputs`` lists only
the outputs that are known at plan time and worth pinning.

Regenerate with ``REGENERATE_INVENTORY=1``: an existing inventory keeps its chosen addresses and attributes
and takes the values from the plan; a missing one is written with every known attribute of every resource,
to be pruned by hand.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tftest

REGENERATE_ENV = "REGENERATE_INVENTORY"
CASES = Path(__file__).resolve().parent
REGION = "us-east-1"
TEST_PASSWORD = "plan-test-password-7f3a9c"  # the tests assert this never appears in a plan


def planned_resources(plan: Any) -> dict[str, dict[str, Any]]:
    """Every planned resource (managed, not data) in the plan, by full address."""
    found: dict[str, dict[str, Any]] = {}

    def walk(module: dict[str, Any]) -> None:
        for resource in module.get("resources", []):
            if resource.get("mode") == "managed":
                found[resource["address"]] = resource
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan._raw.get("planned_values", {}).get("root_module", {}))
    return found


def resource_counts(plan: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for resource in planned_resources(plan).values():
        counts[resource["type"]] = counts.get(resource["type"], 0) + 1
    return dict(sorted(counts.items()))


def known_outputs(plan: Any) -> dict[str, Any]:
    """Outputs whose values are known at plan time (unknown outputs have no "value" key)."""
    return {
        name: output["value"]
        for name, output in plan._raw.get("planned_values", {}).get("outputs", {}).items()
        if "value" in output
    }


def _mismatches(expected: Any, actual: Any, path: str) -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing (expected {value!r})")
            else:
                problems.extend(_mismatches(value, actual[key], f"{path}.{key}"))
        return problems
    if expected != actual:
        return [f"{path}: expected {expected!r}, planned {actual!r}"]
    return []


def _regenerate(path: Path, plan: Any) -> None:
    resources = planned_resources(plan)
    old = json.loads(path.read_text()) if path.exists() else None
    if old is None:
        values = {
            address: {k: v for k, v in resource["values"].items() if v not in (None, [], {})}
            for address, resource in resources.items()
        }
        outputs = known_outputs(plan)
    else:
        values = {
            address: {key: resources[address]["values"].get(key) for key in attributes}
            for address, attributes in old.get("values", {}).items()
            if address in resources
        }
        planned_outputs = known_outputs(plan)
        outputs = {name: planned_outputs[name] for name in old.get("outputs", {}) if name in planned_outputs}
    inventory = {"values": values, "counts": resource_counts(plan), "outputs": outputs}
    path.write_text(json.dumps(inventory, indent=2, sort_keys=True) + "\n")


def check_inventory(plan: Any, inventory_path: Path) -> None:
    """Compare a tftest plan with an inventory file; fail with every difference and how to regenerate."""
    if os.environ.get(REGENERATE_ENV) == "1":
        _regenerate(inventory_path, plan)
        return
    inventory = json.loads(inventory_path.read_text())
    resources = planned_resources(plan)
    problems: list[str] = []
    for address, attributes in inventory.get("values", {}).items():
        if address not in resources:
            problems.append(f"{address}: not in the plan")
            continue
        problems.extend(_mismatches(attributes, resources[address]["values"], address))
    planned_counts = resource_counts(plan)
    expected_counts = inventory.get("counts", {})
    if planned_counts != expected_counts:
        problems.append(f"resource counts: expected {expected_counts}, planned {planned_counts}")
    planned_outputs = known_outputs(plan)
    for name, value in inventory.get("outputs", {}).items():
        if name not in planned_outputs:
            problems.append(f"output {name}: unknown or missing at plan time (expected {value!r})")
        elif planned_outputs[name] != value:
            problems.append(f"output {name}: expected {value!r}, planned {planned_outputs[name]!r}")
    if problems:
        raise AssertionError(
            f"plan does not match the inventory {inventory_path}:\n  "
            + "\n  ".join(problems)
            + f"\nIf the change is intended, regenerate the inventory and review the diff:\n"
            f"  {REGENERATE_ENV}=1 python -m pytest tests/terraform -k '{inventory_path.parent.name}'"
        )


def assert_empty_plan(plan_output: str) -> None:
    """Disabled means empty: the plan proposes no resource changes (null outputs are fine)."""
    assert "No changes." in plan_output or (
        "will perform the following actions" not in plan_output and "Plan:" not in plan_output
    ), f"a disabled module planned resource changes:\n{plan_output}"


def _var_files(var_files: list[Path | str], overrides: dict[str, Any] | None) -> list[str]:
    """The case's var files plus, last so that they win, the overrides as a .tfvars.json file.

    Overrides are not passed as -var: tftest puts -var before -var-file, so a var file would beat them.
    """
    files = [str(path) for path in var_files]
    if overrides:
        handle, name = tempfile.mkstemp(suffix=".tfvars.json")
        with os.fdopen(handle, "w") as out:
            json.dump(overrides, out)
        files.append(name)
    return files


def plan(tf: tftest.TerraformTest, var_files: list[Path | str], overrides: dict[str, Any] | None = None):
    """A tftest plan (parsed JSON) of the given var files and overrides."""
    return tf.plan(output=True, tf_var_file=_var_files(var_files, overrides))


def plan_text(
    tf: tftest.TerraformTest, var_files: list[Path | str], overrides: dict[str, Any] | None = None
) -> str:
    """The human-readable output of a plan (no saved plan, no JSON)."""
    return tf.plan(output=False, tf_var_file=_var_files(var_files, overrides))


def plan_error(
    tf: tftest.TerraformTest, var_files: list[Path | str], overrides: dict[str, Any] | None = None
) -> str:
    """Run a plan that must fail; return its error text with Terraform's line wrapping undone."""
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf.plan(output=True, tf_var_file=_var_files(var_files, overrides))
    text = " ".join(str(arg) for arg in failure.value.args)
    text = text.replace("│", " ").replace("╷", " ").replace("╵", " ")
    return re.sub(r"\s+", " ", text)


def case_file(module: str, case: str, suffix: str) -> Path:
    return CASES / module / f"{case}.{suffix}"
