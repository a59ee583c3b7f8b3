"""What every release command acts on: the environment (its Terraform workspace and AWS session), the
colours, and the one error type a refused or failed release step raises.

It sits below every other module of the release flow (switch, rollout, status, journal, contract, demo,
preflight), so none of them needs another to learn which environment it is in. It imports only ``tf``,
``scripts`` and the local default.

    python -m scripts.release.environment     (make env) the local default's export lines, with its
                                              terraform data directory initialised, so that plain
                                              terraform commands work after eval "$(make -s env)"
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scripts import LOCAL_DIR
from scripts.localdefault import localenv
from scripts.release import exitcodes
from scripts.release.tf import Workspace, env_problem

COLORS = ("blue", "green")
LOCAL_ENV = "local"
PLANS_DIR = LOCAL_DIR / "plans"


class ReleaseError(RuntimeError):
    """A release step was refused or failed; the message says why and what to do."""

    exit_code = exitcodes.FAILED


class BadInput(ReleaseError):
    """A make variable is wrong (COLOR=purple, STEPS=abc, ENV=prod); nothing was done."""

    exit_code = exitcodes.BAD_INPUT


class Refused(ReleaseError):
    """A safety rail said no (DANGER, a stale or mismatched plan, a COLOR the env file disagrees with);
    nothing was changed."""

    exit_code = exitcodes.REFUSED


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_color(color: str | None, command: str = "plan") -> str:
    """``color`` when it is blue or green; else BadInput naming the make ``command`` in its example, with a
    "did you mean" for a typo (as ENV and ACTION have)."""
    if color in COLORS:
        return color
    example = f"Example: make {command} COLOR=green"
    if not color:
        raise BadInput(f"COLOR is required for make {command}: blue or green. {example}")
    import difflib

    close = difflib.get_close_matches(color.strip().lower(), COLORS, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise BadInput(f"COLOR must be blue or green (got {color[:60]!r}){hint or '.'} {example}")


__all__ = [
    "COLORS",
    "LOCAL_ENV",
    "PLANS_DIR",
    "BadInput",
    "Refused",
    "ReleaseError",
    "aws_session",
    "check_color",
    "env_problem",
    "flag",
    "say",
    "var_files",
    "workspace",
]


def workspace(env: str, extra_var_files: tuple[Path, ...] = ()) -> Workspace:
    """The terraform workspace for ENV. The local default adds only environment variables: the moto
    endpoint, test credentials, and the local database's port and password."""
    extra: dict[str, str] = {}
    if env == LOCAL_ENV:
        state = localenv.up()
        extra = {**state.aws_env(), **state.terraform_env()}
    ws = Workspace(env=env, extra_env=extra, extra_var_files=extra_var_files)
    ws.check()
    return ws


def aws_session(ws: Workspace):
    """A boto3 session for ws's deployment: its endpoint and the region of its Terraform outputs."""
    import boto3

    ws.export_aws_env()
    return boto3.session.Session(
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )


def flag(name: str) -> bool:
    """A make flag (``ALLOW_DESTROY=1``), passed as ``KIT_<name>`` (see the Makefile)."""
    return os.environ.get(f"KIT_{name}", "").strip().lower() in ("1", "true", "yes")


def var_files() -> tuple[Path, ...]:
    """``VAR_FILE=a.tfvars,b.tfvars``: extra variable files for this command."""
    raw = os.environ.get("KIT_VAR_FILE", "") or os.environ.get("VAR_FILE", "")
    return tuple(Path(p).resolve() for p in raw.split(",") if p.strip())


def run_command(
    action: str,
    command: Callable[[], dict],
    errors: tuple[type[BaseException], ...] = (),
    problems: list[str] | None = None,
) -> int:
    """A release command's make target: its JSON summary is the last line of standard output, and its exit
    code says how it ended (``exitcodes``: 0 completed, 2 bad input, 3 refused or stopped by a safety rail,
    4 rolled back, 5 inconclusive, 130 interrupted, 1 failed). ``problems`` (bad make variables, found
    before anything was touched) are all reported at once and nothing runs. A ReleaseError, TerraformError,
    LocalEnvError or one of ``errors`` becomes a summary with ``ok: false``, ``outcome: stopped`` and the
    reason."""
    from scripts.release.tf import TerraformError

    started = time.monotonic()

    def failed(reason: str, code: int, outcome: str = "stopped") -> dict:
        return {
            "ok": False,
            "action": action,
            "from": None,
            "to": os.environ.get("KIT_COLOR") or None,
            "steps": [],
            "outcome": outcome,
            "reason": reason,
            "duration_s": round(time.monotonic() - started, 1),
            "exit_code": code,
        }

    if problems:
        for problem in problems:
            say(f"error: {problem}")
        say("nothing was done")
        summary = failed("; ".join(problems), exitcodes.BAD_INPUT, outcome="refused")
    else:
        try:
            summary = command()
            summary.setdefault("exit_code", exitcodes.for_summary(summary))
        except ReleaseError as exc:
            say(f"error: {exc}")
            summary = failed(
                str(exc), exc.exit_code, "refused" if exc.exit_code == exitcodes.REFUSED else "stopped"
            )
        except (TerraformError, localenv.LocalEnvError, *errors) as exc:
            say(f"error: {exc}")
            summary = failed(str(exc), exitcodes.FAILED)
    # Every summary carries its warnings (none is an empty list), as the README's example shows.
    summary.setdefault("warnings", [])
    print(json.dumps(summary), flush=True)
    if summary["exit_code"]:
        say(exitcodes.closing_line(summary["exit_code"]) or "")
    return summary["exit_code"]


def main() -> int:
    """`make env`: export lines for the local default (its endpoint, test credentials, database, and
    TF_DATA_DIR), after initialising that data directory (backend and providers; its output goes to
    stderr)."""
    from scripts.release.tf import TerraformError

    state = localenv.load_state()
    if state is None:
        say("error: the local default is not started: run `make up`")
        return 1
    try:
        Workspace(LOCAL_ENV, extra_env={**state.aws_env(), **state.terraform_env()}).init()
    except TerraformError as exc:
        say(f"terraform init of the local environment failed: {exc}")
    print(localenv.shell_exports(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
