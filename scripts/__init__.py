"""The tooling behind the Makefile, by concern: ``release/`` (the release flow), ``localdefault/`` (the
embedded local default) and ``tooling/`` (build, bench, lint, import).

This module holds only the paths every package shares, so it sits at the bottom of the import graph and
imports nothing of ours. The arrows between the packages go one way: ``release`` and ``tooling`` may use
``localdefault``, ``release`` may use ``tooling``, and ``localdefault`` uses neither; the Lambda package
(``lambda/migrator``) never imports anything from here.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Everything the local default and the release tooling write (state, plans, logs, the demo's copy of the env
# files) lives here; RELEASE_KIT_LOCAL_DIR moves it (the end-to-end tests do).
LOCAL_DIR = Path(os.environ.get("RELEASE_KIT_LOCAL_DIR", REPO / ".local")).resolve()
