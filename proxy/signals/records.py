"""The distinct instructions of the days in memory, and what the text signals count over them.

A principal's *distinct instruction* in a day is one ``instruction_sha256``: the first call that
carried it is its evidence, later calls only add to ``calls`` (a coding agent re-sends its
instruction on every call of a tool loop; counting calls would make every agent session a sweep).
Each carries flag bits, set once, when it is first seen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

REASONING = 1  # asks to reveal chain-of-thought / reasoning / tool-use traces (phrases.py)
DATASET_TEXT = 2  # asks for many examples, JSONL, training data (phrases.py)
DATASET_LABEL = 4  # classified as training-data or eval-task generation
EVASION = 8  # sent, not blocked, shortly after a similar blocked call (evasion.py)
HAS_TEXT = 16  # its text was kept (a body row): clustering could look at it
TEXT_FLAGS = REASONING | DATASET_TEXT | HAS_TEXT  # what the text alone decides: the same for every sender


@dataclass(slots=True)
class Instruction:
    day: datetime
    principal: str
    sha: str
    cluster: str
    flags: int
    event_id: str
    ts: datetime
    minhash: bytes | None
    calls: int = 0  # stored calls
    new_calls: int = 0  # calls since the last save

    def row(self, fresh: bool) -> dict[str, Any]:
        """Its ``signal_instructions`` row; calls are added to the stored count on conflict."""
        return {
            "day": self.day,
            "principal": self.principal,
            "sha": self.sha,
            "cluster": self.cluster,
            "flags": self.flags,
            "calls": self.new_calls,
            "event_id": self.event_id,
            "ts": self.ts,
            "minhash": self.minhash if fresh else None,
        }


@dataclass(slots=True)
class Day:
    """One UTC day's distinct instructions, indexed the ways the signals read them."""

    seen: dict[tuple[str, str], Instruction] = field(default_factory=dict)  # (principal, sha)
    # cluster -> principal -> first-call event ids of its distinct instructions, in arrival order
    clusters: dict[str, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    # principal -> clusters they sent into
    principal_clusters: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # flag -> principal -> event ids
    flagged: dict[int, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    # principal -> the blocks their evasion attempts followed
    evaded_blocks: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # cluster -> principal -> calls of that exact instruction (without text: exact repeats only)
    exact_calls: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))


class Book:
    """The kept days, oldest dropped by :meth:`forget_before`."""

    def __init__(self) -> None:
        self.days: dict[datetime, Day] = {}
        self.fresh: dict[tuple[datetime, str, str], Instruction] = {}  # new since the last save
        self.touched: dict[tuple[datetime, str, str], Instruction] = {}  # re-sent since the last save

    def find(self, day: datetime, principal: str, sha: str) -> Instruction | None:
        found = self.days.get(day)
        return None if found is None else found.seen.get((principal, sha))

    def add(self, item: Instruction, fresh: bool = True) -> None:
        day = self.days.setdefault(item.day, Day())
        day.seen[(item.principal, item.sha)] = item
        day.clusters[item.cluster].setdefault(item.principal, []).append(item.event_id)
        day.principal_clusters[item.principal].add(item.cluster)
        for flag in (REASONING, DATASET_TEXT | DATASET_LABEL, EVASION):
            if item.flags & flag:
                day.flagged[flag].setdefault(item.principal, []).append(item.event_id)
        if not item.flags & HAS_TEXT:
            calls = day.exact_calls[item.cluster]
            calls[item.principal] = calls.get(item.principal, 0) + item.calls + item.new_calls
        if fresh:
            self.fresh[(item.day, item.principal, item.sha)] = item

    def count_call(self, item: Instruction) -> None:
        """A call re-sending an instruction already seen that day."""
        item.new_calls += 1
        key = (item.day, item.principal, item.sha)
        if key not in self.fresh:
            self.touched[key] = item
        if not item.flags & HAS_TEXT:
            calls = self.days[item.day].exact_calls[item.cluster]
            calls[item.principal] = calls.get(item.principal, 0) + 1

    def pending_rows(self) -> list[dict[str, Any]]:
        return [item.row(True) for item in self.fresh.values()] + [item.row(False) for item in self.touched.values()]

    def saved(self) -> None:
        for item in (*self.fresh.values(), *self.touched.values()):
            item.calls += item.new_calls
            item.new_calls = 0
        self.fresh.clear()
        self.touched.clear()

    def forget_before(self, day: datetime) -> None:
        for old in [d for d in self.days if d < day]:
            del self.days[old]
