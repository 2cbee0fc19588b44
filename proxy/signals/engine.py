"""The signal engine: reads sealed calls after its cursor, in batches, and keeps the signal hits.

It runs in the console's process (``provproxy admin``), never on the request path: the proxy
records, the engine reads what was recorded. Each batch is processed in memory and then written
in one transaction with the cursor (:func:`proxy.store.signal_source.save_batch`), so a restart
loads the kept days' state and goes on from the cursor without counting anything twice. When a
batch fails (database down), the memory is thrown away and reloaded on the next try.

Memory holds the newest day of traffic seen and ``horizon_days`` before it; calls older than that
(late arrivals) are left out of the windowed signals. Calls without a principal are skipped.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from proxy.classify.rules.base import FORBIDDEN_LABELS
from proxy.signals import scripted
from proxy.signals.config import INTERACTIVE_TOOLS, SignalConfig
from proxy.signals.evasion import Block, RecentBlocks
from proxy.signals.fingerprints import Fingerprints
from proxy.signals.hits import DAY, Hit, day_of
from proxy.signals.phrases import asks_for_dataset, asks_for_reasoning
from proxy.signals.records import (
    DATASET_LABEL,
    DATASET_TEXT,
    EVASION,
    HAS_TEXT,
    REASONING,
    TEXT_FLAGS,
    Book,
    Instruction,
)
from proxy.signals.text_signals import FLAG_SIGNALS, coordination_hit, flag_hit, sweep_hit
from proxy.signals.volume import Volume
from proxy.store.db import Database
from proxy.store.signal_source import (
    Call,
    blocks_between,
    instruction_texts,
    load_instructions,
    load_states,
    newest_calls,
    next_calls,
    read_cursor,
    save_batch,
    seq_time,
)

log = structlog.get_logger(__name__)
MAX_PAUSE_S = 60.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class _Dirty:
    """What one batch changed: the signals to evaluate again."""

    sweep: set[tuple[datetime, str]] = field(default_factory=set)
    flagged: set[tuple[datetime, str]] = field(default_factory=set)
    clusters: set[tuple[datetime, str]] = field(default_factory=set)
    scripted: set[tuple[datetime, str]] = field(default_factory=set)
    volume: dict[datetime, dict[str, str | None]] = field(default_factory=lambda: defaultdict(dict))


class SignalEngine:
    """``run_once()`` processes one batch; ``start()``/``stop()`` run it in a daemon thread."""

    def __init__(self, engine: Database, config: SignalConfig | None = None) -> None:
        self._engine = engine
        self.config = config or SignalConfig()
        self._loaded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="signal-engine", daemon=True)
        self._reset()

    def _reset(self) -> None:
        config = self.config
        self._cursor = 0
        self._newest = EPOCH  # the newest day seen
        self._latest = EPOCH  # the newest call time seen
        self._prints = Fingerprints(config.lsh_threshold, config.num_perm, config.min_tokens)
        self._book = Book()
        self._blocks = RecentBlocks(config, self._prints)
        self._volume = Volume(self._engine, config)
        self._states: dict[tuple[datetime, str], dict[str, object]] = {}

    @property
    def cursor(self) -> int:
        return self._cursor

    # -- the batch -------------------------------------------------------------------------------

    def run_once(self, limit: int = 1000) -> int:
        """Process the next ``limit`` sealed calls at most; how many were processed (0: caught up)."""
        if not self._loaded:
            self._load()
        try:
            calls = next_calls(self._engine, self._cursor, limit)
            if not calls:
                return 0
            texts = instruction_texts(self._engine, self._needing_text(calls))
            dirty = _Dirty()
            for call in calls:
                self._process(call, texts, dirty)
            now = datetime.now(UTC)
            hits = [hit.row(self.config.evidence_cap, now) for hit in self._evaluate(dirty)]
            states = [
                {"signal": scripted.SIGNAL, "scope": p, "window_start": d, "data": self._states[(d, p)]}
                for d, p in dirty.scripted
            ]
            save_batch(self._engine, calls[-1].seq, self._book.pending_rows(), states, hits)
        except Exception:
            self._loaded = False  # memory may be ahead of the store: reload it on the next try
            raise
        self._book.saved()
        self._cursor = calls[-1].seq
        self._forget()
        return len(calls)

    def _needing_text(self, calls: list[Call]) -> list[str]:
        """One call per instruction the engine has not seen: only those texts are read."""
        wanted: dict[str, str] = {}
        for call in calls:
            if call.sha and call.principal and call.sha not in wanted and self._prints.get(call.sha) is None:
                wanted[call.sha] = call.id
        return list(wanted.values())

    def _process(self, call: Call, texts: dict[str, str], dirty: _Dirty) -> None:
        principal = call.principal
        day = day_of(call.ts)
        if principal is None or day < self._newest - timedelta(days=self.config.horizon_days):
            return
        self._newest, self._latest = max(self._newest, day), max(self._latest, call.ts)
        self._volume.seen(principal, call.team, day)
        dirty.volume[day][principal] = call.team
        if scripted.is_candidate(self.config, call.tool, call.turn_count):
            state = self._states.setdefault((day, principal), scripted.new_state())
            scripted.add_call(state, call.ts, call.output_tokens)
            dirty.scripted.add((day, principal))
        if call.sha is not None:
            self._instruction(call, principal, day, texts.get(call.id), dirty)
        if call.decision == "block":
            known = self._prints.get(call.sha) if call.sha else None
            block = Block(call.ts, call.id, call.use_label, call.sha, None if known is None else known.minhash)
            self._blocks.blocked(principal, block)

    def _instruction(self, call: Call, principal: str, day: datetime, text: str | None, dirty: _Dirty) -> None:
        assert call.sha is not None
        item = self._book.find(day, principal, call.sha)
        if item is not None:  # re-sent (an agent's tool loop): a call, not a new instruction
            self._book.count_call(item)
            if not item.flags & HAS_TEXT:
                dirty.clusters.add((day, item.cluster))
            return
        found = self._prints.get(call.sha)
        if found is None:
            minhash = None if text is None else self._prints.minhash_of(text)
            found = self._prints.add(call.sha, minhash, day, _text_flags(text))
        else:
            found.last_day = max(found.last_day, day)
        flags = found.flags | (DATASET_LABEL if call.use_label in FORBIDDEN_LABELS else 0)
        block = None
        if call.decision != "block":
            block = self._blocks.evaded(principal, call.ts, call.use_label, call.sha, found.minhash)
            flags |= 0 if block is None else EVASION
        stored = Fingerprints.to_bytes(found.minhash)
        item = Instruction(day, principal, call.sha, found.cluster, flags, call.id, call.ts, stored, new_calls=1)
        self._book.add(item)
        evaded = self._book.days[day].evaded_blocks[principal]
        if block is not None and block.event_id not in evaded:
            evaded.append(block.event_id)
        if found.minhash is not None:
            dirty.sweep.add((day, principal))
        if flags & (REASONING | DATASET_TEXT | DATASET_LABEL | EVASION):
            dirty.flagged.add((day, principal))
        dirty.clusters.add((day, found.cluster))

    # -- evaluation ------------------------------------------------------------------------------

    def _evaluate(self, dirty: _Dirty) -> list[Hit]:
        config, days = self.config, self._book.days
        hits: list[Hit | None] = []
        hits += [sweep_hit(config, d, days[d], p) for d, p in dirty.sweep if d in days]
        for d, p in dirty.flagged:
            if d in days:
                hits += [flag_hit(config, signal, d, days[d], p) for signal in FLAG_SIGNALS]
        hits += [coordination_hit(config, d, days[d], c) for d, c in dirty.clusters if d in days]
        hits += [self._scripted_hit(d, p) for d, p in dirty.scripted]
        for d, principals in dirty.volume.items():
            hits += self._volume.hits(d, principals)
        found = [hit for hit in hits if hit is not None]
        for hit in found:
            if hit.signal == "evasion":
                blocks = days[hit.window_start].evaded_blocks.get(hit.scope, [])
                hit.detail["blocks"] = blocks[-self.config.evidence_cap :]
        return found

    def _scripted_hit(self, day: datetime, principal: str) -> Hit | None:
        score, detail = scripted.score(self.config, self._states[(day, principal)])
        if score < 1.0:
            return None
        scope = (INTERACTIVE_TOOLS, self.config.scripted_max_turns)
        events = newest_calls(self._engine, principal, day, day + DAY, self.config.evidence_cap, scope)
        return Hit(scripted.SIGNAL, "principal", principal, day, score, [principal], events, detail)

    # -- memory ----------------------------------------------------------------------------------

    def _forget(self) -> None:
        floor = self._newest - timedelta(days=self.config.horizon_days)
        self._book.forget_before(floor)
        self._prints.forget_before(floor)
        self._volume.forget_before(floor)
        self._blocks.forget_before(self._latest)
        self._states = {key: state for key, state in self._states.items() if key[0] >= floor}

    def _load(self) -> None:
        """Rebuild the memory of the kept days from the store (start, or after a failed batch)."""
        self._reset()
        self._cursor = read_cursor(self._engine)
        latest = seq_time(self._engine, self._cursor) if self._cursor else None
        if latest is not None:
            self._latest, self._newest = latest, day_of(latest)
            floor = self._newest - timedelta(days=self.config.horizon_days)
            for row in load_instructions(self._engine, floor):
                self._prints.restore(row["sha"], row["cluster"], row["minhash"], row["day"], row["flags"] & TEXT_FLAGS)
                item = Instruction(
                    row["day"], row["principal"], row["sha"], row["cluster"], row["flags"], row["event_id"],
                    row["ts"], row["minhash"], calls=row["calls"],
                )  # fmt: skip
                self._book.add(item, fresh=False)
            for row in load_states(self._engine, floor):
                if row["signal"] == scripted.SIGNAL:
                    self._states[(row["window_start"], row["scope"])] = dict(row["data"])
            window = timedelta(seconds=self.config.evasion_window_s)
            for call in blocks_between(self._engine, latest - window, self._cursor):
                known = self._prints.get(call.sha) if call.sha else None
                block = Block(call.ts, call.id, call.use_label, call.sha, None if known is None else known.minhash)
                self._blocks.blocked(call.principal or "", block)
        self._loaded = True

    # -- the thread ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        log.info("signals.engine_stopped", finished=not self._thread.is_alive())

    def _run(self) -> None:
        pause = self.config.poll_interval_s
        while not self._stop.is_set():
            try:
                busy = self.run_once(self.config.batch) >= self.config.batch
            except Exception as exc:  # a failing database must not end the thread: try again later
                log.warning("signals.batch_failed", error=str(exc), retry_in_s=pause)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE_S)
                continue
            pause = self.config.poll_interval_s
            if not busy:
                self._stop.wait(pause)


def _text_flags(text: str | None) -> int:
    if text is None:
        return 0
    flags = HAS_TEXT
    if asks_for_reasoning(text):
        flags |= REASONING
    if asks_for_dataset(text):
        flags |= DATASET_TEXT
    return flags
