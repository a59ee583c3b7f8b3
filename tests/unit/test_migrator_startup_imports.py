"""What a `migrate` loads before it does anything: only its own command, never the SQL sandbox, the parser
(unless a pending migration needs the transaction check), the other commands or another tool's state-table
reader. Checked in a fresh interpreter, since this test process has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.oldtools import REPO

PROBE = """
import json, sys, pathlib, tempfile
import migrator.handler, migrator.cli, migrator.runner.migrate
from migrator.runner.manifest import Manifest, sql_pair
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "7_a.up.sql").write_text("-- migrator: origin golang-migrate 7\\nCREATE TABLE a (id int);\\n")
(folder / "7_a.down.sql").write_text("")
Manifest((sql_pair(folder / "7_a"),))
print(json.dumps(sorted(sys.modules)))
"""


def test_migrate_loads_only_what_it_uses():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO / "lambda")},
    )  # fmt: skip
    loaded = set(json.loads(proc.stdout))

    assert "migrator.runner.migrate" in loaded and "psycopg" in loaded
    never = {
        "pglast",
        "migrator.sqlaction",
        "migrator.runner.transactions",
        "migrator.runner.origins",
        "migrator.runner.baseline",
        "migrator.runner.seed",
        "migrator.runner.rollback",
        "migrator.runner.listing",
        "boto3",
        "uuid",
    }
    assert loaded & never == set()
