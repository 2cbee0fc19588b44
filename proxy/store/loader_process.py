"""The proxy's side of the loader: starting, watching and stopping the loader process,
and the few words of shared memory the two use to talk (see :mod:`proxy.store.loader`)."""

from __future__ import annotations

import asyncio
import mmap
import os
import subprocess
import sys
import time

import orjson
import structlog

from proxy.config import Settings
from proxy.store.spool import Position

log = structlog.get_logger("provproxy.store")

# The settings the loader needs: the only ones sent to it (never vendor keys).
LOADER_SETTINGS = {
    "database_url",
    "database_busy_timeout_ms",
    "spool_dir",
    "spool_segment_bytes",
    "writer_batch_size",
    "writer_load_linger_s",
    "writer_retry_interval_s",
    "loader_priority",
    "log_level",
}
# A loader that died is restarted, but not more often than this.
RESTART_PAUSE_S = 1.0
_OFFSET_BITS = 40  # a position is one 64-bit word: segment << 40 | offset (segments are far below 1 TB)


class LoaderState:
    """64-bit slots in shared memory; each slot has one writer.

    A slot is read and written as one aligned 8-byte word, which 64-bit machines
    never tear, so no lock is needed."""

    SLOTS = (
        "written",  # proxy → loader: the spool position every record before which is complete
        "ready",  # loader → proxy: 1 once the first round (leftovers of earlier runs) is done
        "db_up",
        "events_written",  # inserted (new or replayed; duplicates ignored)
        "spool_replayed",  # of those, loaded after an outage or left by an earlier run
        "events_rejected",  # refused by the database as invalid; kept in rejected.jsonl
        "transactions",
        "confirmed",  # loader → proxy: the spool position everything before which is in the database
    )

    SIZE = 8 * len(SLOTS)

    def __init__(self, fd: int) -> None:
        self._map = mmap.mmap(fd, self.SIZE)
        self._slots = memoryview(self._map).cast("q")
        self._index = {name: i for i, name in enumerate(self.SLOTS)}

    def __getitem__(self, name: str) -> int:
        return int(self._slots[self._index[name]])

    def __setitem__(self, name: str, value: int) -> None:
        self._slots[self._index[name]] = value

    def position(self, name: str) -> Position:
        word = self[name]
        return Position(word >> _OFFSET_BITS, word & ((1 << _OFFSET_BITS) - 1))

    def set_position(self, name: str, position: Position) -> None:
        self[name] = position.segment << _OFFSET_BITS | position.offset

    def close(self) -> None:
        self._slots.release()
        self._map.close()


class LoaderProcess:
    """The proxy's handle on its loader process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state: LoaderState | None = None
        self._state_fd = -1
        self._started = 0.0
        self._final: dict[str, int] = {}  # the counters, kept when the shared memory is gone
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, written: Position) -> None:
        self._state_fd = os.memfd_create("provproxy-loader-state")
        os.ftruncate(self._state_fd, LoaderState.SIZE)
        self.state = LoaderState(self._state_fd)
        self.state.set_position("written", written)
        self._spawn()

    def _spawn(self) -> None:
        """Start a loader process on the shared state (a replacement shares its predecessor's counters)."""
        assert self.state is not None
        self.state["ready"] = 0
        self._started = time.monotonic()
        config = {**self.settings.model_dump(mode="json", include=LOADER_SETTINGS), "state_fd": self._state_fd}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "proxy.store.loader"], stdin=subprocess.PIPE, pass_fds=(self._state_fd,)
        )
        assert self._process.stdin is not None
        self._process.stdin.write(orjson.dumps(config) + b"\n")
        self._process.stdin.flush()

    async def wait_ready(self) -> None:
        """Until the loader has loaded what earlier runs left (or found the database down)."""
        assert self.state is not None and self._process is not None
        while not self.state["ready"]:
            if self._process.poll() is not None:
                raise RuntimeError(f"the loader process exited with {self._process.returncode}")
            await asyncio.sleep(0.01)

    def publish(self, written: Position) -> None:
        assert self.state is not None
        self.state.set_position("written", written)

    def restart_if_dead(self) -> None:
        """A loader that died (killed, out of memory) is replaced; the spool kept its work."""
        process = self._process
        if process is None or process.poll() is None or time.monotonic() - self._started < RESTART_PAUSE_S:
            return
        log.error("loader process died; restarting it", returncode=process.returncode)
        self._started = time.monotonic()
        try:
            self._spawn()
        except OSError as exc:  # tried again after RESTART_PAUSE_S; the spool keeps the events
            log.error("loader process could not be started", error=str(exc))

    def stop(self, written: Position, timeout_s: float) -> bool:
        """Ask the loader to load everything up to ``written`` and exit; True if it did in time."""
        if self._process is None:
            return True
        self.publish(written)
        process, self._process = self._process, None
        assert process.stdin is not None
        try:
            process.stdin.write(b"stop\n")
            process.stdin.close()
        except OSError:
            pass  # already gone
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.error("loader did not finish in time; the spool keeps the rest", timeout_s=timeout_s)
            process.kill()
            process.wait()
            return False
        return process.returncode == 0

    def backlog_bytes(self) -> int:
        """About how much of the spool is not in the database yet (whole segments count as full)."""
        if self.state is None:
            return 0
        written, confirmed = self.state.position("written"), self.state.position("confirmed")
        segments = written.segment - confirmed.segment
        return max(0, segments * self.settings.spool_segment_bytes + written.offset - confirmed.offset)

    def get(self, name: str) -> int:
        return self.state[name] if self.state is not None else self._final.get(name, 0)

    def close(self) -> None:
        if self.state is not None:
            self._final = {name: self.state[name] for name in LoaderState.SLOTS}
            self.state.close()
            os.close(self._state_fd)
            self.state = None
