"""The evasion signal's memory: each principal's recent blocks.

A call that was *not* blocked, carrying an instruction new for its sender that day, is an
*attempt* when it came at most ``evasion_window_s`` after one of that sender's blocked calls and
either its text is similar to the blocked one (estimated Jaccard ≥ ``evasion_similarity``: a
rephrasing) or it was classified with the same use label. Re-sending the very instruction that was
blocked is not a rephrasing and does not count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from datasketch import MinHash

from proxy.signals.config import SignalConfig
from proxy.signals.fingerprints import Fingerprints

_KEEP = 20  # blocks remembered per principal


@dataclass(frozen=True, slots=True)
class Block:
    ts: datetime
    event_id: str
    label: str | None
    sha: str | None
    minhash: MinHash | None


class RecentBlocks:
    def __init__(self, config: SignalConfig, prints: Fingerprints) -> None:
        self._window = timedelta(seconds=config.evasion_window_s)
        self._similarity = config.evasion_similarity
        self._prints = prints
        self._blocks: dict[str, deque[Block]] = {}

    def blocked(self, principal: str, block: Block) -> None:
        self._blocks.setdefault(principal, deque(maxlen=_KEEP)).append(block)

    def evaded(
        self, principal: str, ts: datetime, label: str | None, sha: str, minhash: MinHash | None
    ) -> Block | None:
        """The block this call looks like an attempt to get around, if any."""
        for block in reversed(self._blocks.get(principal, ())):
            if not block.ts <= ts <= block.ts + self._window or block.sha == sha:
                continue
            if (label is not None and label == block.label) or self._prints.similarity(
                minhash, block.minhash
            ) >= self._similarity:
                return block
        return None

    def forget_before(self, ts: datetime) -> None:
        horizon = ts - self._window
        for principal in [p for p, blocks in self._blocks.items() if not blocks or blocks[-1].ts < horizon]:
            del self._blocks[principal]
