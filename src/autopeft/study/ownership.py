"""One owner per search: the only process that runs trials of it and writes its ledger.

Two guards, because a search has two homes:

- **the directory**: an exclusive lock on ``DIR/.autopeft.lock`` (``flock``), held while the search runs
  and released by the operating system when the process ends, ``kill -9`` included; the file names the
  owner (process, host, start time) so that a second process is told who holds it;
- **the study** (a ledger other machines may reach: ``--storage postgresql://...``): an owner record in
  the study's user attributes with a heartbeat renewed every :data:`HEARTBEAT_SECONDS`; a second process
  finding a heartbeat younger than :data:`STALE_SECONDS` is refused, unless the owner ran on this host and
  its process is gone; an older heartbeat is taken over (its owner is gone).

A refused process gets a :class:`~autopeft.errors.UserError` (exit 2) naming the owner, before it has
written anything. Only the owner recovers trials that a dead process left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from autopeft.errors import UserError

try:  # POSIX; elsewhere only the study's owner record guards the search
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".autopeft.lock"

#: Seconds between two heartbeats of the owner record in the study.
HEARTBEAT_SECONDS = 10.0

#: A heartbeat older than this (s) means the owner is gone (several missed beats, to ride out a busy disk).
STALE_SECONDS = 60.0

_OWNER_ATTR = "autopeft_owner"


@dataclass(frozen=True)
class Owner:
    """Who runs a search: process id, host, start time (ISO 8601, UTC) and a token unique to the run."""

    pid: int
    host: str
    since: str
    token: str

    @classmethod
    def me(cls) -> Owner:
        since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(pid=os.getpid(), host=socket.gethostname(), since=since, token=uuid.uuid4().hex)

    def describe(self) -> str:
        return f"process {self.pid} on {self.host} (running since {self.since})"


class SearchOwner:
    """This process's ownership of one search (see the module docstring). Use :meth:`acquire`, then
    :meth:`claim` once the study exists, and :meth:`release` (or ``with``) at the end.

    Attributes:
        lost_to: set when another process took the study over (its heartbeat thread saw another
            owner); the search then stops before its next trial.
    """

    def __init__(self, out_dir: Path, owner: Owner, handle: IO[str] | None) -> None:
        self.out_dir = out_dir
        self.owner = owner
        self._handle = handle
        self._study: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost_to: Owner | None = None

    @classmethod
    def acquire(cls, out_dir: Path) -> SearchOwner:
        """Lock the search directory (created if missing) for this process.

        Raises:
            UserError: another live process holds it (named in the message).
        """
        owner = Owner.me()
        out_dir.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover - Windows
            return cls(out_dir, owner, None)
        handle = open(out_dir / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = _read_owner(handle.read())
            handle.close()
            who = holder.describe() if holder else "another process"
            raise UserError(
                "out",
                str(out_dir),
                f"is being searched by {who}",
                "wait for that search to finish or stop it (`autopeft show DIR` reads it meanwhile), "
                "or choose another `out`",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(owner)) + "\n")
        handle.flush()
        return cls(out_dir, owner, handle)

    def claim(self, study: Any, storage: str, study_name: str, *, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        """Record this process as the study's owner and keep its heartbeat until :meth:`release`.

        Raises:
            UserError: another process's heartbeat in the study is younger than :data:`STALE_SECONDS`.
        """
        holder, beat = _study_owner(study)
        if holder is not None and holder.token != self.owner.token and _alive(holder, beat):
            self.release()
            raise UserError(
                "study_name",
                study_name,
                f"the ledger at {storage} is being searched by {holder.describe()}, "
                f"heartbeat {time.time() - beat:.0f} s ago",
                "wait for that search to finish or stop it, or give this search its own `study_name`",
            )
        self._study = study
        self._beat()
        self._thread = threading.Thread(target=self._keep_beating, args=(heartbeat,), daemon=True)
        self._thread.start()

    def check(self) -> None:
        """Raise :class:`UserError` if another process has taken the study over."""
        if self.lost_to is not None:
            raise UserError(
                "study_name",
                self.out_dir.name,
                f"was taken over by {self.lost_to.describe()} while this search ran",
                "let that search finish; run only one search per study",
            )

    def release(self) -> None:
        """Stop the heartbeat, clear the study's owner record (if still ours) and unlock the directory."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._study is not None and self.lost_to is None:
            with contextlib.suppress(Exception):  # the storage may be gone; the heartbeat goes stale anyway
                self._study.set_user_attr(_OWNER_ATTR, "")
        self._study = None
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()  # closing releases the flock
            self._handle = None

    def __enter__(self) -> SearchOwner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _beat(self) -> None:
        record = {**asdict(self.owner), "heartbeat": time.time()}
        self._study.set_user_attr(_OWNER_ATTR, json.dumps(record))

    def _keep_beating(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                holder, _ = _study_owner(self._study)
                if holder is not None and holder.token != self.owner.token:
                    self.lost_to = holder
                    return
                self._beat()
            except Exception:
                continue


def _alive(owner: Owner, heartbeat: float) -> bool:
    """Whether ``owner`` may still be running: its heartbeat is recent and, on this host, its process
    exists (a ``kill -9`` leaves a recent heartbeat behind; the process table says it is gone)."""
    if time.time() - heartbeat >= STALE_SECONDS:
        return False
    if owner.host != socket.gethostname():
        return True
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def _read_owner(text: str) -> Owner | None:
    try:
        data = json.loads(text.strip().splitlines()[0])
        return Owner(**{k: data[k] for k in ("pid", "host", "since", "token")})
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _study_owner(study: Any) -> tuple[Owner | None, float]:
    """The owner recorded in ``study`` (read from its storage) and its last heartbeat (epoch seconds);
    (None, 0) when none."""
    raw = study.user_attrs.get(_OWNER_ATTR) or ""
    owner = _read_owner(raw)
    if owner is None:
        return None, 0.0
    return owner, float(json.loads(raw).get("heartbeat", 0.0))
