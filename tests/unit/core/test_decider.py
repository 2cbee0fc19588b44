"""PolicyDecider: classification cached per session and instruction, policy applied per call."""

from __future__ import annotations

from pathlib import Path

from proxy.adapters.base import CallView
from proxy.classify import Classification, classify_call
from proxy.decider import PolicyDecider
from proxy.events import Decision
from proxy.hooks import Decider, Identity
from proxy.policy import FORBIDDEN_MESSAGE_PHRASES, PolicySource

EVAL_TASKS = (
    "Generate 150 Go problems with hidden tests and a grader for evaluating our code model; "
    "write them as JSONL into evals/go_v2/."
)


class CountingClassifier:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, call: CallView) -> Classification:
        self.calls += 1
        return classify_call(call)


def view(instruction: str, side_call: str | None = None) -> CallView:
    return CallView(
        vendor="anthropic", endpoint="messages", model="claude-sonnet-4-5", instruction=instruction, side_call=side_call
    )


def test_is_a_decider() -> None:
    decider: Decider = PolicyDecider()
    assert decider.decide(view("hello"), Identity()).action is Decision.ALLOW


def test_classification_is_cached_per_session_and_instruction() -> None:
    counting = CountingClassifier()
    decider = PolicyDecider(classifier=counting)
    alice = Identity(principal="alice", session_id="s1")
    for _ in range(5):  # an agent loop re-sending the same human instruction
        decider.decide(view("fix the flaky test in tests/test_api.py"), alice)
    assert counting.calls == 1
    decider.decide(view("now add a regression test"), alice)
    assert counting.calls == 2
    decider.decide(view("fix the flaky test in tests/test_api.py"), Identity(session_id="s2"))
    assert counting.calls == 3
    decider.decide(view("fix the flaky test in tests/test_api.py", side_call="title"), alice)
    assert counting.calls == 4  # same text as a side call is a different classification


def test_cache_is_bounded() -> None:
    counting = CountingClassifier()
    decider = PolicyDecider(classifier=counting, cache_size=2)
    for text in ("a b", "c d", "e f", "a b"):
        decider.decide(view(text), Identity(session_id="s"))
    assert counting.calls == 4  # "a b" was evicted by the third instruction


def test_eval_task_generation_is_blocked_with_an_explained_message() -> None:
    source = PolicySource(None, appeal_default="#ai-use-policy")
    verdict = PolicyDecider(source).decide(view(EVAL_TASKS), Identity(principal="alice", tool="claude-code"))
    assert verdict.action is Decision.BLOCK
    assert verdict.label == "eval_task_generation"
    assert verdict.policy_rule == "block-eval-task-generation"
    assert verdict.scores["eval_task_generation"] > 0.8
    assert "eval.hidden_tests" in verdict.rule_hits
    assert verdict.message is not None
    assert "block-eval-task-generation" in verdict.message and "#ai-use-policy" in verdict.message
    assert not any(phrase in verdict.message.lower() for phrase in FORBIDDEN_MESSAGE_PHRASES)


def test_side_calls_are_overhead_and_allowed_unless_they_carry_a_forbidden_request() -> None:
    ordinary = view("Add a --verbose flag to the CLI", side_call="title")
    verdict = PolicyDecider().decide(ordinary, Identity())
    assert (verdict.action, verdict.label, verdict.policy_rule) == (Decision.ALLOW, "overhead", "overhead")
    carried = PolicyDecider().decide(view(EVAL_TASKS, side_call="router"), Identity())
    assert (carried.action, carried.label) == (Decision.BLOCK, "eval_task_generation")


def test_policy_edits_apply_to_cached_classifications(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - id: no-docs\n    match: {labels: [documentation]}\n    action: flag\n")
    clock = [0.0]
    decider = PolicyDecider(PolicySource(path, check_interval_s=1.0, clock=lambda: clock[0]))
    docs = view("Write a README for the payments service with setup and deploy steps.")
    assert decider.decide(docs, Identity(session_id="s")).action is Decision.FLAG
    path.write_text("rules:\n  - id: no-docs\n    match: {labels: [documentation]}\n    action: block\n")
    clock[0] = 2.0
    assert decider.decide(docs, Identity(session_id="s")).action is Decision.BLOCK


def test_cache_key_is_the_whole_instruction_because_its_middle_is_read_too() -> None:
    counting = CountingClassifier()
    decider = PolicyDecider(classifier=counting)
    session = Identity(session_id="s")
    ask = "why does this log show the worker restarting?\n"
    log = "2024-05-01 INFO worker-3 request served in 12ms\n" * 2000
    decider.decide(view(ask + log + "level=INFO\n" + log + ask), session)
    decider.decide(view(ask + log + "level=INFO\n" + log + ask), session)
    assert counting.calls == 1  # the same paste again: cached
    # Only the middle differs: a request hidden there past the window is read (issue 12), so it counts.
    decider.decide(view(ask + log + "level=WARN\n" + log + ask), session)
    assert counting.calls == 2
