"""Plan, apply and verify: the commands behind `make plan`, `make apply` and `make verify`.

    make plan   [COLOR=green] [ENV=local] writes COLOR into the env tfvars (when it differs), saves a plan
                                          and prints its Markdown review summary
    make apply  [COLOR=green]             applies that saved plan; without one, makes one, shows it and
                                          asks (AUTO_APPROVE=1 for automation; with no terminal and no
                                          AUTO_APPROVE it exits 2 and keeps no plan; no changes: nothing
                                          to apply, exit 0); refuses a COLOR the env tfvars disagrees with
    make verify COLOR=green               checks the colour before it takes traffic

The traffic settings live in one place, ``terraform/env/<env>.tfvars`` (see ``trafficfile``): a plan never
passes ``-var live_color``, so a plain ``terraform plan`` with the committed files gives the same answer.

The functions here are plain and documented; ``main`` maps make's variables (passed as KIT_* environment
variables, see the Makefile) onto them. Every refusal is a ``ReleaseError`` whose message says what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scripts import REPO
from scripts.localdefault import localenv
from scripts.release import evidence, exitcodes, journal, trafficfile
from scripts.release.environment import (
    LOCAL_ENV,
    PLANS_DIR,
    BadInput,
    Refused,
    ReleaseError,
    aws_session,
    check_color,
    env_problem,
    flag,
    say,
    var_files,
    workspace,
)
from scripts.release.plan_review import Review, review, to_markdown
from scripts.release.tf import ApplyProgress, TerraformError, Workspace
from scripts.release.verify import Verdict, verify

# ------------------------------------------------------------------------------------------ saved plans


@dataclass(frozen=True)
class SavedPlan:
    env: str

    @property
    def plan_file(self) -> Path:
        return PLANS_DIR / f"{self.env}.tfplan"

    @property
    def meta_file(self) -> Path:
        return PLANS_DIR / f"{self.env}.json"

    @property
    def summary_file(self) -> Path:
        return PLANS_DIR / f"{self.env}.md"

    def meta(self) -> dict | None:
        if not (self.plan_file.exists() and self.meta_file.exists()):
            return None
        return json.loads(self.meta_file.read_text())

    def discard(self) -> None:
        for path in (self.plan_file, self.meta_file, self.summary_file):
            path.unlink(missing_ok=True)


def inputs_fingerprint(ws: Workspace, color: str) -> str:
    """A hash of everything a plan depends on besides the state: configuration, modules, variables, the
    Lambda package. A saved plan whose fingerprint differs from the tree's is stale."""
    digest = hashlib.sha256(color.encode())
    files = sorted((REPO / "terraform").glob("*.tf")) + sorted((REPO / "modules").rglob("*.tf"))
    files += [REPO / "terraform" / ".terraform.lock.hcl", ws.tfvars, ws.backend_config, *ws.extra_var_files]
    files.append(REPO / "dist" / "migrator.zip")
    for path in files:
        digest.update(str(path.relative_to(REPO) if path.is_relative_to(REPO) else path).encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def select_color(env: str, color: str | None, extra_var_files: tuple[Path, ...] = ()) -> str:
    """Make the env tfvars say ``live_color = color`` (a switch also ends any canary), and say so. Without
    a COLOR, the file's colour is the answer."""
    path = trafficfile.path_for(env)
    trafficfile.refuse_overrides(extra_var_files, env)
    current = trafficfile.read(path)
    if color is None:
        return current.live_color
    check_color(color)
    if color != current.live_color:
        wanted = trafficfile.Traffic(color, 0)
        trafficfile.write(path, wanted)
        say(
            f"==> wrote {wanted.describe()} to {trafficfile.shown(path)} (was {current.describe()}): "
            "commit it with the change, so the next plan keeps it"
        )
    return color


def plan(env: str, color: str | None = None, extra_var_files: tuple[Path, ...] = ()) -> Review:
    """Save a plan of the env tfvars (after writing ``live_color = color`` into it when COLOR is given)
    and write its review (Markdown and JSON) next to it."""
    if color is not None:
        check_color(color)
    _require_package()
    ws = workspace(env, extra_var_files)
    traffic_path = trafficfile.path_for(env)
    original = traffic_path.read_bytes() if traffic_path.exists() else None
    color = select_color(env, color, extra_var_files)
    try:
        return _plan(ws, env, color, extra_var_files)
    except BaseException:
        # A failed plan proposes nothing: the file goes back to what is live.
        if original is not None and traffic_path.read_bytes() != original:
            traffic_path.write_bytes(original)
            say(f"    {trafficfile.shown(traffic_path)} put back as it was (the plan failed)")
        raise


def _plan(ws: Workspace, env: str, color: str, extra_var_files: tuple[Path, ...]) -> Review:
    saved = SavedPlan(env)
    PLANS_DIR.mkdir(parents=True, exist_ok=True)
    saved.discard()
    say(f"==> terraform plan (ENV={env}, COLOR={color})")
    started = time.monotonic()
    ws.init()
    exit_code = ws.plan(saved.plan_file, {})
    result = review(ws.show_json(saved.plan_file), env=env, color=color)
    saved.summary_file.write_text(to_markdown(result))
    saved.meta_file.write_text(
        json.dumps(
            {
                "env": env,
                "color": color,
                "created_at": time.time(),
                "has_changes": exit_code == 2,
                "fingerprint": inputs_fingerprint(ws, color),
                "extra_var_files": [str(p) for p in extra_var_files],
                "review": result.to_dict(),
            },
            indent=2,
        )
    )
    say(f"    plan saved to {trafficfile.shown(saved.plan_file)} in {time.monotonic() - started:.0f}s")
    return result


def _require_package() -> None:
    if not (REPO / "dist" / "migrator.zip").exists():
        raise ReleaseError(
            "dist/migrator.zip does not exist: run `make build` first (the migrator Lambda "
            "is deployed from it)"
        )


def _confirm(question: str) -> bool:
    return input(f"{question} Type 'yes' to apply: ").strip() == "yes"


def _no_terminal(env: str, color: str) -> BadInput:
    """Why an apply without a saved plan, AUTO_APPROVE or a terminal stops: bad input, nothing done."""
    return BadInput(
        f"not applied: there is no terminal to confirm the plan above, and AUTO_APPROVE is not set. The plan "
        f"was not kept, so no later apply uses it unseen. To apply, review it and run `make apply "
        f"COLOR={color} AUTO_APPROVE=1` (it plans again and applies at once), or `make plan COLOR={color}` "
        f"(it saves the plan), then `make apply COLOR={color}` to apply exactly that one (ENV={env})"
    )


def apply(
    env: str,
    color: str | None = None,
    *,
    allow_destroy: bool = False,
    auto_approve: bool = False,
    skip_verify: bool = False,
    extra_var_files: tuple[Path, ...] = (),
) -> dict:
    """Apply the saved plan for ``color`` (default: the env tfvars' live_color); returns the root outputs
    after the apply. A COLOR that disagrees with the env tfvars is refused: the file is what is live."""
    written = trafficfile.read(trafficfile.path_for(env)).live_color
    if color is None:
        color = written
    check_color(color)
    if color != written:
        raise Refused(
            f"COLOR={color} disagrees with {trafficfile.shown(trafficfile.path_for(env))}, which says "
            f'live_color = "{written}". To switch, run `make plan COLOR={color}` (it writes the file), '
            f"review, then `make apply COLOR={color}`; or `make release COLOR={color}`"
        )
    trafficfile.refuse_overrides(extra_var_files, env)
    saved = SavedPlan(env)
    meta = saved.meta()
    ws = workspace(env, extra_var_files)
    if meta is not None:
        if meta["color"] != color:
            raise Refused(
                f"the saved plan for ENV={env} was made for COLOR={meta['color']}, not "
                f"COLOR={color}: run `make plan COLOR={color}`, review it, then apply"
            )
        if meta["fingerprint"] != inputs_fingerprint(ws, color):
            raise Refused(
                "the saved plan is stale: the configuration, variables or Lambda package "
                f"changed after it was made. Run `make plan COLOR={color}` again"
            )
        result_dict = meta["review"]
        say(
            f"==> applying the saved plan for COLOR={color} "
            f"(made {time.time() - meta['created_at']:.0f}s ago)"
        )
    else:
        # No saved plan: make one, show it, and apply it only once it is approved. A plan that is not
        # applied here is thrown away, so that a later `make apply` never applies a plan nobody saw.
        say("==> no saved plan: making one to review")
        result = plan(env, color, extra_var_files)
        print(to_markdown(result), flush=True)
        meta = saved.meta()
        if meta is not None and not meta.get("has_changes", True):
            saved.discard()
            say(f"==> nothing to apply: the plan has no changes (ENV={env}, COLOR={color})")
            return ws.outputs()
        if not auto_approve:
            if not sys.stdin.isatty():
                saved.discard()
                raise _no_terminal(env, color)
            if not _confirm(f"Apply this plan to ENV={env}?"):
                saved.discard()
                raise BadInput("not applied: the answer was not 'yes' (the plan was not kept)")
        result_dict = result.to_dict()

    if result_dict["dangers"] and not allow_destroy:
        names = ", ".join(d["address"] for d in result_dict["dangers"])
        raise Refused(
            f"the plan has DANGER ({names}): it destroys or replaces something that holds data "
            "or serves live traffic. Review it; to apply anyway set ALLOW_DESTROY=1"
        )

    before, after = result_dict["weights_before"], result_dict["weights_after"]
    gains_traffic = after.get(color, 0) > before.get(color, 0)
    if result_dict["live_before"] is not None and gains_traffic:
        if skip_verify:
            say(f"==> SKIP_VERIFY=1: {color} takes more traffic without verification")
        else:
            verdict = verify_color(env, color, ws=ws)
            say(verdict.render())
            if not verdict.ok:
                raise Refused(
                    f"{color} failed verification, so traffic was not moved to it. Fix the "
                    "failing checks, or set SKIP_VERIFY=1 to switch anyway"
                )

    started = time.monotonic()
    say(f"==> terraform apply (ENV={env}, COLOR={color})")
    try:
        ws.init()
        plan_sha = journal.file_sha256(saved.plan_file)
        ws.apply(saved.plan_file, ApplyProgress(total=result_dict.get("operations") or None))
    finally:
        saved.discard()
    outputs = ws.outputs()
    evidence.mark_zero(outputs, before, after)
    journal.record_quietly(
        ws,
        "switch" if before != after else "apply",
        outputs=outputs,
        weights_before=before,
        weights_after=after,
        plan_sha256=plan_sha,
        outcome="applied",
        color=color,
    )
    weights = outputs.get("traffic_weights", {})
    say(
        f"    applied in {time.monotonic() - started:.0f}s: live colour {outputs.get('live_color')}, "
        f"weights {trafficfile.show_weights(weights)}"
    )
    return outputs


def verify_color(
    env: str, color: str, *, ws: Workspace | None = None, smoke_url: str | None = None
) -> Verdict:
    """Run the readiness checks for ``color`` against what is deployed in ENV."""
    check_color(color)
    ws = ws or workspace(env)
    ws.init()
    return verify(color, ws.outputs(), aws_session(ws), smoke_url=smoke_url or os.environ.get("VERIFY_URL"))


# ------------------------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    """`make plan|apply|verify`: exit codes as in ``exitcodes`` (2 bad input, 3 refused, 1 failed); a code
    that is not 0 is also the last stderr line (``exit 3: refused by a safety rail``)."""
    code = _main(argv)
    closing = exitcodes.closing_line(code)
    if closing:
        say(closing)
    return code


def _main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    if len(argv) != 1 or argv[0] not in ("plan", "apply", "verify"):
        say(
            "usage: python -m scripts.release.switch plan|apply|verify   (COLOR, ENV, ... from the "
            "environment)"
        )
        return exitcodes.BAD_INPUT
    env = os.environ.get("KIT_ENV") or LOCAL_ENV
    color = os.environ.get("KIT_COLOR") or None
    problems = [p for p in (env_problem(env),) if p]
    if color is not None or argv[0] == "verify":
        try:
            check_color(color, argv[0])
        except ReleaseError as exc:
            problems.append(str(exc))
    if problems:
        for problem in problems:
            say(f"error: {problem}")
        return exitcodes.BAD_INPUT
    try:
        if argv[0] == "plan":
            print(to_markdown(plan(env, color, var_files())), end="")
        elif argv[0] == "apply":
            apply(
                env,
                color,
                allow_destroy=flag("ALLOW_DESTROY"),
                auto_approve=flag("AUTO_APPROVE"),
                skip_verify=flag("SKIP_VERIFY"),
                extra_var_files=var_files(),
            )
        else:
            verdict = verify_color(env, check_color(color))
            print(verdict.render())
            return exitcodes.OK if verdict.ok else exitcodes.FAILED
    except ReleaseError as exc:
        say(f"error: {exc}")
        return exc.exit_code
    except (TerraformError, localenv.LocalEnvError, trafficfile.TrafficFileError) as exc:
        say(f"error: {exc}")
        return exitcodes.FAILED
    except KeyboardInterrupt:
        say("interrupted")
        return exitcodes.INTERRUPTED
    return exitcodes.OK


if __name__ == "__main__":
    sys.exit(main())
