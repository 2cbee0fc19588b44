"""Policy replay: what a candidate policy would have decided on recorded calls, next to what the
live policy did.

Each call is rebuilt from what was recorded (vendor, endpoint, model, side call, the human
instruction, who sent it) and decided by the real classifier and the candidate policy, in the
order the calls happened and at the moment each happened, so volume rules count as they would
have live. Calls without a kept instruction cannot be replayed and are counted as skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.adapters.base import CallView
from proxy.classify import Classification, classify_call
from proxy.events import Decision
from proxy.hooks import Identity
from proxy.policy import Policy
from proxy.store.recorded_calls import RecordedCall

DEFAULT_RULE = "(default)"  # no rule matched: the policy's default action decided
CACHE_SIZE = 10_000


@dataclass(slots=True)
class ReplayReport:
    skipped: int = 0  # no instruction kept
    candidate: Counter[str] = field(default_factory=Counter)  # decision → calls
    live: Counter[str] = field(default_factory=Counter)
    candidate_rules: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, decision) → calls
    live_rules: Counter[tuple[str, str]] = field(default_factory=Counter)
    changes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (live, candidate) → calls

    @property
    def replayed(self) -> int:
        return sum(self.candidate.values())

    def as_dict(self) -> dict[str, object]:
        def decisions(counts: Counter[str]) -> dict[str, int]:
            return {d.value: counts[d.value] for d in Decision}

        def rules(counts: Counter[tuple[str, str]]) -> list[dict[str, object]]:
            return [{"rule": r, "decision": d, "calls": n} for (r, d), n in sorted(counts.items())]

        return {
            "replayed": self.replayed,
            "skipped": self.skipped,
            "candidate": decisions(self.candidate),
            "live": decisions(self.live),
            "candidate_rules": rules(self.candidate_rules),
            "live_rules": rules(self.live_rules),
            "changes": [
                {"live": a, "candidate": b, "calls": n} for (a, b), n in sorted(self.changes.items()) if a != b
            ],
        }


def replay(policy: Policy, calls: Iterable[RecordedCall], appeal: str = "your security team") -> ReplayReport:
    """Decide every call under ``policy`` and count the outcomes beside the recorded ones."""
    report = ReplayReport()
    # An agent loop re-sends one instruction many times: classify it once, as the live decider does.
    classified: dict[tuple[str | None, str, str | None, str], Classification] = {}
    for call in calls:
        if call.instruction is None:
            report.skipped += 1
            continue
        view, identity = _rebuilt(call)
        key = (call.session_id, view.instruction, view.side_call, view.endpoint)
        result = classified.get(key) or classified.setdefault(key, classify_call(view))
        if len(classified) > CACHE_SIZE:
            classified.clear()
        # The policy's own volume counter, fed each call's recorded moment: volume rules count as live.
        outcome = policy.decide(result, view, identity, appeal, now=call.ts.timestamp())
        decided = outcome.action.value
        report.candidate[decided] += 1
        report.live[call.decision] += 1
        report.candidate_rules[(outcome.rule or DEFAULT_RULE, decided)] += 1
        report.live_rules[(call.policy_rule or DEFAULT_RULE, call.decision)] += 1
        report.changes[(call.decision, decided)] += 1
    return report


def _rebuilt(call: RecordedCall) -> tuple[CallView, Identity]:
    view = CallView(
        vendor=call.vendor or "unknown",
        endpoint=call.endpoint or "unknown",
        model=call.model,
        stream=call.stream,
        instruction=call.instruction or "",
        turn_count=call.turn_count,
        side_call=call.side_call,
    )
    identity = Identity(
        principal=call.principal, team=call.team, tool=call.tool or "unknown", session_id=call.session_id
    )
    return view, identity
