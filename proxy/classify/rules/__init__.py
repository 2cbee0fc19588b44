"""Explainable, weighted patterns over a bounded window of an instruction.

Each :class:`Rule` adds its weight to a label when one of its patterns occurs
in the window; negative weights are counter-evidence (the object of the request is
the harness, the data already exists, ...). Structural signals — requested
counts, dataset output formats, target directories — are rules too, so every
point of evidence is named in ``rule_hits``.

The window is the head and tail of the instruction: long pastes (logs, diffs)
sit in the middle, while the ask is usually at the start or the end. Each
pattern is searched only around the literal words every match of it contains
(:mod:`proxy.classify.anchored`), so a rule whose words are absent costs a few
``str.find`` calls, however long the window.

Each label's rules live in their own module; this one runs them all. The
table order (evaluation, training, red team, ordinary work, counter-evidence)
is the order rule hits are reported in.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.classify.anchored import AnchoredPattern, Found, LiteralIndex
from proxy.classify.rules.base import (
    BENIGN_LABELS,
    CODE,
    DEBUGGING,
    DOCS,
    EVAL,
    FORBIDDEN_LABELS,
    HEAD_CHARS,
    ITEMS,
    LABELS,
    MAKE,
    OVERHEAD,
    REDTEAM,
    REVIEW,
    SENSITIVE_LABELS,
    TAIL_CHARS,
    TRAINING,
    UNIT_TESTS,
    Rule,
    window,
)
from proxy.classify.rules.counter import COUNTER_RULES
from proxy.classify.rules.evaluation import EVAL_RULES
from proxy.classify.rules.ordinary import ORDINARY_RULES
from proxy.classify.rules.redteam import REDTEAM_RULES
from proxy.classify.rules.training import TRAINING_RULES

__all__ = [
    "BENIGN_LABELS",
    "CODE",
    "DEBUGGING",
    "DOCS",
    "EVAL",
    "FORBIDDEN_LABELS",
    "HEAD_CHARS",
    "LABELS",
    "LITERALS",
    "OVERHEAD",
    "REDTEAM",
    "REVIEW",
    "RULES",
    "SENSITIVE_LABELS",
    "TAIL_CHARS",
    "TRAINING",
    "UNIT_TESTS",
    "Rule",
    "RuleEvidence",
    "apply_rules",
    "requested_count",
    "rule_evidence",
    "window",
]

# Requested counts at or above this look like bulk generation.
BULK_COUNT = 20

RULES: tuple[Rule, ...] = (*EVAL_RULES, *TRAINING_RULES, *REDTEAM_RULES, *ORDINARY_RULES, *COUNTER_RULES)

# A number followed, within a few words, by the kind of thing generated in bulk ("500 pairs"),
# or a making verb followed by a number ("generate 2k").
# The look-behind skips numbers that are part of a name or a version ("v2", "3.12").
_COUNT_THEN_ITEMS = AnchoredPattern.compile(
    rf"(?<![\w.])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)\s*(k\b)?\s+(?:[\w-]+\s+){{0,4}}?{ITEMS}\b"
)
_MAKE_THEN_COUNT = AnchoredPattern.compile(rf"\b{MAKE}\s+(?:like\s+)?~?(\d[\d,]*)\s*(k\b)?")
# Every literal any rule needs, found in one pass over the window; and which rule each pattern is of.
_PATTERNS = [pattern for rule in RULES for pattern in rule.patterns]
_RULE_OF = [number for number, rule in enumerate(RULES) for _ in rule.patterns]
LITERALS = LiteralIndex([*_PATTERNS, _COUNT_THEN_ITEMS, _MAKE_THEN_COUNT])


def requested_count(text: str, found: Found | None = None) -> int:
    """The largest count of generated things the (lower-cased) text asks for, 0 if none."""
    if found is None:
        found = LITERALS.find(text)
    best = 0
    for pattern in (_COUNT_THEN_ITEMS, _MAKE_THEN_COUNT):
        for match in pattern.finditer(text, found):
            value = float(match.group(1).replace(",", ""))
            if match.group(2):
                value *= 1000
            best = max(best, int(value))
    return best


@dataclass(slots=True)
class RuleEvidence:
    """Per-label sums of the weights of the rules that fired, and their names."""

    scores: dict[str, float]
    hits: list[str]


def apply_rules(text: str) -> RuleEvidence:
    """Run every rule over the bounded window of ``text``."""
    return rule_evidence(window(text).lower())


def rule_evidence(lowered_window: str) -> RuleEvidence:
    """Run every rule over an already windowed, lower-cased instruction."""
    found = LITERALS.find(lowered_window)
    fired: set[int] = set()
    for number in LITERALS.candidates(found):
        # Numbers past the rule patterns are the count patterns; a rule that fired needs no second look.
        if (
            number < len(_PATTERNS)
            and _RULE_OF[number] not in fired
            and _PATTERNS[number].search(lowered_window, found)
        ):
            fired.add(_RULE_OF[number])
    scores = dict.fromkeys(LABELS, 0.0)
    hits: list[str] = []
    for number in sorted(fired):  # in table order, so explanations read the same way every time
        rule = RULES[number]
        for label, weight in rule.weights:
            scores[label] += weight
        hits.append(rule.name)
    count = requested_count(lowered_window, found)
    if count >= BULK_COUNT:
        # Bulk is evidence for the blocking labels only together with their own cues.
        for label in (EVAL, TRAINING):
            if scores[label] > 0:
                scores[label] += 1.0
        hits.append(f"struct.bulk_count:{count}")
    return RuleEvidence(scores, hits)
