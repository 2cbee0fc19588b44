"""Secondary channels: a forbidden request moved out of the last user message is still read.

The adapters hand on every other text a caller controls (``CallView.channels``:
system prompt, earlier turns, tool results, documents, prefills, wrapper
contents) and the instruction past the classifier's window. Each is cut into
window-sized pieces, normalised, and read by the rules first; only a piece
whose rule evidence for a blocking label reaches its channel's threshold is
read by the model too. A piece counts only as a *strong* blocking verdict.

The thresholds are the channel weights: text the caller types or pastes
(earlier turns, wrappers, prefills) needs what the instruction needs; text the
tools produce (tool results, model turns, attachments) needs more, because
ordinary output of reading an eval harness's source or a dataset speaks of
graders, hidden tests and training data without asking for any. The system
prompt is read without the lines of the known clients' own prompts
(:mod:`proxy.classify.known_prompts`), so only what was added to it counts.

Pieces are cached by digest: an agent loop re-sends its history with every
call, and only the new pieces cost a reading.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from proxy.classify.known_prompts import without_known_prompt_lines
from proxy.classify.model import LinearModel
from proxy.classify.normalise import normalise
from proxy.classify.rules import EVAL, FORBIDDEN_LABELS, HEAD_CHARS, TAIL_CHARS, TRAINING, rule_evidence

PIECE_CHARS = HEAD_CHARS + TAIL_CHARS
# Pieces overlap so that a request cut by a piece boundary is whole in one of them.
PIECE_OVERLAP = 512
# Rule evidence a piece needs for a blocking label, per channel.
CHANNEL_THRESHOLDS: dict[str, float] = {
    "instruction_body": 2.0,
    "system": 2.0,
    "earlier_turn": 2.0,
    "wrapped": 2.0,
    "prefill": 2.0,
    "document": 2.5,
    "attachment": 2.5,
    "tool_result": 3.0,
    "model_turn": 3.0,
}
DEFAULT_THRESHOLD = 3.0
# Channels the tools fill (file contents, command output, model text): a piece there counts
# only when it is prose that asks for something, not source code or a description.
TOOL_CHANNELS = frozenset({"tool_result", "model_turn", "document", "attachment"})
_ASKS = re.compile(
    r"(?:^|[.!?:;\n]\s*|\b(?:please|now|then|also|just)\s+)(?:please\s+)?"
    r"(?:generate|create|write|produce|make|build|draft|synthesi[sz]e|give\s+me|turn|convert|answer|crank\s+out)\b"
    r"|\b(?:can|could|would|will)\s+you\b|\b(?:i|we)\s+(?:need|want|would\s+like)\b|\byour\s+(?:task|job)\b"
)
_CODE_LINE = re.compile(r"^\s{2,}\S|[=;{}]|^\s*(?:def|class|import|from|return|#|//|@)\b|\(\)|\w\(")
# Share of code-looking lines above which a piece is source code, not a request.
CODE_SHARE = 0.4
MAX_CACHED_PIECES = 65_536


@dataclass(frozen=True, slots=True)
class ChannelFinding:
    """A blocking label found in one piece of one channel."""

    channel: str
    label: str
    scores: dict[str, float]
    rule_hits: tuple[str, ...]


class PieceCache:
    """Bounded LRU of piece digest -> (label, scores, hits) or None (nothing blocking)."""

    def __init__(self, size: int = MAX_CACHED_PIECES) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[str, dict[str, float], tuple[str, ...]] | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> tuple[bool, tuple[str, dict[str, float], tuple[str, ...]] | None]:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return True, self._entries[key]
        return False, None

    def put(self, key: bytes, value: tuple[str, dict[str, float], tuple[str, ...]] | None) -> None:
        with self._lock:
            self._entries[key] = value
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)


_CACHE = PieceCache()


def pieces(text: str) -> Iterator[str]:
    """Window-sized, overlapping pieces of ``text``."""
    if len(text) <= PIECE_CHARS:
        yield text
        return
    step = PIECE_CHARS - PIECE_OVERLAP
    for start in range(0, len(text) - PIECE_OVERLAP, step):
        yield text[start : start + PIECE_CHARS]


def find_forbidden(
    channels: list[tuple[str, str]],
    model: LinearModel,
    cache: PieceCache = _CACHE,
) -> ChannelFinding | None:
    """The first channel piece that is, on its own, a strong request for a blocking use."""
    for channel, raw in channels:
        text = without_known_prompt_lines(raw) if channel in ("system", "wrapped") else raw
        threshold = CHANNEL_THRESHOLDS.get(channel, DEFAULT_THRESHOLD)
        for piece in pieces(text):
            found = _read_piece(piece, threshold, channel in TOOL_CHANNELS, model, cache)
            if found is not None:
                label, scores, hits = found
                return ChannelFinding(channel, label, scores, hits)
    return None


def _read_piece(
    piece: str, threshold: float, tool_channel: bool, model: LinearModel, cache: PieceCache
) -> tuple[str, dict[str, float], tuple[str, ...]] | None:
    key = hashlib.blake2b(piece.encode("utf-8", "surrogatepass"), digest_size=16)
    key.update(f"\0{threshold}\0{tool_channel}".encode())
    digest = key.digest()
    hit, value = cache.get(digest)
    if hit:
        return value
    value = _classify_piece(normalise(piece).lower(), threshold, tool_channel, model)
    cache.put(digest, value)
    return value


def looks_like_code(text: str) -> bool:
    """Whether most of ``text`` reads as source code rather than prose."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 3:
        return False
    return sum(1 for line in lines if _CODE_LINE.search(line)) >= CODE_SHARE * len(lines)


def _classify_piece(
    lowered: str, threshold: float, tool_channel: bool, model: LinearModel
) -> tuple[str, dict[str, float], tuple[str, ...]] | None:
    # Imported here: proxy.classify imports this module.
    from proxy.classify import STRONG, combine, read_evidence

    evidence = rule_evidence(lowered)
    if max(evidence.scores[EVAL], evidence.scores[TRAINING]) < threshold:
        return None
    if tool_channel and (_ASKS.search(lowered) is None or looks_like_code(lowered)):
        return None
    # The whole piece first; then each sentence with its neighbours, so that padding around a
    # request does not dilute what the model reads of it.
    for span in (lowered, *sentence_windows(lowered)):
        probabilities, evidence = read_evidence(span, model)
        result = combine(probabilities, evidence, model.low_evidence_probability)
        if (
            result.label in FORBIDDEN_LABELS
            and result.strength == STRONG
            and evidence.scores[result.label] >= threshold
        ):
            return result.label, result.scores, tuple(result.rule_hits)
    return None


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")


def sentence_windows(text: str) -> Iterator[str]:
    """Each sentence of ``text`` together with the one before and the one after it."""
    sentences = [part for part in _SENTENCE_END.split(text) if part.strip()]
    if len(sentences) < 2:
        return
    for at in range(len(sentences)):
        yield " ".join(sentences[max(0, at - 1) : at + 2])
