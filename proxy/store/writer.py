"""The durable write path: every event is in the spool before its response ends, then in the database.

* **On the request path** (:meth:`DurableRecorder.commit`, in the event loop's
  own thread): the event is sealed into the provenance chain, turned into rows
  (bodies compressed) and written to the spool, about 50 µs for a 55 KB agent
  request. From then on the kernel holds it, so it survives the proxy being
  killed; there is no thread hand-off and nothing to wait for. A response
  ends only after this.
* The **sync thread** makes the spool survive a power cut: one ``fdatasync``
  every ``spool_sync_interval_ms`` covers everything written meanwhile (group
  commit). With ``durability = "fsync"`` it syncs as soon as anything is
  written and :meth:`~DurableRecorder.commit` waits for that sync. It also
  rescues events the spool could not take (full or broken disk): they are
  held in memory, in order, and retried into the spool or straight into the
  database.
* The **loader thread** inserts spooled records into the database,
  idempotently (``ON CONFLICT DO NOTHING`` on the primary key), lingering up to
  ``writer_load_linger_s`` to gather many into one transaction (the spool
  already keeps them, so only their visibility waits). While the database is
  down it stops inserting and, every ``writer_retry_interval_s``, replays the
  spool from the last confirmed position; on start it first replays whatever
  an earlier run (even one killed with ``kill -9``) left behind. A spool
  segment is deleted only once every record in it is committed to the
  database.

So an event acknowledged by ``commit()`` survives a crash of the process and
a database outage (and, after its sync, a power cut), and lands in the
database exactly once. Sealing and spooling happen under one lock, so chain
order, spool order and load order are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, Insert, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from proxy.config import Settings
from proxy.events import Event
from proxy.hooks import Chainer
from proxy.store.db import create_db_engine
from proxy.store.models import EventBodyRow, EventRow
from proxy.store.rows import (
    RowPair,
    body_row,
    decode_chain_link,
    decode_record,
    encode_record,
    event_row,
    record_json,
    request_parts,
    split,
)
from proxy.store.spool import Position, Spool

log = structlog.get_logger("provproxy.store")

# Events held in memory when neither the spool nor the database accepts them (then dropped, loudly).
MAX_HELD_EVENTS = 100_000
REJECTED_FILE = "rejected.jsonl"
# Prepared request parts kept for events not recorded yet (one per call in flight, normally).
MAX_PREPARED = 10_000
# The chain head of deleted spool segments (the chain must never restart below it).
CHAIN_HEAD_FILE = "chain-head"


class NotDurable(Exception):
    """The event could not be spooled or stored now; it is held in memory and retried."""


@dataclass
class WriterStats:
    """Counters for ``/metrics``. Each is written by one thread at a time."""

    events_spooled: int = 0  # written to the spool (every event, normally)
    events_written: int = 0  # inserted into the database (new or replayed; duplicates ignored)
    spool_replayed: int = 0  # of those, read back from the spool after an outage or a restart
    spool_syncs: int = 0  # fdatasyncs of the spool (each covers every event written before it)
    events_rejected: int = 0  # refused by the database as invalid; kept in rejected.jsonl
    events_dropped: int = 0  # lost: the spool and the database both failed for too long
    db_up: bool = False
    spool_ok: bool = False


@dataclass(slots=True)
class _Batch:
    number: int
    pairs: list[RowPair]
    start: Position
    end: Position


@dataclass(slots=True)
class _Held:
    """A sealed event neither the spool nor the database has taken yet, and who waits for it."""

    pair: RowPair
    payload: bytes
    future: asyncio.Future[None] | None
    loop: asyncio.AbstractEventLoop | None


class _DatabaseDown(Exception):
    pass


_Waiter = tuple["asyncio.Future[None] | None", "asyncio.AbstractEventLoop | None"]
_STOP = object()


class DurableRecorder:
    """:class:`proxy.hooks.Recorder` backed by the spool and the database."""

    def __init__(self, settings: Settings, chainer: Chainer | None = None) -> None:
        self.settings = settings
        self.chainer = chainer
        self.stats = WriterStats()
        self._engine: Engine | None = None
        self._spool = Spool(Path(settings.spool_dir), settings.spool_segment_bytes)
        # One writer at a time (the event loop, or the sync thread rescuing held events).
        self._write_lock = threading.Lock()
        self._held: list[_Held] = []  # under _write_lock
        # Event id -> its compressed request parts, made while the upstream worked (event loop only).
        self._prepared: dict[str, tuple[bytes | None, bytes | None]] = {}
        self._rescuing = False  # held events are out being stored: later ones must wait behind them
        self._fsync_waiters: list[tuple[Position, asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self._written = threading.Event()  # wakes the sync thread when it is idle
        self._sync_idle = False
        self._handoff: queue.SimpleQueue[_Batch | object] = queue.SimpleQueue()
        self._batch_number = 0
        self._lowest_segment = 0  # no spool segment below this one is left (loader thread)
        self._running = False
        self._threads: list[threading.Thread] = []
        self._first_replay_done = threading.Event()
        # loader state (loader thread only)
        self._confirmed = Position(0, 0)  # everything before this is in the database
        self._durable = Position(0, 0)  # end of the latest batch handed over
        self._durable_number = 0
        self._next_number = 1
        self._backlog = False
        self._last_attempt = 0.0

    # -- Recorder protocol ---------------------------------------------------------------

    def can_record(self) -> bool:
        return self._running and (self.stats.spool_ok or self.stats.db_up)

    def spooled_chain_head(self) -> tuple[int, str] | None:
        """The highest ``(seq, record_hash)`` the spool holds, if any.

        Spooled records may not be in the database yet (it was down, or the
        process died first); the chain must continue after them, not after the
        database's head, or sequence numbers would be handed out twice. The
        records of deleted segments are covered by the head remembered when they
        were deleted, so this is right even when the database is unreachable."""
        heads = [self._chain_head_in(self._spool.segments()), self._remembered_chain_head()]
        known = [head for head in heads if head is not None]
        return max(known) if known else None

    def _chain_head_in(self, segments: Sequence[int]) -> tuple[int, str] | None:
        head: tuple[int, str] | None = None
        for segment in segments:
            try:
                for payload, _ in self._spool.read(segment):
                    seq, digest = decode_chain_link(payload)
                    if seq is not None and digest is not None and (head is None or seq > head[0]):
                        head = (seq, digest)
            except OSError:
                continue
        return head

    def _remembered_chain_head(self) -> tuple[int, str] | None:
        try:
            seq, digest = (Path(self.settings.spool_dir) / CHAIN_HEAD_FILE).read_text().split()
            return int(seq), digest
        except (OSError, ValueError):
            return None

    def _remember_chain_head(self, segments: Sequence[int]) -> None:
        """Before segments are deleted, keep their highest chain link (fsync'd): rare, once a segment."""
        head = self._chain_head_in(segments)
        remembered = self._remembered_chain_head()
        if head is None or (remembered is not None and remembered[0] >= head[0]):
            return
        path = Path(self.settings.spool_dir) / CHAIN_HEAD_FILE
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(f"{head[0]} {head[1]}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @property
    def queue_depth(self) -> int:
        """Events held in memory: neither the spool nor the database has taken them yet."""
        return len(self._held)

    def prepare(self, event: Event) -> None:
        """Compress the request body and instruction now, while the upstream works."""
        if len(self._prepared) >= MAX_PREPARED:  # calls that never got recorded: forget the oldest
            del self._prepared[next(iter(self._prepared))]
        self._prepared[event.id] = request_parts(event, self.settings.retention)

    def submit(self, event: Event) -> None:
        """Record ``event`` without waiting for anything. The event must not be mutated after."""
        self._record(event, wait=False)

    async def commit(self, event: Event) -> None:
        """Record ``event``; return once it is durable as ``durability`` asks (written to the
        spool, or synced too; or stored in the database when the spool cannot take it).

        Raises :class:`NotDurable` when neither accepted it; the event is then held and retried.
        """
        waiter = self._record(event, wait=True)
        if waiter is not None:
            await waiter

    async def start(self) -> None:
        self._engine = create_db_engine(self.settings.database_url, self.settings.database_busy_timeout_ms)
        try:
            leftovers = self._spool.open()
            self.stats.spool_ok = True
        except OSError as exc:
            leftovers = []
            log.error("spool unavailable", spool_dir=str(self.settings.spool_dir), error=str(exc))
        self._confirmed = Position(leftovers[0], 0) if leftovers else self._spool.position
        self._lowest_segment = self._confirmed.segment
        self._durable = self._spool.position
        self._backlog = bool(leftovers)
        self.stats.db_up = self._probe_database()
        self._running = True
        self._threads = [
            threading.Thread(target=self._sync_loop, name="provproxy-spool-sync", daemon=True),
            threading.Thread(target=self._loader_loop, name="provproxy-loader", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        # Leftovers from an earlier run go into the database before anything new (if it is up),
        # and the chain head is read now rather than on the first call's path.
        await asyncio.to_thread(self._first_replay_done.wait)
        if self.chainer is not None:
            await asyncio.to_thread(self._seal, [])

    async def stop(self) -> None:
        """Sync the spool, and drain it into the database (if it is up)."""
        if not self._running:
            return
        self._running = False
        self._written.set()
        sync_thread, loader_thread = self._threads
        await asyncio.to_thread(sync_thread.join)
        self._handoff.put(_STOP)
        await asyncio.to_thread(loader_thread.join)
        self._spool.close()
        if self._held:
            self.stats.events_dropped += len(self._held)
            log.error("events lost at shutdown: neither spool nor database available", count=len(self._held))
        if not self._backlog:  # everything spooled is in the database
            self._remove_confirmed_segments(including=self._spool.position.segment)
        if self._engine is not None:
            self._engine.dispose()

    # -- request path (the caller's thread) -------------------------------------------------

    def _record(self, event: Event, wait: bool) -> asyncio.Future[None] | None:
        """Seal, encode and spool ``event``; return what the caller must await, if anything."""
        if not self._running:
            raise RuntimeError("the recorder is not running")
        loop = asyncio.get_running_loop() if wait else None
        with self._write_lock:
            try:
                (pair,) = self._seal([event])
                payload = encode_record(pair)
            except Exception:  # unencodable: nothing can keep it; say so rather than hide it
                log.exception("event could not be encoded; dropped", id=event.id)
                self.stats.events_dropped += 1
                if wait:
                    raise NotDurable("event could not be encoded") from None
                return None
            if not self._held and not self._rescuing:
                try:
                    _, end = self._spool_records([(pair, payload)])
                except OSError:
                    pass  # held below, and rescued by the sync thread
                else:
                    self._wake_sync_thread()
                    if loop is None or self.settings.durability != "fsync":
                        return None
                    synced: asyncio.Future[None] = loop.create_future()
                    self._fsync_waiters.append((end, synced, loop))
                    return synced
            future = loop.create_future() if loop is not None else None
            self._held.append(_Held(pair, payload, future, loop))
        self._written.set()
        return future

    def _wake_sync_thread(self) -> None:
        if self._sync_idle:  # it sleeps on its own timer while events keep coming
            self._written.set()

    def _seal(self, events: Sequence[Event]) -> list[RowPair]:
        chain: Sequence[tuple[int, str, str] | None] = [None] * len(events)
        if self.chainer is not None:
            try:
                chain = self.chainer.seal(events)
            except Exception:  # a gap in the chain is visible; a lost event would not be
                log.exception("chainer failed; events stored unsealed", count=len(events))
        for event, link in zip(events, chain, strict=True):
            if link is not None:  # the request path announces it at the end of the stream
                event.seq, event.record_hash = link[0], link[1]
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
            if self.stats.spool_ok:
                log.error("spool write failed", error=str(exc))
            self.stats.spool_ok = False
            raise
        self.stats.spool_ok = True
        self.stats.events_spooled += len(records)
        self._batch_number += 1
        self._handoff.put(_Batch(self._batch_number, [pair for pair, _ in records], start, end))
        return start, end

    # -- sync thread -----------------------------------------------------------------------

    def _sync_loop(self) -> None:
        """Sync what was written, every ``spool_sync_interval_ms`` while events keep coming.

        The thread runs on its own timer, so the request path does not signal it per
        event; only after a round with nothing written does it sleep until woken (see
        ``_sync_idle``). In "fsync" mode it syncs as soon as anything is written."""
        gather = self.settings.spool_sync_interval_ms / 1000 if self.settings.durability == "write" else 0.0
        synced = self._spool.position
        while True:
            if gather and self._running:
                time.sleep(gather)
            stopping = not self._running
            if not stopping and not self._held and self._spool.position == synced:
                if not self.stats.spool_ok:
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
            retrying = not self.stats.spool_ok
            self._written.wait(timeout=self.settings.writer_flush_interval_s if retrying else None)
        self._sync_idle = False
        self._written.clear()

    def _sync(self) -> None:
        try:
            synced = self._spool.sync()
        except OSError as exc:
            log.error("spool sync failed; moving to a new segment", error=str(exc))
            self.stats.spool_ok = False
            with self._write_lock:
                waiters, self._fsync_waiters = self._fsync_waiters, []
            _settle([(future, loop) for _, future, loop in waiters], NotDurable(f"spool sync: {exc}"))
            return
        self.stats.spool_syncs += 1
        with self._write_lock:
            done = [w for w in self._fsync_waiters if w[0] <= synced]
            if done:
                self._fsync_waiters = [w for w in self._fsync_waiters if w[0] > synced]
        _settle([(future, loop) for _, future, loop in done], None)

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
        _settle([(h.future, h.loop) for h in held], NotDurable(error) if error else None)
        for h in held:
            h.future = h.loop = None  # answered once; the event itself stays held if it must
        if error is not None and self._running:
            time.sleep(min(self.settings.writer_retry_interval_s, 0.5))  # do not spin on a full disk

    def _store_directly(self, pairs: list[RowPair]) -> str | None:
        """The spool is broken: make the events durable in the database from this thread."""
        try:
            self._insert(pairs)
        except _DatabaseDown as exc:
            return f"spool and database unavailable: {exc}"
        self.stats.events_written += len(pairs)
        return None

    def _hold_again(self, held: list[_Held]) -> None:
        """Put events that found no home back in front of the ones held since (caller holds the lock)."""
        merged = held + self._held
        if len(merged) > MAX_HELD_EVENTS:
            dropped = len(merged) - MAX_HELD_EVENTS
            self.stats.events_dropped += dropped
            log.error("events dropped: spool and database unavailable", count=dropped)
            merged = merged[:MAX_HELD_EVENTS]
        self._held = merged

    def _probe_when_unavailable(self) -> None:
        """While idle, find out whether the spool or the database came back (fail-closed waits on it)."""
        with self._write_lock:
            try:
                self._spool.ensure_open()
                self.stats.spool_ok = True
            except OSError:
                pass
        if not self.stats.spool_ok and not self.stats.db_up:
            self.stats.db_up = self._probe_database()

    # -- loader thread -------------------------------------------------------------------

    def _loader_loop(self) -> None:
        stopping = False
        self._replay_if_due(force=True)
        self._first_replay_done.set()
        while not stopping:
            batches, stopping = self._take_batches()
            try:
                if not self._backlog:
                    self._load(batches)
                self._replay_if_due(force=stopping)
                self._remove_confirmed_segments()
            except Exception:
                log.exception("loader thread error")
                self._backlog = True

    def _take_batches(self) -> tuple[list[_Batch], bool]:
        """Handed-over batches, up to ``writer_batch_size`` rows.

        After the first, linger up to ``writer_load_linger_s`` unless a full batch is
        already waiting: at low rates each spool batch is one event, and one
        transaction per event costs far more than the insert itself."""
        batches: list[_Batch] = []
        rows = 0
        limit = self.settings.writer_batch_size
        try:
            item = self._handoff.get(timeout=self.settings.writer_retry_interval_s)
        except queue.Empty:
            return batches, False
        lingered = False
        while True:
            if item is _STOP:
                return batches, True
            assert isinstance(item, _Batch)
            batches.append(item)
            rows += len(item.pairs)
            self._durable, self._durable_number = item.end, item.number
            if rows >= limit:
                return batches, False
            try:
                item = self._handoff.get_nowait()
            except queue.Empty:
                if lingered or self._backlog:
                    return batches, False
                lingered = True
                time.sleep(self.settings.writer_load_linger_s)
                try:
                    item = self._handoff.get_nowait()
                except queue.Empty:
                    return batches, False

    def _load(self, batches: list[_Batch]) -> None:
        """The fast path: insert batches straight from memory, in spool order."""
        fresh = [b for b in batches if b.number >= self._next_number]
        if not fresh:
            return
        if fresh[0].number != self._next_number:
            self._backlog = True  # a batch went missing from memory: the spool has it
            return
        pairs = [pair for batch in fresh for pair in batch.pairs]
        try:
            self._insert(pairs)
        except _DatabaseDown:
            self._backlog = True
            return
        self.stats.events_written += len(pairs)
        self._confirmed, self._next_number = fresh[-1].end, fresh[-1].number + 1

    def _replay_if_due(self, force: bool = False) -> None:
        if not self._backlog:
            return
        now = time.monotonic()
        if not force and now - self._last_attempt < self.settings.writer_retry_interval_s:
            return
        self._last_attempt = now
        try:
            self._replay()
        except _DatabaseDown:
            return
        except OSError as exc:
            log.error("spool replay failed", error=str(exc))
            return
        self._backlog = False
        self._next_number = self._durable_number + 1
        log.info("spool replayed into the database", confirmed=tuple(self._confirmed))

    def _replay(self) -> None:
        """Insert every spooled record from the confirmed position up to the durable end."""
        limit = self.settings.writer_batch_size
        for segment in self._spool.segments():
            if segment < self._confirmed.segment or segment > self._durable.segment:
                continue
            start = self._confirmed.offset if segment == self._confirmed.segment else 0
            end = self._durable.offset if segment == self._durable.segment else None
            chunk: list[RowPair] = []
            offset = start
            for payload, offset in self._spool.read(segment, start, end):
                chunk.append(decode_record(payload))
                if len(chunk) >= limit:
                    self._replay_chunk(chunk, Position(segment, offset))
                    chunk = []
            self._replay_chunk(chunk, Position(segment, offset))
        self._confirmed = max(self._confirmed, self._durable)

    def _replay_chunk(self, chunk: list[RowPair], end: Position) -> None:
        if chunk:
            self._insert(chunk)
            self.stats.events_written += len(chunk)
            self.stats.spool_replayed += len(chunk)
        self._confirmed = max(self._confirmed, end)

    def _remove_confirmed_segments(self, including: int | None = None) -> None:
        last = self._confirmed.segment - 1 if including is None else including
        if last < self._lowest_segment:
            return  # nothing new confirmed: spare the directory listing
        doomed = [s for s in self._spool.segments() if s <= last]
        if doomed and not self._database_synced():
            return
        try:
            self._remember_chain_head(doomed)
        except OSError as exc:  # keep the segments: they still tell the chain head
            log.error("chain head not saved; spool segments kept", error=str(exc))
            return
        for segment in doomed:
            self._spool.remove(segment)
        self._lowest_segment = last + 1

    # -- database ------------------------------------------------------------------------

    def _insert(self, pairs: Sequence[RowPair]) -> None:
        """Insert idempotently in one transaction; isolate rows the database refuses as invalid."""
        assert self._engine is not None
        try:
            with self._engine.begin() as conn:
                _insert_pairs(conn, pairs)
        except SQLAlchemyError as exc:
            if not _is_invalid_data(exc):
                self._database_lost(exc)
                raise _DatabaseDown(str(exc)) from exc
            self._insert_one_by_one(pairs)
        self.stats.db_up = True

    def _insert_one_by_one(self, pairs: Sequence[RowPair]) -> None:
        assert self._engine is not None
        for pair in pairs:
            try:
                with self._engine.begin() as conn:
                    _insert_pairs(conn, [pair])
            except SQLAlchemyError as exc:
                if not _is_invalid_data(exc):
                    self._database_lost(exc)
                    raise _DatabaseDown(str(exc)) from exc
                self._reject(pair, exc)

    def _reject(self, pair: RowPair, exc: Exception) -> None:
        """Keep a record the database will never take where an operator can find it (one JSON a line)."""
        fd = os.open(self._spool.directory / REJECTED_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, record_json(pair) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        self.stats.events_rejected += 1
        log.error("event refused by the database; kept in the rejected spool", error=str(exc).splitlines()[0])

    def _database_lost(self, exc: Exception) -> None:
        if self.stats.db_up:
            log.warning("database unavailable; spooling", error=str(exc).splitlines()[0])
        self.stats.db_up = False

    def _probe_database(self) -> bool:
        assert self._engine is not None
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def _database_synced(self) -> bool:
        """True when what the database confirmed would survive a power cut (SQLite: WAL checkpointed)."""
        assert self._engine is not None
        if self._engine.dialect.name != "sqlite":
            return True
        try:
            with self._engine.connect() as conn:
                busy, wal_frames, checkpointed = conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one()
        except SQLAlchemyError:
            return False
        return bool(busy == 0 and wal_frames == checkpointed)

    def snapshot(self) -> dict[str, Any]:
        return {**asdict(self.stats), "queue_depth": self.queue_depth}


def _insert_pairs(conn: Connection, pairs: Sequence[RowPair]) -> None:
    """Plain Core ``executemany`` (no ORM objects), duplicates ignored: a replay may repeat rows."""
    events, bodies = split(pairs)
    if events:
        conn.execute(_insert_ignoring_duplicates(conn.dialect.name, EventRow.__table__), events)
    if bodies:
        conn.execute(_insert_ignoring_duplicates(conn.dialect.name, EventBodyRow.__table__), bodies)


@functools.cache
def _insert_ignoring_duplicates(dialect: str, table: Table) -> Insert:
    """Built once per dialect and table (SQLAlchemy then reuses its compiled form).

    Only a repeated primary key is a duplicate (a replayed row). Any other conflict, e.g.
    a chain position already taken, is an error: the row goes to the rejected file,
    where it is counted and kept, instead of vanishing."""
    key = list(table.primary_key.columns)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)


def _is_invalid_data(exc: SQLAlchemyError) -> bool:
    """Errors a retry cannot fix (a bad row), as opposed to an unavailable database."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


def _settle(waiters: Sequence[_Waiter], error: Exception | None) -> None:
    """Wake each waiting event loop once for all its futures."""
    waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for future, loop in waiters:
        if future is not None and loop is not None:
            waiting.setdefault(loop, []).append(future)
    for loop, futures in waiting.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(_resolve, futures, error)


def _resolve(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():
            continue  # the caller was cancelled; the event is recorded all the same
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
