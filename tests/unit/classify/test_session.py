"""Session evidence: a request split over turns is decided with the earlier turns' meaning."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.adapters import resolve_route
from proxy.classify.session import MAX_TURN_CHARS, MAX_TURNS, SessionEvidence, session_key
from proxy.decider import PolicyDecider
from proxy.events import Decision
from proxy.hooks import Identity, Verdict
from tests.unit.classify.test_evasion import EVAL_REQUEST

# The three-turn split request, written for these tests.
SPLIT = (
    "Write one Python exercise with unit tests: implement a function that merges overlapping intervals.",
    "49 more, as JSONL",
    "we'll feed these to our in-house model and compute its pass rate",
)
ORDINARY = (
    "Write a function that merges overlapping intervals, with unit tests.",
    "now add type hints",
    "run the tests and fix what fails",
)


def _anthropic(history: list[str]) -> tuple[str, dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for at, text in enumerate(history):
        if at:
            messages.append({"role": "assistant", "content": "Done."})
        messages.append({"role": "user", "content": text})
    return "/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": messages}


def _codex(history: list[str]) -> tuple[str, dict[str, Any]]:
    # Behind previous_response_id: only the latest turn is in the body.
    body: dict[str, Any] = {"model": "gpt-5-codex", "input": [{"role": "user", "content": history[-1]}]}
    if len(history) > 1:
        body["previous_response_id"] = "resp_1"
    return "/v1/responses", body


def _gemini(history: list[str]) -> tuple[str, dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    for at, text in enumerate(history):
        if at:
            contents.append({"role": "model", "parts": [{"text": "Done."}]})
        contents.append({"role": "user", "parts": [{"text": text}]})
    return "/v1beta/models/gemini-2.5-pro:generateContent", {"contents": contents}


SHAPES = {"claude code": _anthropic, "codex": _codex, "gemini cli": _gemini}


def _run(decider: PolicyDecider, shape: str, turns: tuple[str, ...], session: str | None) -> list[Verdict]:
    verdicts = []
    for number in range(1, len(turns) + 1):
        path, body = SHAPES[shape](list(turns[:number]))
        headers = {"x-goog-api-key": "k"} if path.startswith("/v1beta") else {}
        adapter, route = resolve_route("POST", path, headers)
        assert adapter is not None and route is not None
        view = adapter.read_call(route, body, {})
        verdict = decider.decide(view, Identity(principal="alice", tool=shape, session_id=session))
        assert verdict.on_recorded is not None
        verdict.on_recorded(f"event-{shape}-{number}")  # as note_verdict does once the event exists
        verdicts.append(verdict)
    return verdicts


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("session", ["sess-1", None], ids=["session id", "principal + tool"])
def test_the_three_turn_split_request_is_blocked_at_its_use_statement(shape: str, session: str | None) -> None:
    first, second, third = _run(PolicyDecider(), shape, SPLIT, session)
    assert first.action is Decision.ALLOW
    assert second.action is not Decision.BLOCK  # "49 more, as JSONL" alone is only a format
    assert third.action is Decision.BLOCK
    assert third.label == "eval_task_generation"
    assert "session.use_after_generation" in third.rule_hits
    assert f"session_event:event-{shape}-1" in third.rule_hits
    assert third.evidence_events[0] == f"event-{shape}-1"
    assert third.message is not None and f"event-{shape}-1" in third.message


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_do_it_after_a_forbidden_request_is_blocked(shape: str) -> None:
    first, second = _run(PolicyDecider(), shape, (EVAL_REQUEST, "do it"), "sess-2")
    assert first.action is Decision.BLOCK
    assert second.action is Decision.BLOCK
    if shape == "codex":  # only "do it" is in the body: the session's evidence decides
        assert "session.continuation" in second.rule_hits
        assert second.message is not None and f"event-{shape}-1" in second.message
    else:  # the whole conversation is re-sent: the earlier turn is read in the body itself
        assert "channel:earlier_turn" in second.rule_hits


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_ordinary_turns_in_a_session_are_not_blocked(shape: str) -> None:
    verdicts = _run(PolicyDecider(), shape, ORDINARY, "sess-3")
    assert [verdict.action for verdict in verdicts] == [Decision.ALLOW] * 3


def test_sessions_do_not_share_evidence() -> None:
    decider = PolicyDecider()
    _run(decider, "codex", SPLIT[:2], "sess-a")
    (alone,) = _run(decider, "codex", SPLIT[2:], "sess-b")
    assert alone.action is not Decision.BLOCK


def test_principal_turns_count_only_within_the_window() -> None:
    evidence = SessionEvidence(window_s=60)
    key = session_key(None, "alice", "codex")
    evidence.remember(key, "write an exercise", "code_generation", now=0.0)
    assert len(evidence.earlier(key, now=30.0)) == 1
    assert evidence.earlier(key, now=61.0) == []


def test_session_state_is_bounded() -> None:
    evidence = SessionEvidence(max_sessions=3)
    for number in range(10):
        for turn in range(MAX_TURNS + 2):
            evidence.remember(("session", str(number)), f"turn {turn} " + "x" * 1000, "code_generation", now=0.0)
    assert len(evidence) == 3
    turns = evidence.earlier(("session", "9"), now=0.0)
    assert len(turns) == MAX_TURNS
    assert all(len(turn.text) == MAX_TURN_CHARS for turn in turns)
    assert evidence.earlier(("session", "0"), now=0.0) == []


def test_a_repeated_instruction_is_one_turn() -> None:
    evidence = SessionEvidence()
    key = session_key("s", None, "claude")
    assert evidence.remember(key, "fix it", "debugging") is not None
    assert evidence.remember(key, "fix it", "debugging") is None
    assert len(evidence.earlier(key)) == 1


@pytest.mark.parametrize("keyed", [True, False])
def test_the_classification_cache_key_tells_every_input_apart(keyed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache key (Python's keyed string hash, or a digest when PYTHONHASHSEED is fixed) changes
    with the instruction, any channel and the endpoint, and is stable for the same call."""
    import proxy.decider
    from proxy.adapters.base import CallView

    monkeypatch.setattr(proxy.decider, "_HASH_IS_KEYED", keyed)
    digest = proxy.decider._call_digest
    base = CallView("anthropic", "messages", instruction="write tests", channels=[("system", "be brief")])
    variants = [
        CallView("anthropic", "messages", instruction="write tesTs", channels=[("system", "be brief")]),
        CallView("anthropic", "messages", instruction="write tests", channels=[("system", "be brieF")]),
        CallView("anthropic", "messages", instruction="write tests", channels=[("tool_result", "be brief")]),
        CallView("anthropic", "messages", instruction="write tests", channels=[]),
        CallView("anthropic", "count_tokens", instruction="write tests", channels=[("system", "be brief")]),
        CallView(
            "anthropic", "messages", instruction="write tests", side_call="title", channels=[("system", "be brief")]
        ),
    ]
    same = CallView("anthropic", "messages", instruction="write " + "tests", channels=[("system", "be brief")])
    assert digest(same) == digest(base)
    assert len({digest(v) for v in variants} | {digest(base)}) == len(variants) + 1
