"""The shipped code-analysis policy: test tasks, training data and analysis of our code are blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

import proxy
from proxy.adapters.base import CallView
from proxy.classify import classify_text
from proxy.decider import PolicyDecider
from proxy.events import Decision
from proxy.hooks import Identity
from tests.unit.classify.test_evasion import EVAL_REQUEST, TRAINING_REQUEST

POLICY = Path(proxy.__file__).parent / "policies" / "code_analysis.yaml"
# Written for these tests.
ANALYSIS = [
    "Review our payments service for security vulnerabilities and explain each finding.",
    "Explain the architecture of this repository: which modules depend on which, and why.",
]
ORDINARY = [
    "a PyTorch data loader for our training data",
    "Write a PyTorch data loader for our training data",
    "Implement retry with exponential backoff in http_client.py.",
    "Write pytest unit tests for the invoice rounding helper.",
]


def _decide(text: str) -> tuple[Decision, str | None, str | None]:
    decider = PolicyDecider(POLICY)
    verdict = decider.decide(
        CallView(vendor="anthropic", endpoint="messages", instruction=text), Identity(principal="bob", tool="t")
    )
    return verdict.action, verdict.policy_rule, verdict.message


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (EVAL_REQUEST, "block-eval-task-generation"),
        (TRAINING_REQUEST, "block-training-data-generation"),
        *((text, "block-code-analysis") for text in ANALYSIS),
    ],
)
def test_test_tasks_training_data_and_code_analysis_are_blocked_naming_the_rule(text: str, rule: str) -> None:
    action, policy_rule, message = _decide(text)
    assert action is Decision.BLOCK
    assert policy_rule == rule
    assert message is not None and f'rule "{rule}"' in message


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_work_is_allowed(text: str) -> None:
    assert _decide(text)[0] is Decision.ALLOW


def test_a_data_loader_for_training_data_is_code_generation() -> None:
    assert classify_text("a PyTorch data loader for our training data").label == "code_generation"
