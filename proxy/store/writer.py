"""The durable write path: every event is in the spool before its response ends, then in the database.

* **On the request path** (:meth:`DurableRecorder.commit`, in the event loop's
  own thread): the event is sealed into the provenance chain, turned into rows
  (the body was compressed by :meth:`~DurableRecorder.prepare` while the upstream
  worked) and written to the spool. From then on the kernel holds it, so it survives
  the proxy being killed; there is no thread hand-off and nothing to wait for. A
  response ends only after this.
* The **sync thread** makes the spool survive a power cut: one ``fdatasync``
  every ``spool_sync_interval_ms`` covers everything written meanwhile (group
  commit). With ``durability = "fsync"`` it syncs as soon as anything is
  written and :meth:`~DurableRecorder.commit` waits for that sync. It also
  rescues events the spool could not take (full or broken disk): they are
  held in memory, in order, and retried into the spool or straight into the
  database.
* The **loader process** (:mod:`proxy.store.loader`) reads what was spooled and
  inserts it into the database in batches, idempotently; it retries while the
  database is down, loads what earlier runs left on start, and deletes a spool
  segment once every record in it is committed. The recorder publishes how far
  it has written after each write (one word of shared memory); that is all the
  request path does for it. A loader that dies is started again.

So an event acknowledged by ``commit()`` survives a crash of the process and
a database outage (and, after its sync, a power cut), and lands in the
database exactly once. Sealing and spooling happen under one lock, so chain
order, spool order and load order are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from proxy.config import Settings
from proxy.events import Event
from proxy.hooks import Chainer, Receipt
from proxy.store.bounds import bound_event
from proxy.store.chain_head import spooled_chain_head
from proxy.store.db import shared_engine
from proxy.store.held import Held, settle_waiters
from proxy.store.inserts import DatabaseDown, EventInserter
from proxy.store.loader_process import LoaderProcess
from proxy.store.provisional import ended_unknown, unfinished_events
from proxy.store.rows import (
    RowPair,
    body_row,
    digest_bodies,
    encode_provisional,
    encode_record,
    event_row,
    request_parts,
)
from proxy.store.spool import Position, Spool
from proxy.store.spool_lock import SpoolLock
from proxy.store.writer_stats import WriterStats

log = structlog.get_logger("provproxy.store")

# Events held in memory when neither the spool nor the database accepts them (then dropped, loudly).
MAX_HELD_EVENTS = 100_000
# Prepared request parts kept for events not recorded yet (one per call in flight, normally).
MAX_PREPARED = 10_000
# How often an idle recorder checks that its loader process is alive.
LOADER_WATCH_INTERVAL_S = 1.0
# How long stop() lets the loader finish loading the spool (what it leaves is loaded at the next start).
LOADER_STOP_TIMEOUT_S = 60.0


class NotDurable(Exception):
    """The event could not be spooled or stored now; it is held in memory and retried."""


class DurableRecorder:
    """:class:`proxy.hooks.Recorder` backed by the spool and the database."""

    def __init__(self, settings: Settings, chainer: Chainer | None = None) -> None:
        self.settings = settings
        self.chainer = chainer
        self._counts = WriterStats()  # this process's counters; the loader keeps its own
        self._inserter: EventInserter | None = None  # for the rescue path and probes
        self._spool = Spool(Path(settings.spool_dir), settings.spool_segment_bytes)
        self._loader = LoaderProcess(settings)
        self._spool_lock = SpoolLock(Path(settings.spool_dir))
        # One writer at a time (the event loop, or the sync thread rescuing held events).
        self._write_lock = threading.Lock()
        self._held: list[Held] = []  # under _write_lock
        # Event id -> its compressed request parts, made while the upstream worked (event loop only).
        self._prepared: dict[str, tuple[bytes | None, bytes | None]] = {}
        self._in_flight: dict[str, Event] = {}  # provisional record spooled, no event yet: stop() ends them
        self._rescuing = False  # held events are out being stored: later ones must wait behind them
        self._fsync_waiters: list[tuple[Position, asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self._written = threading.Event()  # wakes the sync thread when it is idle
        self._sync_idle = False
        self._db_reachable = False  # the rescue path's own view, when the loader cannot tell
        self._running = False
        self._sync_thread: threading.Thread | None = None

    # -- Recorder protocol ---------------------------------------------------------------

    @property
    def stats(self) -> WriterStats:
        """This process's counters with the loader process's."""
        loader = self._loader
        return WriterStats(
            events_spooled=self._counts.events_spooled,
            events_written=self._counts.events_written + loader.get("events_written"),
            spool_replayed=loader.get("spool_replayed"),
            spool_syncs=self._counts.spool_syncs,
            events_rejected=self._counts.events_rejected + loader.get("events_rejected"),
            events_dropped=self._counts.events_dropped,
            load_transactions=loader.get("transactions"),
            spool_backlog_bytes=loader.backlog_bytes(),
            db_up=self._database_up(),
            spool_ok=self._counts.spool_ok,
        )

    def _database_up(self) -> bool:
        return bool(self._loader.get("db_up")) or self._db_reachable

    def can_record(self) -> bool:
        return self._running and (self._counts.spool_ok or self._database_up())

    def spooled_chain_head(self) -> tuple[int, str] | None:
        """The highest ``(seq, record_hash)`` the spool holds or held (see :mod:`proxy.store.chain_head`)."""
        return spooled_chain_head(self._spool)

    @property
    def queue_depth(self) -> int:
        """Events held in memory: neither the spool nor the database has taken them yet."""
        return len(self._held)

    def prepare(self, event: Event) -> None:
        """Compress the request body and instruction now, while the upstream works."""
        if len(self._prepared) >= MAX_PREPARED:  # calls that never got recorded: forget the oldest
            del self._prepared[next(iter(self._prepared))]
        self._prepared[event.id] = request_parts(event, self.settings.retention)

    def provisional(self, event: Event) -> None:
        """Spool a call's provisional record (:mod:`proxy.store.provisional`); none if the spool is in trouble."""
        if self._running and not (self._held or self._rescuing) and len(self._in_flight) < MAX_PREPARED:
            payload = encode_provisional(event)
            with self._write_lock, contextlib.suppress(OSError):  # the event's own record meets the trouble
                self._loader.publish(self._spool.write([payload])[1])
                self._in_flight[event.id] = event

    def submit(self, event: Event) -> None:
        """Record ``event`` without waiting for anything. The event must not be mutated after."""
        self._record(event, wait=False)

    async def commit(self, event: Event) -> Receipt | None:
        """Record ``event``; return once it is durable as ``durability`` asks (written to the
        spool, or synced too; or stored in the database when the spool cannot take it), with
        its chain position (None: stored unsealed).

        Raises :class:`NotDurable` when neither accepted it; the event is then held and retried.
        """
        waiter, receipt = self._record(event, wait=True)
        if waiter is not None:
            await waiter
        return receipt

    async def start(self) -> None:
        self._spool_lock.acquire()  # raises SpoolInUse before anything is opened or started
        engine = shared_engine(self.settings.database_url, self.settings.database_busy_timeout_ms)
        self._inserter = EventInserter(engine, Path(self.settings.spool_dir))
        unfinished: list[Event] = []
        try:
            unfinished = unfinished_events(self._spool, self._spool.open())
            self._counts.spool_ok = True
        except OSError as exc:
            log.error("spool unavailable", spool_dir=str(self.settings.spool_dir), error=str(exc))
        self._loader.start(self._spool.position)
        self._running = True
        self._sync_thread = threading.Thread(target=self._sync_loop, name="provproxy-spool-sync", daemon=True)
        self._sync_thread.start()
        # Leftovers of earlier runs load first (database up); the chain head is read now, off the call path.
        await self._loader.wait_ready()
        if self.chainer is not None:
            await asyncio.to_thread(self._seal, [])
        for event in unfinished:  # calls a crashed run forwarded and never ended
            self.submit(event)

    async def stop(self) -> None:
        """Sync the spool, and let the loader drain it into the database (if it is up)."""
        if not self._running:
            return
        for event in ended_unknown(self._in_flight.values()):  # forwarded, never ended: say so now
            self.submit(event)
        self._running = False
        self._written.set()
        assert self._sync_thread is not None
        await asyncio.to_thread(self._sync_thread.join)
        self._spool.close()
        if self._held:
            self._counts.events_dropped += len(self._held)
            log.error("events lost at shutdown: neither spool nor database available", count=len(self._held))
        await asyncio.to_thread(self._loader.stop, self._spool.position, LOADER_STOP_TIMEOUT_S)
        self._loader.close()
        self._spool_lock.release()
        if self._inserter is not None:
            self._inserter.engine.dispose()

    # -- request path (the caller's thread) -------------------------------------------------

    def _record(self, event: Event, wait: bool) -> tuple[asyncio.Future[None] | None, Receipt | None]:
        """Seal, encode and spool ``event``; return what the caller must await, if anything,
        and the event's chain position."""
        if not self._running:
            raise RuntimeError("the recorder is not running")
        self._in_flight.pop(event.id, None)
        loop = asyncio.get_running_loop() if wait else None
        with self._write_lock:
            try:
                (pair,) = self._seal([event])
                payload = encode_record(pair)
                seq, record_hash = pair[0]["seq"], pair[0]["record_hash"]
                receipt = Receipt(seq, record_hash) if seq is not None else None
            except Exception:  # unencodable: nothing can keep it; say so rather than hide it
                log.exception("event could not be encoded; dropped", id=event.id)
                self._counts.events_dropped += 1
                if wait:
                    raise NotDurable("event could not be encoded") from None
                return None, None
            if not self._held and not self._rescuing:
                try:
                    _, end = self._spool_records([(pair, payload)])
                except OSError:
                    pass  # held below, and rescued by the sync thread
                else:
                    self._wake_sync_thread()
                    if loop is None or self.settings.durability != "fsync":
                        return None, receipt
                    synced: asyncio.Future[None] = loop.create_future()
                    self._fsync_waiters.append((end, synced, loop))
                    return synced, receipt
            future = loop.create_future() if loop is not None else None
            self._held.append(Held(pair, payload, future, loop))
        self._written.set()
        return future, receipt

    def _wake_sync_thread(self) -> None:
        if self._sync_idle:  # it sleeps on its own timer while events keep coming
            self._written.set()

    def _seal(self, events: Sequence[Event]) -> list[RowPair]:
        for event in events:  # what is sealed must be what every database stores
            bound_event(event)
            digest_bodies(event)
        chain: Sequence[tuple[int, str, str] | None] = [None] * len(events)
        if self.chainer is not None:
            try:
                chain = self.chainer.seal(events)
            except Exception:  # a gap in the chain is visible; a lost event would not be
                log.exception("chainer failed; events stored unsealed", count=len(events))
        now = datetime.now(UTC)
        return [
            (event_row(event, link), body_row(event, self.settings.retention, now, self._prepared.pop(event.id, None)))
            for event, link in zip(events, chain, strict=True)
        ]

    def _spool_records(self, records: Sequence[tuple[RowPair, bytes]]) -> tuple[Position, Position]:
        """Write records to the spool and hand them to the loader (caller holds the write lock)."""
        try:
            start, end = self._spool.write([payload for _, payload in records])
        except OSError as exc:
            if self._counts.spool_ok:
                log.error("spool write failed", error=str(exc))
            self._counts.spool_ok = False
            raise
        self._counts.spool_ok = True
        self._counts.events_spooled += len(records)
        self._loader.publish(end)
        return start, end

    # -- sync thread -----------------------------------------------------------------------

    def _sync_loop(self) -> None:
        """Sync what was written, every ``spool_sync_interval_ms`` while events keep coming.

        The thread runs on its own timer, so the request path does not signal it per
        event; only after a round with nothing written does it sleep until woken (see
        ``_sync_idle``), and at least every ``LOADER_WATCH_INTERVAL_S``, to replace a loader
        process that died. In "fsync" mode it syncs as soon as anything is written."""
        gather = self.settings.spool_sync_interval_ms / 1000 if self.settings.durability == "write" else 0.0
        synced = self._spool.position
        while True:
            if gather and self._running:
                time.sleep(gather)
            stopping = not self._running
            if not stopping:
                self._loader.restart_if_dead()
            if not stopping and not self._held and self._spool.position == synced:
                if not self._counts.spool_ok:
                    self._probe_when_unavailable()
                self._sleep_until_written(synced)
                continue
            self._written.clear()
            synced = self._spool.position
            self._sync()
            self._rescue()  # syncs what it spools
            if stopping:
                return

    def _sleep_until_written(self, synced: Position) -> None:
        self._sync_idle = True  # from now on a write wakes this thread
        if self._spool.position == synced and self._running:  # nothing slipped in meanwhile
            retrying = not self._counts.spool_ok
            self._written.wait(self.settings.writer_flush_interval_s if retrying else LOADER_WATCH_INTERVAL_S)
        self._sync_idle = False
        self._written.clear()

    def _sync(self) -> None:
        try:
            synced = self._spool.sync()
        except OSError as exc:
            log.error("spool sync failed; moving to a new segment", error=str(exc))
            self._counts.spool_ok = False
            with self._write_lock:
                waiters, self._fsync_waiters = self._fsync_waiters, []
            settle_waiters([(future, loop) for _, future, loop in waiters], NotDurable(f"spool sync: {exc}"))
            return
        self._counts.spool_syncs += 1
        with self._write_lock:
            done = [w for w in self._fsync_waiters if w[0] <= synced]
            if done:
                self._fsync_waiters = [w for w in self._fsync_waiters if w[0] > synced]
        settle_waiters([(future, loop) for _, future, loop in done], None)

    def _rescue(self) -> None:
        """Put held events into the spool, or else straight into the database, in order."""
        with self._write_lock:
            if not self._held:
                return
            held, self._held = self._held, []
            try:
                self._spool_records([(h.pair, h.payload) for h in held])
                error: str | None = None
            except OSError as exc:
                error = f"spool: {exc}"
                self._rescuing = True
        if error is None:
            self._sync()
        else:  # the database may take ages to answer: never hold the lock meanwhile
            error = self._store_directly([h.pair for h in held])
            with self._write_lock:
                self._rescuing = False
                if error is not None:
                    self._hold_again(held)
        settle_waiters([(h.future, h.loop) for h in held], NotDurable(error) if error else None)
        for h in held:
            h.future = h.loop = None  # answered once; the event itself stays held if it must
        if error is not None and self._running:
            time.sleep(min(self.settings.writer_retry_interval_s, 0.5))  # do not spin on a full disk

    def _store_directly(self, pairs: list[RowPair]) -> str | None:
        """The spool is broken: make the events durable in the database from this thread."""
        assert self._inserter is not None
        try:
            result = self._inserter.insert(pairs)
        except DatabaseDown as exc:
            self._db_reachable = False
            return f"spool and database unavailable: {exc}"
        self._db_reachable = True
        self._counts.events_written += len(pairs)
        self._counts.events_rejected += result.rejected
        return None

    def _hold_again(self, held: list[Held]) -> None:
        """Put events that found no home back in front of the ones held since (caller holds the lock)."""
        merged = held + self._held
        if len(merged) > MAX_HELD_EVENTS:
            dropped = len(merged) - MAX_HELD_EVENTS
            self._counts.events_dropped += dropped
            log.error("events dropped: spool and database unavailable", count=dropped)
            merged = merged[:MAX_HELD_EVENTS]
        self._held = merged

    def _probe_when_unavailable(self) -> None:
        """While idle, find out whether the spool or the database came back (fail-closed waits on it)."""
        with self._write_lock:
            try:
                self._spool.ensure_open()
                self._counts.spool_ok = True
            except OSError:
                pass
        if not self._counts.spool_ok and not self._database_up():
            assert self._inserter is not None
            self._db_reachable = self._inserter.reachable()

    def snapshot(self) -> dict[str, Any]:
        return {**asdict(self.stats), "queue_depth": self.queue_depth}
