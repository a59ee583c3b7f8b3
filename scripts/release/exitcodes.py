"""The exit codes of every release command, one per outcome a caller may want to tell apart.

    0    ok
    1    failed: something broke (Terraform, AWS, the database, a migration); read the message
    2    bad input: a make variable is wrong; nothing was done
    3    refused by a safety rail: DANGER, a plan that changes more than traffic, the contract gate, a
         COLOR the env file disagrees with, a held lock, an incompatible migration; nothing was changed
    4    rolled back: the release returned traffic to where it started (an alarm fired, verification
         failed)
    5    inconclusive: the release paused without deciding (too little traffic to judge); `make release`
         resumes
    130  interrupted (Ctrl-C or SIGTERM): `make release` resumes, `make rollback` undoes

GNU make exits 2 whenever a recipe fails, whatever its code: the code above is in make's last line
(``make: *** [Makefile:NN: release] Error 4``), in the command's last stderr line when it is not 0
(``exit 4: rolled back``, :func:`closing_line`) and in ``FORMAT=json`` output (``exit_code``). A caller that
branches on it runs the module itself, e.g. ``.venv/bin/python -m scripts.release.rollout release``.
"""

from __future__ import annotations

OK = 0
FAILED = 1
BAD_INPUT = 2
REFUSED = 3
ROLLED_BACK = 4
INCONCLUSIVE = 5
INTERRUPTED = 130

MEANING = {
    OK: "ok",
    FAILED: "failed",
    BAD_INPUT: "bad input",
    REFUSED: "refused by a safety rail",
    ROLLED_BACK: "rolled back",
    INCONCLUSIVE: "inconclusive",
    INTERRUPTED: "interrupted",
}

# The migrator's error types (lambda/migrator/errors.py and the client's own) by outcome. Any other type is a
# failure.
_MIGRATOR_BAD_INPUT = {"InvalidEvent", "UnknownTarget", "BadInput"}
_MIGRATOR_REFUSED = {
    "UnsafeSQL",
    "ContractRefused",
    "ContractGateError",
    "ProductionSeedRefused",
    "BaselineRefused",
    "IrreversibleMigration",
    "ChecksumMismatch",
    "UnknownAppliedMigrations",
    "LockNotAcquired",
    "SchemaNotReady",
    "Incompatible",
}


def closing_line(code: int) -> str | None:
    """The last stderr line of a release command that did not end ok (``exit 3: refused by a safety rail``);
    None for 0."""
    return f"exit {code}: {MEANING.get(code, 'failed')}" if code else None


def for_migrator_error(error_type: str | None) -> int:
    """The exit code for a migrator result's ``error.type`` (None: it succeeded)."""
    if error_type is None:
        return OK
    if error_type in _MIGRATOR_BAD_INPUT:
        return BAD_INPUT
    if error_type in _MIGRATOR_REFUSED:
        return REFUSED
    return FAILED


_OUTCOMES = {
    "completed": OK,
    "rolled_back": ROLLED_BACK,
    "inconclusive": INCONCLUSIVE,
    "interrupted": INTERRUPTED,
    # a forward step stopped on a surprise (a non-traffic plan, a revert): nothing moved on
    "stopped": REFUSED,
}


def for_summary(summary: dict) -> int:
    """The exit code for a release command's JSON summary: 0 when ``ok`` (a `make rollback` that returned
    the weights is ok), else by its ``outcome``."""
    if summary.get("ok"):
        return OK
    return _OUTCOMES.get(summary.get("outcome") or "", FAILED)
