"""The labels, the bounded window the rules read, and the shape of one rule."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.classify.anchored import AnchoredPattern

EVAL = "eval_task_generation"
TRAINING = "training_data_generation"
REDTEAM = "model_comparison_redteam"
REVIEW = "code_analysis_review"
UNIT_TESTS = "unit_test_generation"
DEBUGGING = "debugging"
CODE = "code_generation"
DOCS = "documentation"
OVERHEAD = "overhead"

# The labels the text classifier chooses between (overhead is structural only).
LABELS: tuple[str, ...] = (EVAL, TRAINING, REDTEAM, REVIEW, UNIT_TESTS, DEBUGGING, CODE, DOCS)
# Ordinary work that no policy needs to see; the rest is blocked or flagged by the default policy.
BENIGN_LABELS: tuple[str, ...] = (UNIT_TESTS, DEBUGGING, CODE, DOCS)
SENSITIVE_LABELS: tuple[str, ...] = tuple(label for label in LABELS if label not in BENIGN_LABELS)
# The uses the vendors' terms forbid: what the default policy blocks.
FORBIDDEN_LABELS: tuple[str, ...] = (EVAL, TRAINING)

HEAD_CHARS = 3072
TAIL_CHARS = 1024


def window(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """The bounded part of ``text`` that the classifier reads: its head and tail."""
    if len(text) <= head + tail:
        return text
    return text[:head] + "\n" + text[-tail:]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    weights: tuple[tuple[str, float], ...]  # (label, weight): most rules weigh one label
    patterns: tuple[AnchoredPattern, ...]  # alternatives, over lower-cased text
    # Lower-cased instructions the rule must fire on, and must not: its executable documentation.
    matches: tuple[str, ...]
    misses: tuple[str, ...]


def rule(
    name: str,
    label: str | tuple[str, ...],
    weight: float,
    *alternatives: str,
    matches: tuple[str, ...],
    misses: tuple[str, ...],
) -> Rule:
    labels = (label,) if isinstance(label, str) else label
    patterns = tuple(map(AnchoredPattern.compile, alternatives))
    return Rule(name, tuple((each, weight) for each in labels), patterns, matches, misses)


# Verbs that ask for something to be produced.
MAKE = (
    r"(?:generate|genrate|write|create|produce|make|author|build|draft|crank out|come up with"
    r"|synthesi[sz]e|give me|need)"
)
# What a model-evaluation or training artefact is made of.
ITEMS = (
    r"(?:examples?|pairs?|samples?|problems?|tasks?|items?|instances?|prompts?|questions?|exercises?|"
    r"challenges?|puzzles?|conversations?|transcripts?|trajector(?:y|ies)|episodes?|rows?|traces?|"
    r"scenarios?|variants?|responses?|answers?|solutions?|diffs?|prs|snippets?|functions?|queries)"
)
