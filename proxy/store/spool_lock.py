"""One proxy per spool: a second ``provproxy serve`` on the same spool fails at once, naming the first.

The lock is an ``flock`` on ``<spool>/proxy.lock``, held by the serving process for
its whole life and released by the kernel when it dies (even by ``kill -9``), so a
stale file never blocks a restart. The file holds the owner's pid and command line,
which is what the refusal names. It is taken before the spool is opened and before
the loader process starts, so a refused start leaves nothing behind.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

LOCK_FILE = "proxy.lock"


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
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def _read_owner(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
