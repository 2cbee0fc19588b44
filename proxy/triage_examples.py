"""Settled triage verdicts as labelled examples in ``provproxy classify`` input format.

A *violation* confirms the sensitive label the call was recorded with. A *benign* verdict says
the call was ordinary work that looked sensitive: it becomes a hard negative labelled with the
ordinary-work label the classifier scored highest. Calls whose label cannot be stated that
way (a violation of an ordinary label, no instruction kept) are left out, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from proxy.classify import BENIGN_LABELS, SENSITIVE_LABELS
from proxy.store.recorded_calls import Judged


def example(judged: Judged) -> dict[str, Any] | None:
    """One JSONL row for ``provproxy classify --eval`` and the training set, or None."""
    call = judged.call
    if not call.instruction:
        return None
    if judged.verdict == "violation":
        if call.use_label not in SENSITIVE_LABELS:
            return None
        label, hard_negative = call.use_label, False
    else:
        scored = [(call.scores.get(name, 0.0), name) for name in BENIGN_LABELS if name in call.scores]
        if not scored:
            return None
        label, hard_negative = max(scored)[1], True
    row: dict[str, Any] = {
        "id": call.id,
        "text": call.instruction,
        "label": label,
        "hard_negative": hard_negative,
        "vendor": call.vendor,
        "principal": call.principal,
        "team": call.team,
        "tool": call.tool,
        "source": "triage",
        "verdict": judged.verdict,
        "recorded_label": call.use_label,
    }
    if judged.note:
        row["note"] = judged.note
    return row


def examples(verdicts: Iterable[Judged]) -> Iterator[dict[str, Any]]:
    for judged in verdicts:
        row = example(judged)
        if row is not None:
            yield row
