"""One writer at a time per state directory: the lock `apply` and `rollback` hold while they run.

Two runs at once would each read a value, each see it at `before`, and each write it: the same
plan written twice, or two conflicting plans where the last writer silently wins. The lock is
`filelock`'s (an OS lock, `flock` on Unix): the kernel releases it when its process dies, so a
SIGKILLed apply never leaves a stale lock behind. The holder writes who it is (pid, command,
since when) to a companion file, so the run that waits can say who is in its way.

The lock is as wide as the state directory: runs that share a journal exclude each other. Runs
on other machines, with other state directories, are kept apart by the drift check alone.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from cfremedy.errors import Refused, UsageError
from cfremedy.files import write_private
from cfremedy.models import utc_now_iso

LOCK_NAME = "apply.lock"
HOLDER_NAME = "apply.lock.json"  # who holds the lock; stale (harmless) after a crash
DEFAULT_WAIT = 10.0  # seconds a second run waits for the first before refusing


class Locked(Refused):
    """Another run holds the state directory's lock (exit 4)."""

    def __init__(self, message: str, *, holder: Holder | None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    since: str
    host: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} (`{self.command}`, since {self.since})"


def _read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["command"]), str(data["since"]), str(data["host"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not written yet (the holder has just taken the lock), or damaged


def this_command() -> str:
    return " ".join(["cfremedy", *sys.argv[1:]])


@contextmanager
def state_lock(state_dir: Path, wait: float = DEFAULT_WAIT, command: str | None = None) -> Iterator[Holder]:
    """Hold the state directory's write lock, waiting at most `wait` seconds for it.

    Refuses (exit 4) when another run still holds it after that, naming the holder.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UsageError(
            f"cannot create the state directory {state_dir}: {exc.strerror or exc}",
            hint="set CFREMEDY_STATE_DIR to a writable directory",
        ) from None
    lock = FileLock(state_dir / LOCK_NAME, timeout=max(wait, 0.0), mode=0o600, thread_local=False)
    holder_file = state_dir / HOLDER_NAME
    try:
        lock.acquire()
    except Timeout:
        holder = _read_holder(holder_file)
        who = holder.describe() if holder is not None else "another cfremedy run"
        raise Locked(
            f"the state directory {state_dir} is locked by {who}, which is writing to it"
            f" (waited {wait:g} s); nothing was sent",
            holder=holder,
            hint="wait for it to finish and run this again (--lock-timeout SECONDS waits longer)",
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot lock the state directory {state_dir}: {exc.strerror or exc}",
            hint="set CFREMEDY_STATE_DIR to a writable directory",
        ) from None
    me = Holder(os.getpid(), command or this_command(), utc_now_iso(), socket.gethostname())
    try:
        write_private(
            holder_file,
            json.dumps({"pid": me.pid, "command": me.command, "since": me.since, "host": me.host}) + "\n",
            "the lock's holder",
        )
        yield me
    finally:
        try:
            holder_file.unlink(missing_ok=True)
        except OSError:
            pass  # not ours to remove (a directory of that name, say): stale holders are harmless
        finally:
            lock.release()
