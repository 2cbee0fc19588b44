"""Use evidence from the whole session, not only the last message.

A forbidden request can be split over turns: one exercise, then "49 more, as
JSONL", then "we'll feed these to our in-house model and compute its pass
rate"; or asked once and then only "do it" behind ``previous_response_id``.
Each turn alone is ordinary or only weakly sensitive. This module keeps the
last few turns of every session and reads a turn with them:

* a **use statement after generation** — the turn is itself a blocking label
  with real rule evidence (not a bare format word) and an earlier turn of the
  session generated something — is that blocking use;
* a **continuation of a forbidden turn** — an earlier turn was labelled a
  blocking use and this one is a terse go-ahead or asks for more — is that use.

Sessions are keyed by session id, else by principal + tool, whose turns count
only within :data:`WINDOW_S`. Memory is bounded: at most :data:`MAX_SESSIONS`
sessions (least recently used dropped), :data:`MAX_TURNS` turns each, each turn
at most :data:`MAX_TURN_CHARS` characters — about 2 KB per session, so
100,000 live sessions stay within about 200 MB at worst (``bench/bench_classify.py``
measures it).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from proxy.classify.rules import BENIGN_LABELS, CODE, FORBIDDEN_LABELS, UNIT_TESTS

MAX_SESSIONS = 100_000
MAX_TURNS = 3
MAX_TURN_CHARS = 256
WINDOW_S = 15 * 60.0
# Own rule evidence a turn needs to be read as a use statement (a format word alone is 0.25).
USE_STATEMENT_EVIDENCE = 1.5
# A continuation is short and goes ahead or asks for more of the same.
CONTINUATION_CHARS = 300
_CONTINUATION = re.compile(
    r"\b(?:more|continue|go\s+on|go\s+ahead|keep\s+going|do\s+it|proceed|another|again|the\s+rest)\b"
)
GENERATING_LABELS = frozenset({*FORBIDDEN_LABELS, CODE, UNIT_TESTS})

SessionKey = tuple[str, ...]


@dataclass(slots=True)
class Turn:
    """One earlier turn: what it asked (head), its label, and its event once recorded."""

    text: str
    label: str
    at: float
    event_id: str | None = None

    def bind(self, event_id: str) -> None:
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class SessionFinding:
    label: str
    reason: str  # "use_after_generation" | "continuation"
    turns: tuple[Turn, ...] = field(default=())

    @property
    def event_ids(self) -> tuple[str, ...]:
        return tuple(turn.event_id for turn in self.turns if turn.event_id)


def session_key(session_id: str | None, principal: str | None, tool: str) -> SessionKey:
    if session_id:
        return ("session", session_id)
    return ("principal", principal or "anonymous", tool)


def read_with_session(instruction: str, label: str, own_evidence: float, earlier: list[Turn]) -> SessionFinding | None:
    """The blocking use this turn has together with the session's earlier turns, if any."""
    if not earlier or (label in BENIGN_LABELS and not _is_continuation(instruction)):
        return None
    if label in FORBIDDEN_LABELS and own_evidence >= USE_STATEMENT_EVIDENCE:
        generating = tuple(turn for turn in earlier if turn.label in GENERATING_LABELS)
        if generating:
            return SessionFinding(label, "use_after_generation", generating)
    forbidden = tuple(turn for turn in earlier if turn.label in FORBIDDEN_LABELS)
    if forbidden and (label in FORBIDDEN_LABELS or _is_continuation(instruction)):
        return SessionFinding(forbidden[-1].label, "continuation", forbidden)
    return None


def _is_continuation(instruction: str) -> bool:
    return len(instruction) <= CONTINUATION_CHARS and _CONTINUATION.search(instruction.lower()) is not None


class SessionEvidence:
    """The last :data:`MAX_TURNS` turns of up to :data:`MAX_SESSIONS` sessions (LRU)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, window_s: float = WINDOW_S) -> None:
        self._max_sessions = max_sessions
        self._window_s = window_s
        self._sessions: OrderedDict[SessionKey, list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def earlier(self, key: SessionKey, now: float | None = None) -> list[Turn]:
        """The session's remembered turns (for principal keys, only those within the window)."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            turns = list(self._sessions.get(key, ()))
        if key[0] == "principal":
            turns = [turn for turn in turns if moment - turn.at <= self._window_s]
        return turns

    def remember(self, key: SessionKey, instruction: str, label: str, now: float | None = None) -> Turn | None:
        """Add a turn (an agent loop re-sending the same instruction adds nothing); the new turn."""
        head = instruction[:MAX_TURN_CHARS]
        turn = Turn(head, label, time.monotonic() if now is None else now)
        with self._lock:
            turns = self._sessions.get(key)
            if turns is None:
                turns = self._sessions[key] = []
                if len(self._sessions) > self._max_sessions:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(key)
                if turns and turns[-1].text == head:
                    return None
            turns.append(turn)
            del turns[:-MAX_TURNS]
        return turn
