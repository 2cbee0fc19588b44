"""The use of a request: rules and a linear model, combined and explained.

``classify_call`` is what the decide phase calls; ``classify_text`` is the
same for a bare instruction. The combined score of a label is the softmax of
``log(model probability) + rule evidence``: the model ranks, the rules move
the ranking and name why. A verdict is *strong* only when both agree — that is
what a blocking policy rule should require, because a block interrupts a
person's work and must be right. A sensitive label also needs *some*
evidence: terse follow-ups ("yes do it", "Say hello.") that no rule speaks to
and the model is unsure about fall back to ordinary work (:func:`combine`),
so they do not flood the review queue with flags.

Only the bounded window of an instruction is read (:func:`instruction_window`),
lower-cased once and shared by the rules and the model, so a 64 KB paste costs
no more than a window-sized one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from proxy.adapters.base import CallView
from proxy.classify.channels import find_forbidden
from proxy.classify.model import LinearModel, shipped_model
from proxy.classify.normalise import normalise
from proxy.classify.rules import (
    BENIGN_LABELS,
    FORBIDDEN_LABELS,
    LABELS,
    OVERHEAD,
    SENSITIVE_LABELS,
    RuleEvidence,
    rule_evidence,
    window,
)

__all__ = [
    "BENIGN_LABELS",
    "FORBIDDEN_LABELS",
    "LABELS",
    "OVERHEAD",
    "SENSITIVE_LABELS",
    "Classification",
    "classify_call",
    "classify_channels",
    "classify_text",
    "combine",
    "instruction_window",
    "read_evidence",
]

STRONG = "strong"
WEAK = "weak"
# Named in rule_hits when a sensitive label without evidence gave way to an ordinary work label.
LOW_EVIDENCE_FALLBACK = "low_evidence_fallback"
# Rule evidence below one full rule (e.g. only "jsonl" was mentioned) does not count as evidence for it.
MIN_RULE_EVIDENCE = 1.0

# Thresholds for a strong verdict: rule evidence, model probability, combined score.
STRONG_RULE_EVIDENCE = 2.0
STRONG_MODEL_PROBABILITY = 0.3
STRONG_COMBINED_SCORE = 0.8
_FLOOR = 1e-6  # keeps log() finite for labels the model rules out
# The model reads a shorter window than the rules: its cost grows with every word, while the
# rules cost little where their words are absent.
MODEL_HEAD_CHARS = 1024
MODEL_TAIL_CHARS = 512

# An instruction longer than the model's window is also read piece by piece, as a channel:
# past the window, or padded around, a request is still read whole.
LONG_INSTRUCTION_CHARS = MODEL_HEAD_CHARS + MODEL_TAIL_CHARS

# Endpoints that carry no request for work (token counting, model listing).
_OVERHEAD_ENDPOINTS = ("count_tokens", "counttokens", "models")


@dataclass(frozen=True, slots=True)
class Classification:
    label: str
    scores: dict[str, float]  # combined score per label, summing to 1
    rule_hits: list[str] = field(default_factory=list)
    strength: str = WEAK  # "strong" | "weak"
    # Earlier events of the session whose requests this verdict rests on (proxy.classify.session).
    evidence_events: tuple[str, ...] = ()

    @property
    def confidence(self) -> float:
        return self.scores.get(self.label, 0.0)


def instruction_window(text: str) -> str:
    """The part of an instruction the classifier reads: equal windows get equal classifications."""
    return window(text)


def classify_text(text: str) -> Classification:
    """Label one human instruction."""
    span = normalise(instruction_window(text))
    if not span or span.isspace():
        return _overhead("no_instruction")
    model = shipped_model()
    probabilities, evidence = read_evidence(span.lower(), model)
    return combine(probabilities, evidence, model.low_evidence_probability)


def read_evidence(lowered_window: str, model: LinearModel) -> tuple[dict[str, float], RuleEvidence]:
    """The model's probabilities and the rules' evidence for a windowed, lower-cased instruction."""
    # The model window lies inside the rules window: the head of its head and its tail.
    probabilities = model.probabilities(window(lowered_window, MODEL_HEAD_CHARS, MODEL_TAIL_CHARS))
    return probabilities, rule_evidence(lowered_window)


def combine(probabilities: dict[str, float], evidence: RuleEvidence, low_evidence_probability: float) -> Classification:
    """The verdict from the model's probabilities and the rules' evidence.

    A sensitive label needs evidence: if no rule speaks for it and the model
    gives it less than ``low_evidence_probability``, the instruction is too
    terse to tell ("yes do it", "Say hello.") and the label falls back to the
    most likely ordinary work label, named in ``rule_hits``. A mere structural
    hint (``struct.jsonl_output``) is less than :data:`MIN_RULE_EVIDENCE`. The scores are
    left as they were, so the explanation still shows what the model leaned to.
    """
    logits = {label: math.log(max(probabilities.get(label, 0.0), _FLOOR)) + evidence.scores[label] for label in LABELS}
    top = max(logits.values())
    exp = {label: math.exp(value - top) for label, value in logits.items()}
    total = sum(exp.values())
    scores = {label: round(value / total, 4) for label, value in exp.items()}
    label = max(scores, key=scores.__getitem__)
    hits = evidence.hits
    if (
        label in SENSITIVE_LABELS
        and evidence.scores[label] < MIN_RULE_EVIDENCE
        and probabilities.get(label, 0.0) < low_evidence_probability
    ):
        hits = [*hits, f"{LOW_EVIDENCE_FALLBACK}:{label}"]
        label = max(BENIGN_LABELS, key=scores.__getitem__)
    strong = (
        evidence.scores[label] >= STRONG_RULE_EVIDENCE
        and probabilities.get(label, 0.0) >= STRONG_MODEL_PROBABILITY
        and scores[label] >= STRONG_COMBINED_SCORE
    )
    return Classification(label, scores, hits, STRONG if strong else WEAK)


def classify_call(call: CallView) -> Classification:
    """Label a call: the instruction first, then every other channel a caller controls.

    Endpoints that generate nothing (token counting, model lists) are overhead.
    Side calls are overhead unless some channel of theirs carries a forbidden
    request: a title, router or commit-message call is overhead only when it
    really is one.
    """
    endpoint = call.endpoint.lower()
    if endpoint.replace(".", "_").endswith(_OVERHEAD_ENDPOINTS):
        return _overhead(f"endpoint:{call.endpoint}")  # counts or lists, generates nothing
    structural = f"side_call:{call.side_call}" if call.side_call else None
    primary = classify_text(call.instruction) if call.instruction else _overhead("no_instruction")
    if primary.label in FORBIDDEN_LABELS and primary.strength == STRONG:
        if structural:
            primary.rule_hits.append(structural)
        return primary
    secondary = classify_channels(call)
    if secondary is not None:
        return secondary
    if structural:
        return _overhead(structural)
    return primary


def classify_channels(call: CallView) -> Classification | None:
    """A strong blocking verdict found in a channel other than the instruction's window, else None."""
    channels = call.channels
    if len(call.instruction) > LONG_INSTRUCTION_CHARS:
        channels = [("instruction_body", call.instruction), *channels]
    finding = find_forbidden(channels, shipped_model())
    if finding is None:
        return None
    hits = [*finding.rule_hits, f"channel:{finding.channel}"]
    return Classification(finding.label, finding.scores, hits, STRONG)


def _overhead(reason: str) -> Classification:
    return Classification(OVERHEAD, {OVERHEAD: 1.0}, [reason], STRONG)
