"""Plain terraform after `eval "$(make -s env)"` (README, "Plain terraform on the local default"): a plan of
the local environment runs in terraform/ with nothing but the exported variables, and make env printed no
password."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_plain_terraform_plan_works_after_make_env(local_default):
    shell = (
        'exports="$(make -s env)" && eval "$exports" && printf "%s" "$exports" > /dev/stderr && cd terraform '
        "&& terraform plan -var-file=env/local.tfvars -input=false -lock=false -no-color -detailed-exitcode"
    )
    proc = subprocess.run(["bash", "-c", shell], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 2), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert local_default.app_password not in proc.stderr
    assert local_default.pg_superuser_password not in proc.stderr
