"""A release's state and its lock, in the state bucket, so a release belongs to the team, not to one laptop.

    release-state/<env>/release.json   the release: its steps, the index of the next one, where it started,
                                       and, once it ended, how, when and by whom (a tombstone)
    release-state/<env>/lock.json      who is running a release right now, from where, since when

Both are written with S3 conditional writes, the compare-and-swap S3 offers: the lock is created with
``If-None-Match: *`` (the second `make release` anywhere gets 412 and is told who holds it), and the state is
replaced only with ``If-Match: <the ETag it was read with>``, so a `make rollback` from another machine, or a
lock broken and taken over elsewhere, is noticed by the running release at its next write or poll, never
silently overwritten. A stale lock is broken only explicitly (`make release-unlock`, or BREAK_LOCK=1 on
`make release`), after the break is journalled.

    python -m scripts.release.releasestate unlock     (make release-unlock) break ENV's release lock
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field, fields

from botocore.exceptions import BotoCoreError, ClientError

from scripts import LOCAL_DIR
from scripts.release import environment, journal, statebucket
from scripts.release.environment import Refused, ReleaseError, say
from scripts.release.tf import Workspace
from scripts.release.trafficfile import Traffic

PREFIX = "release-state"
LEGACY_DIR = LOCAL_DIR / "releases"  # where a release's state lived before it moved to the bucket
# What S3 answers when a condition does not hold: 412 (ETag differs, or the key exists for If-None-Match),
# 404 (If-Match on a key that is gone), 409 (a concurrent conditional write won the race).
_CONFLICT_CODES = {"PreconditionFailed", "412", "NoSuchKey", "404", "ConditionalRequestConflict", "409"}


class StateError(ReleaseError):
    """The release state could not be read or written; the release stops (it never runs blind)."""


class StateConflict(StateError):
    """Someone else changed the release state since it was read (a rollback, or a broken and taken lock)."""


class LockHeld(Refused):
    """Another `make release` holds the release lock of this environment."""

    def __init__(self, message: str, holder: dict) -> None:
        super().__init__(message)
        self.holder = holder


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------ the release


@dataclass
class Rollout:
    env: str
    source: str
    target: str
    percents: list[int]
    bake_seconds: float
    steps: list[dict]
    start: dict  # the Traffic the release started from: where a rollback returns
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    index: int = 0
    applied: dict | None = None  # the Traffic last applied by this release
    started_at: float = field(default_factory=time.time)
    migrations: list[str] = field(default_factory=list)
    allow_incompatible: bool = False  # ALLOW_INCOMPATIBLE=1: the migrate step lets a check failure through
    started_by: str | None = None
    updated_at: str | None = None
    ended: dict | None = None  # {outcome, at, by, reason} once it is over

    @classmethod
    def from_dict(cls, data: dict) -> Rollout:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def start_traffic(self) -> Traffic:
        return Traffic(**self.start)


def who(session) -> dict:
    """This process, as a lock holder or an actor: identity ARN, user@host, pid, working directory."""
    return {
        "who": statebucket.caller_arn(session),
        "user": f"{getpass.getuser()}@{socket.gethostname()}",
        "pid": os.getpid(),
        "workdir": str(LOCAL_DIR),
    }


def describe_holder(holder: dict) -> str:
    since = holder.get("since", "?")
    age = ""
    try:
        seconds = time.time() - dt.datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
        age = f" ({_age(seconds)} ago)"
    except (AttributeError, ValueError):
        pass
    gone = ""
    if holder.get("user", "").endswith("@" + socket.gethostname()) and not _alive(holder.get("pid", 0)):
        gone = "; its process is no longer running on this machine"
    return (
        f"{holder.get('who', '?')} ({holder.get('user', '?')}, pid {holder.get('pid', '?')}, "
        f"{holder.get('workdir', '?')}) since {since}{age}{gone}"
    )


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------------------------------ the store


class Store:
    """ENV's release state and lock in the state bucket."""

    def __init__(self, ws: Workspace) -> None:
        try:
            self.bucket = statebucket.bucket(ws)
        except statebucket.BucketError as exc:
            raise StateError(str(exc)) from exc
        self.env = ws.env
        self.session = statebucket.session(ws)
        self.s3 = self.session.client("s3")
        self.state_key = f"{PREFIX}/{ws.env}/release.json"
        self.lock_key = f"{PREFIX}/{ws.env}/lock.json"
        self._etag: str | None = None  # of the state document as last read or written here
        self._lock_etag: str | None = None

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _get(self, key: str) -> tuple[dict | None, str | None]:
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None, None
            raise StateError(f"could not read {self._where(key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StateError(f"could not read {self._where(key)}: {exc}") from exc
        return json.loads(answer["Body"].read()), answer["ETag"]

    def _put(self, key: str, document: dict, *, etag: str | None) -> str:
        """Write ``document`` if the key still has ``etag`` (None: only if the key does not exist)."""
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            answer = self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document, indent=2, sort_keys=True).encode(),
                ContentType="application/json",
                **condition,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES:
                raise StateConflict(f"{self._where(key)} changed since it was read") from exc
            raise StateError(f"could not write {self._where(key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StateError(f"could not write {self._where(key)}: {exc}") from exc
        return answer["ETag"]

    # ------------------------------------------------------------------------------ the release state

    def read(self) -> Rollout | None:
        """The state document as it is now, ended or not (None when there never was one)."""
        document, etag = self._get(self.state_key)
        self._etag = etag
        return Rollout.from_dict(document) if document else None

    def load(self) -> Rollout | None:
        """The release in progress, or None. An unfinished release left in the old per-checkout place
        (``.local/releases/<env>.json``) moves into the bucket."""
        rollout = self.read()
        if rollout is None or rollout.ended:
            legacy = LEGACY_DIR / f"{self.env}.json"
            if legacy.exists():
                moved = Rollout.from_dict(json.loads(legacy.read_text()))
                self.save(moved)
                legacy.unlink()
                say(f"note: the unfinished release in {legacy} moved to {self._where(self.state_key)}")
                return moved
            return None
        return rollout

    def save(self, rollout: Rollout) -> None:
        """Create or replace the state, only if nobody changed it since this process last read it."""
        rollout.updated_at = _now()
        self._etag = self._put(self.state_key, asdict(rollout), etag=self._etag)

    def end(self, rollout: Rollout, outcome: str, reason: str | None, by: str) -> None:
        """Mark the release over (a tombstone: who ended it, how and when stays readable)."""
        rollout.ended = {"outcome": outcome, "at": _now(), "by": by, "reason": reason}
        self.save(rollout)

    def changed(self) -> bool:
        """Whether the state document is no longer the one this process last read or wrote."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.state_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return self._etag is not None
            raise StateError(f"could not read {self._where(self.state_key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StateError(f"could not read {self._where(self.state_key)}: {exc}") from exc
        return head["ETag"] != self._etag

    def abort(self, outcome: str, reason: str, by: str, attempts: int = 5) -> Rollout | None:
        """End the release in progress, whoever runs it, and return it (None when there is none). For
        `make rollback`: it retries a conflict, and the running release sees the tombstone at its next
        write or poll."""
        for _ in range(attempts):
            rollout = self.read()
            if rollout is None or rollout.ended:
                return None
            try:
                self.end(rollout, outcome, reason, by)
                return rollout
            except StateConflict:
                continue
        raise StateError(f"{self._where(self.state_key)} kept changing; could not mark the release ended")

    # ------------------------------------------------------------------------------ the lock

    def holder(self) -> dict | None:
        document, etag = self._get(self.lock_key)
        self._lock_etag = etag
        return document

    def lock(self, session, *, release: str | None, operation: str = "release") -> dict:
        """Take ENV's release lock, or raise LockHeld naming who holds it and since when."""
        mine = {**who(session), "env": self.env, "operation": operation, "release": release, "since": _now()}
        try:
            self._lock_etag = self._put(self.lock_key, mine, etag=None)
            return mine
        except StateConflict:
            holder = self.holder() or {}
            raise LockHeld(
                f"a release of ENV={self.env} is running: the release lock ({self._where(self.lock_key)}) is "
                f"held by {describe_holder(holder)}. Wait for it to finish, or `make rollback` to undo it. "
                "If that process is gone, `make release-unlock` breaks the lock (journalled) and "
                "`make release` resumes the release",
                holder,
            ) from None

    def unlock(self) -> str | None:
        """Give the lock back; a warning (returned) when it is no longer ours (it was broken meanwhile)."""
        if self._lock_etag is None:
            return None
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=self._lock_etag)
            return None
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES:
                return f"the release lock was broken while this release ran ({self._where(self.lock_key)})"
            return f"could not give back the release lock {self._where(self.lock_key)}: {exc}"
        except BotoCoreError as exc:
            return f"could not give back the release lock {self._where(self.lock_key)}: {exc}"
        finally:
            self._lock_etag = None

    def break_lock(self, expected: dict) -> None:
        """Delete the lock, only if it is still the one ``expected`` (read, shown and journalled)."""
        holder = self.holder()
        if holder != expected or self._lock_etag is None:
            raise StateConflict("the release lock changed while it was being broken: look again")
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=self._lock_etag)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES:
                raise StateConflict("the release lock changed while it was being broken: look again") from exc
            raise StateError(f"could not delete {self._where(self.lock_key)}: {exc}") from exc
        finally:
            self._lock_etag = None


# ------------------------------------------------------------------------------------------ unlock


def actor(session) -> str:
    """Who acts, in one line: identity ARN, user@host, working directory."""
    me = who(session)
    return f"{me['who']} ({me['user']}, {me['workdir']})"


def break_journalled(ws: Workspace, store: Store, why: str) -> dict | None:
    """Break ENV's release lock after journalling who held it (a journal that cannot be written refuses the
    break); returns the holder it broke, or None when nobody held it."""
    holder = store.holder()
    if holder is None:
        return None
    journal.record(ws, "lock", outcome="broken", holder=holder, reason=f"{why}, by {actor(store.session)}")
    store.break_lock(holder)
    say(f"==> broke the release lock held by {describe_holder(holder)} (journalled)")
    return holder


def unlock(env: str) -> dict:
    """`make release-unlock`: break a stale release lock, explicitly and on the record."""
    started = time.monotonic()
    ws = environment.workspace(env)
    holder = break_journalled(ws, Store(ws), "make release-unlock")
    reason = "no release lock was held" if holder is None else "the release lock was broken (journalled)"
    say(f"==> {reason}; `make release` resumes an unfinished release, `make rollback` undoes it")
    return {
        "ok": True,
        "action": "release-unlock",
        "from": None,
        "to": None,
        "steps": [],
        "outcome": "unlocked",
        "reason": reason,
        "holder": holder,
        "duration_s": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    if argv != ["unlock"]:
        say("usage: python -m scripts.release.releasestate unlock   (ENV from the environment)")
        return 2
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    return environment.run_command("release-unlock", lambda: unlock(env), (journal.JournalError,))


if __name__ == "__main__":
    sys.exit(main())
