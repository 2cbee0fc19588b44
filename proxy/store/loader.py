"""The loader: a separate process that moves spooled events into the database.

The spool is the queue. The recorder (in the proxy process) writes each event to
it and publishes how far it has written; the loader reads the new records, inserts
them in batches, and deletes the segments the database has confirmed. It runs in
its own process so that its work, SQLAlchemy and the database driver, never holds
the proxy's GIL (as a thread it delayed calls in flight by about 0.1 ms on
average, and by milliseconds during each batch), and at idle priority by default,
so that a batch never holds a core that a call, its client or its upstream wakes
up on (at normal priority that was a 5 ms p99 on two cores).

The two processes share a few words of memory (:class:`LoaderState`, a memfd:
the written position one way, counters the other) and a pipe: the loader's
stdin. ``stop`` on it means "load everything written, then exit"; end of file
without it means the proxy died, and the loader exits at once (the spool keeps
everything for the next start). A lock on the spool directory makes a loader
left over from a killed proxy finish before the next one starts.

While the database is down the loader retries every ``writer_retry_interval_s``
from the last confirmed position; on start it first loads whatever an earlier run,
even one killed with ``kill -9``, left behind.

    python -m proxy.store.loader   (started by the recorder, never by hand)
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import structlog

from proxy.config import Settings
from proxy.logs import configure_logging
from proxy.store.chain_head import remember_chain_head
from proxy.store.db import display_url, file_identity, shared_engine
from proxy.store.inserts import DatabaseDown, EventInserter
from proxy.store.loader_process import LoaderState
from proxy.store.rows import RowPair, decode_spooled
from proxy.store.spool import Position, Spool

log = structlog.get_logger("provproxy.store")

LOW_PRIORITY_NICE = 10


class Loader:
    """The loader process's work: load what the proxy wrote, delete what is confirmed."""

    def __init__(self, settings: Settings, state: LoaderState) -> None:
        self.settings = settings
        self.state = state
        self.spool = Spool(Path(settings.spool_dir), settings.spool_segment_bytes)  # read and delete only
        self.inserter = EventInserter(
            shared_engine(settings.database_url, settings.database_busy_timeout_ms), self.spool.directory
        )
        self.wake = threading.Event()
        self.stop_requested = False
        self.proxy_gone = False
        self.confirmed = Position(0, 0)
        self.database_down = False
        self.recovering = False  # loading what an outage or an earlier run left: counted as replayed
        self._lowest_segment = 0  # no segment below this one is left
        # The database file this loader writes into (SQLite): rows confirmed into a file that
        # was deleted or replaced since are not in the live database.
        self._identity = file_identity(settings.database_url)
        # Calls forwarded and not ended yet: their provisional record's segment, kept until then.
        self.in_flight: dict[str, int] = {}

    def listen(self) -> None:
        """Read the proxy's commands from stdin (a thread): ``stop``, or end of file when it died."""
        for line in sys.stdin.buffer:
            if line.strip() == b"stop":
                self.stop_requested = True
                self.wake.set()
        if not self.stop_requested:
            self.proxy_gone = True
        self.wake.set()

    def run_exclusively(self) -> None:
        """:meth:`run`, once no other loader works on this spool (one of a killed proxy finishes first)."""
        while not (self.proxy_gone or self.stop_requested):
            try:
                directory = os.open(self.spool.directory, os.O_RDONLY | os.O_DIRECTORY)
                break
            except OSError as exc:  # the recorder stores events directly meanwhile
                log.error("spool directory unavailable to the loader", error=str(exc))
                self.state["ready"] = 1
                self.wake.wait(self.settings.writer_retry_interval_s)
        else:
            return
        try:
            fcntl.flock(directory, fcntl.LOCK_EX)
            self.run()
        finally:
            os.close(directory)

    def run(self) -> None:
        leftovers = self.spool.segments()
        written = self.state.position("written")
        self.confirmed = Position(leftovers[0], 0) if leftovers else written
        self._lowest_segment = self.confirmed.segment
        self.state.set_position("confirmed", self.confirmed)
        self.recovering = bool(leftovers) and leftovers[0] < written.segment
        first_round = True
        while not self.proxy_gone:
            stopping = self.stop_requested
            target = self.state.position("written")
            caught_up = self._load_up_to(target)
            if first_round:
                self.state["ready"] = 1
                first_round = False
            self._remove_confirmed_segments(target, final=stopping and caught_up)
            if stopping:
                return
            pause = self.settings.writer_load_linger_s if caught_up else self.settings.writer_retry_interval_s
            self.wake.wait(pause)
            self.wake.clear()

    def _load_up_to(self, target: Position) -> bool:
        """Insert every record from the confirmed position up to ``target``; False if the database is down."""
        if not self._same_database():
            self.state["db_up"] = 0
            return False
        if self.confirmed >= target:
            if not self.state["db_up"]:  # nothing to load: find out whether there would be a database
                self.state["db_up"] = int(self.inserter.reachable())
            return True
        try:
            for segment in self.spool.segments():
                if segment < self.confirmed.segment or segment > target.segment:
                    continue
                start = self.confirmed.offset if segment == self.confirmed.segment else 0
                end = target.offset if segment == target.segment else None
                chunk: list[RowPair] = []
                offset = start
                for payload, offset in self.spool.read(segment, start, end):
                    record = decode_spooled(payload)
                    if isinstance(record, dict):  # provisional: never inserted (the event completes it)
                        self.in_flight.setdefault(record["id"], segment)
                        continue
                    self.in_flight.pop(record[0]["id"], None)
                    chunk.append(record)
                    if len(chunk) >= self.settings.writer_batch_size:
                        self._insert(chunk, Position(segment, offset))
                        chunk = []
                self._insert(chunk, Position(segment, offset))
        except DatabaseDown as exc:
            if not self.database_down:
                log.warning("database unavailable; events wait in the spool", error=str(exc))
            self.database_down = self.recovering = True
            self.state["db_up"] = 0
            return False
        except OSError as exc:
            log.error("spool read failed", error=str(exc))
            return False
        if self.database_down:
            log.info("database available again; spool loaded", confirmed=tuple(target))
        self.database_down = False
        self.state["db_up"] = 1
        self.confirmed = max(self.confirmed, target)
        self.state.set_position("confirmed", self.confirmed)
        self.recovering = False
        return True

    def _insert(self, chunk: list[RowPair], end: Position) -> None:
        if chunk:
            result = self.inserter.insert(chunk)
            self.state["events_written"] += len(chunk)
            self.state["events_rejected"] += result.rejected
            self.state["transactions"] += result.transactions
            if self.recovering:
                self.state["spool_replayed"] += len(chunk)
        self.confirmed = max(self.confirmed, end)

    def _remove_confirmed_segments(self, target: Position, final: bool) -> None:
        """Delete segments wholly in the database; never the one the proxy writes into, until it stopped."""
        last = self.confirmed.segment if final else min(self.confirmed.segment, target.segment) - 1
        if self.in_flight:  # a provisional record stays until its call ends (or a restart ends it)
            last = min(last, min(self.in_flight.values()) - 1)
        if last < self._lowest_segment:
            return  # nothing new confirmed: spare the directory listing
        doomed = [s for s in self.spool.segments() if s <= last]
        if doomed and (not self.inserter.synced() or not self._same_database()):
            return
        try:
            remember_chain_head(self.spool, doomed)
        except OSError as exc:  # keep the segments: they still tell the chain head
            log.error("chain head not saved; spool segments kept", error=str(exc))
            return
        for segment in doomed:
            self.spool.remove(segment)
        self._lowest_segment = last + 1

    def _same_database(self) -> bool:
        """False (once, loudly) when the database file was deleted or replaced since it was opened:
        what was loaded into it since the spool's oldest segment is loaded again, into the live one."""
        current = file_identity(self.settings.database_url)
        if self._identity is None or current == self._identity:
            self._identity = current
            return True
        log.error(
            "the database file was deleted or replaced while in use; the spool is kept and loaded again",
            database=display_url(self.settings.database_url),
        )
        self._identity = None
        self.inserter.engine.dispose()  # pooled connections still point at the old file
        segments = self.spool.segments()
        if segments:
            self.confirmed = Position(segments[0], 0)
            self.state.set_position("confirmed", self.confirmed)
        self.database_down = self.recovering = True
        return False


def lower_priority(priority: str) -> None:
    if priority == "idle" and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    elif priority != "normal":  # "low", or "idle" where there is no SCHED_IDLE
        os.nice(LOW_PRIORITY_NICE)


def main() -> None:
    # Ctrl-C or a service manager's SIGTERM reach the whole group: the proxy stops the loader in
    # order (it drains the spool first); a proxy that dies closes this stdin, and the loader exits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    config: dict[str, Any] = orjson.loads(sys.stdin.buffer.readline())
    state = LoaderState(config.pop("state_fd"))
    settings = Settings(_env_file=None, **config)  # type: ignore[call-arg]
    configure_logging(settings.log_level)
    lower_priority(settings.loader_priority)
    loader = Loader(settings, state)
    threading.Thread(target=loader.listen, name="provproxy-loader-commands", daemon=True).start()
    try:
        loader.run_exclusively()
    finally:
        loader.inserter.engine.dispose()
        state.close()


if __name__ == "__main__":
    main()
