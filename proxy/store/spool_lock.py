"""One proxy per spool: a second ``provproxy serve`` on the same spool fails at once, naming the first.

The lock is an ``flock`` on ``<spool>/proxy.lock``, held by the serving process for
its whole life and released by the kernel when it dies (even by ``kill -9``), so a
stale file never blocks a restart. The file holds the owner's pid and command line,
which is what the refusal names. ``provproxy serve`` takes it before uvicorn starts (so
the refusal is one line, not a startup traceback) and the writer takes it again before
the spool is opened: within one process the lock is re-entrant, counted per path.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

LOCK_FILE = "proxy.lock"
# Locks this process holds: path -> [descriptor, holders]. flock is per open file, so a
# second open() in the same process would be refused by the first.
_HELD: dict[Path, list[int]] = {}


class SpoolInUse(RuntimeError):
    """Another process serves from this spool directory."""


class SpoolLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`SpoolInUse` at once (never waits).

        A spool directory that cannot be created has nothing to share: the recorder
        reports the spool unavailable and stores directly, so that is no reason to refuse."""
        if self._fd is not None:
            return
        held = _HELD.get(self.path)
        if held is not None:
            held[1] += 1
            self._fd = held[0]
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(fd)
            os.close(fd)
            raise SpoolInUse(
                f"another provproxy process ({owner}) is serving from the spool {self.path.parent}; "
                "stop it first, or give this one its own PROVPROXY_SPOOL_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)}\n".encode(), 0)
        _HELD[self.path] = [fd, 1]
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        self._fd = None
        held = _HELD[self.path]
        held[1] -= 1
        if held[1] == 0:
            del _HELD[self.path]
            os.close(held[0])  # closing the descriptor releases the flock


def _read_owner(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
