"""What a use policy is, and how it decides one call.

A policy is an ordered list of rules; the first rule whose ``match`` (and, if
present, ``volume``) holds decides ``allow``, ``flag`` or ``block``. Calls no
rule matches get ``default_action``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from proxy.adapters.base import CallView
from proxy.classify import Classification
from proxy.events import Decision
from proxy.hooks import Identity

DEFAULT_BLOCK_MESSAGE = (
    'Refused by the company AI-use policy, rule "{rule}": this request was classified as {label}. {evidence} '
    'If this is ordinary engineering work, appeal to {appeal} and quote rule "{rule}".'
)
# Volume counters kept at most for this many (rule, principal) pairs.
MAX_VOLUME_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class PolicyError(ValueError):
    """A policy file that cannot be used, with every issue found in it."""

    def __init__(self, source: str, issues: list[PolicyIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(f"{source}: " + "; ".join(str(issue) for issue in issues))


@dataclass(frozen=True, slots=True)
class Match:
    labels: frozenset[str] | None = None
    strength: frozenset[str] | None = None
    principals: tuple[str, ...] | None = None
    teams: tuple[str, ...] | None = None
    tools: tuple[str, ...] | None = None
    vendors: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    side_call: bool | None = None

    def holds(self, result: Classification, call: CallView, identity: Identity) -> bool:
        return (
            (self.labels is None or result.label in self.labels)
            and (self.strength is None or result.strength in self.strength)
            and _globs(self.principals, identity.principal)
            and _globs(self.teams, identity.team)
            and _globs(self.tools, identity.tool)
            and _globs(self.vendors, call.vendor)
            and _globs(self.models, call.model)
            and (self.side_call is None or (call.side_call is not None) == self.side_call)
        )


def _globs(patterns: tuple[str, ...] | None, value: str | None) -> bool:
    if patterns is None:
        return True
    return value is not None and any(fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class Volume:
    """The rule applies once a principal made more than ``more_than`` matching
    calls within the last ``window_s`` seconds (this call included)."""

    more_than: int
    window_s: float


@dataclass(frozen=True, slots=True)
class PolicyRule:
    id: str
    action: Decision
    match: Match = field(default_factory=Match)
    volume: Volume | None = None
    message: str | None = None


class VolumeCounter:
    """Sliding-window call counts per (rule, principal), bounded in keys and length."""

    def __init__(self, max_keys: int = MAX_VOLUME_KEYS) -> None:
        self._max_keys = max_keys
        self._windows: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, rule_id: str, principal: str, volume: Volume, now: float) -> int:
        """Record one call and return the count in the window, capped at ``more_than + 1``."""
        key = (rule_id, principal)
        with self._lock:
            stamps = self._windows.get(key)
            if stamps is None:
                # Only whether the threshold is passed matters, so keep that many stamps.
                stamps = self._windows[key] = deque(maxlen=volume.more_than + 1)
                if len(self._windows) > self._max_keys:
                    self._windows.popitem(last=False)
            else:
                self._windows.move_to_end(key)
            horizon = now - volume.window_s
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
            stamps.append(now)
            return len(stamps)


def _evidence(result: Classification) -> str:
    """The ``{evidence}`` placeholder: the earlier requests of the session a verdict rests on."""
    if not result.evidence_events:
        return ""
    return "It continues earlier requests in this session (events " + ", ".join(result.evidence_events) + ")."


@dataclass(frozen=True, slots=True)
class PolicyRuling:
    action: Decision
    rule: str | None
    message: str | None


@dataclass(slots=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    default_action: Decision = Decision.ALLOW
    appeal: str | None = None
    source: str = "<policy>"
    counter: VolumeCounter = field(default_factory=VolumeCounter)

    def decide(
        self,
        result: Classification,
        call: CallView,
        identity: Identity,
        appeal_default: str,
        now: float | None = None,
    ) -> PolicyRuling:
        for rule in self.rules:
            if not rule.match.holds(result, call, identity):
                continue
            if rule.volume is not None:
                moment = time.monotonic() if now is None else now
                count = self.counter.add(rule.id, identity.principal or "anonymous", rule.volume, moment)
                if count <= rule.volume.more_than:
                    continue
            return PolicyRuling(rule.action, rule.id, self._message(rule, result, identity, appeal_default))
        return PolicyRuling(self.default_action, None, None)

    def _message(self, rule: PolicyRule, result: Classification, identity: Identity, appeal_default: str) -> str | None:
        template = rule.message
        if template is None:
            if rule.action is not Decision.BLOCK:
                return None
            template = DEFAULT_BLOCK_MESSAGE
        values = {
            "rule": rule.id,
            "label": result.label,
            "appeal": self.appeal or appeal_default,
            "principal": identity.principal or "unknown",
            "tool": identity.tool,
            "evidence": _evidence(result),
        }
        return " ".join(template.format_map(values).split())
