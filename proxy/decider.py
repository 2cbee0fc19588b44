"""The decide phase: classify the call (once per session and instruction), then apply the policy."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from proxy.adapters.base import CallView
from proxy.classify import STRONG, Classification, classify_call
from proxy.classify.normalise import normalise
from proxy.classify.rules import FORBIDDEN_LABELS, apply_rules
from proxy.classify.session import SessionEvidence, SessionFinding, read_with_session, session_key
from proxy.hooks import Identity, Verdict
from proxy.policy import PolicySource

CacheKey = tuple[str | None, tuple[int | str, ...]]


class PolicyDecider:
    """Implements :class:`proxy.hooks.Decider`.

    An agent loop re-sends the same human instruction with every tool result;
    the classification is cached per (session, instruction hash) in a bounded
    LRU so the loop pays for it once. The policy is applied on every call,
    because volume rules count calls and the policy file may have changed.

    Each call's instruction is also read with its session's earlier turns
    (:mod:`proxy.classify.session`): a request split over turns is decided with
    the earlier turns' meaning, and the verdict names the earlier events.
    """

    def __init__(
        self,
        policy_source: PolicySource | Path | str | None = None,
        cache_size: int = 10_000,
        classifier: Callable[[CallView], Classification] = classify_call,
        sessions: SessionEvidence | None = None,
    ) -> None:
        if not isinstance(policy_source, PolicySource):
            policy_source = PolicySource(Path(policy_source) if policy_source is not None else None)
        self.policy_source = policy_source
        self._classify = classifier
        self._cache: OrderedDict[CacheKey, Classification] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.sessions = sessions if sessions is not None else SessionEvidence()

    def classification(self, call: CallView, session_id: str | None) -> Classification:
        key = (session_id, _call_digest(call))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        result = self._classify(call)
        with self._lock:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def decide(self, call: CallView, identity: Identity) -> Verdict:
        result = self.classification(call, identity.session_id)
        key = session_key(identity.session_id, identity.principal, identity.tool)
        if call.instruction and not call.side_call:
            result = self._with_session(result, call.instruction, key)
        source = self.policy_source
        outcome = source.current().decide(result, call, identity, source.appeal_default)
        turn = (
            self.sessions.remember(key, call.instruction, result.label)
            if call.instruction and not call.side_call
            else None
        )
        return Verdict(
            action=outcome.action,
            label=result.label,
            scores=dict(result.scores),
            rule_hits=list(result.rule_hits),
            policy_rule=outcome.rule,
            message=outcome.message,
            evidence_events=list(result.evidence_events),
            on_recorded=turn.bind if turn is not None else None,
        )

    def _with_session(self, result: Classification, instruction: str, key: tuple[str, ...]) -> Classification:
        """``result``, or the blocking use this turn has together with the session's earlier turns."""
        if result.label in FORBIDDEN_LABELS and result.strength == STRONG:
            return result
        earlier = self.sessions.earlier(key)
        if not earlier:
            return result
        # The turn's own rule evidence matters only for a forbidden label (read_with_session's first
        # case): reading the rules again costs ~0.5 ms on a 64 KiB instruction, on every call.
        own = (
            apply_rules(normalise(instruction)).scores.get(result.label, 0.0)
            if result.label in FORBIDDEN_LABELS
            else 0.0
        )
        finding = read_with_session(instruction, result.label, own, earlier)
        return result if finding is None else _session_verdict(result, finding)


def _session_verdict(result: Classification, finding: SessionFinding) -> Classification:
    events = finding.event_ids
    hits = [*result.rule_hits, f"session.{finding.reason}", *(f"session_event:{event}" for event in events)]
    return Classification(finding.label, dict(result.scores), hits, STRONG, evidence_events=events)


def _call_digest(call: CallView) -> tuple[int | str, ...]:
    """What the classification depends on: the instruction, every channel, and whether it is overhead.

    Python's string hash (SipHash, keyed at random per process, so nobody can aim a collision at
    it) with the lengths: ~0.03 ms for a 64 KiB instruction, where a cryptographic digest cost
    ~0.15 ms on every call. With ``PYTHONHASHSEED`` fixed the key is known, and the digest is used."""
    channels = tuple(call.channels)
    if not _HASH_IS_KEYED:
        digest = hashlib.blake2b(call.instruction.encode("utf-8", "surrogatepass"), digest_size=16)
        digest.update(f"\0{call.side_call}\0{call.endpoint}".encode())
        for channel, text in channels:
            digest.update(f"\0{channel}\0{len(text)}\0".encode())
            digest.update(text.encode("utf-8", "surrogatepass"))
        return (digest.hexdigest(),)
    return (
        hash(call.instruction),
        len(call.instruction),
        hash(channels),
        sum(len(text) for _, text in channels),
        hash((call.side_call, call.endpoint)),
    )


_HASH_IS_KEYED = os.environ.get("PYTHONHASHSEED", "random") == "random"
