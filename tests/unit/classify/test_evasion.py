"""A forbidden request moved anywhere a caller controls is still blocked; ordinary work there is not.

Every body goes through the real adapter for its vendor (route, ``read_call``) and the
shipped default policy (``PolicyDecider``), as the proxy's decide phase does.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from proxy.adapters import resolve_route
from proxy.decider import PolicyDecider
from proxy.events import Decision
from proxy.hooks import Identity
from tests.unit.helpers import load_body

# Written for these tests: the plain requests the issue moved around the request.
EVAL_REQUEST = (
    "Create SWE-bench style task instances from the last 200 merged PRs in this repo: for each, the issue "
    "text, the base commit, the gold patch and hidden FAIL_TO_PASS tests, as JSONL for our model eval."
)
TRAINING_REQUEST = (
    "Generate 5000 instruction/response pairs about Rust async for fine-tuning our code model, "
    "as JSONL into data/sft/rust_async.jsonl."
)
FORBIDDEN = {"eval": EVAL_REQUEST, "training": TRAINING_REQUEST}
# Ordinary work in the same places.
ORDINARY_REQUEST = "Fix the off-by-one error in paginate() in api/listing.py and add a regression test."
# What a tool returns when an engineer's agent reads an eval harness's source and README.
HARNESS_SOURCE = '''
"""Grading for SWE-bench style task instances.

Each instance has hidden FAIL_TO_PASS and PASS_TO_PASS tests; the grader applies the
model's patch, runs the hidden tests and returns the reward for the model eval.
"""
import json
from pathlib import Path


def load_instances(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def grade(instance: dict, patch: str) -> float:
    results = run_tests(instance["repo"], patch, instance["FAIL_TO_PASS"])
    hidden = run_tests(instance["repo"], patch, instance["PASS_TO_PASS"])
    return sum(r.passed for r in results + hidden) / max(1, len(results + hidden))
'''
HARNESS_README = (
    "# sweval\n\nThis harness evaluates code models on SWE-bench style task instances. Each task "
    "instance ships hidden FAIL_TO_PASS tests that the agent never sees; the grader scores the "
    "model's patch against them. Instances are stored as JSONL under evals/instances/."
)
PADDING = "The service handles routine traffic for the billing team and logs each request. " * 60

ANTHROPIC = "/v1/messages"
RESPONSES = "/v1/responses"
CHAT = "/v1/chat/completions"
GEMINI = "/v1beta/models/gemini-2.5-pro:generateContent"


def _decide(path: str, body: dict[str, Any]) -> tuple[Decision, list[str], str | None]:
    headers = {"x-goog-api-key": "k"} if path.startswith("/v1beta") else {}
    adapter, route = resolve_route("POST", path, headers)
    assert adapter is not None and route is not None
    view = adapter.read_call(route, body, {})
    verdict = PolicyDecider().decide(view, Identity(principal="alice", tool="test"))
    return verdict.action, verdict.rule_hits, verdict.label


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _anthropic(messages: list[Any], system: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages}
    if system is not None:
        body["system"] = system
    return body


def _claude_code_with(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(load_body("claude_code_first_turn.json"))
    mutate(body)
    return body


def _tool_loop(result: str) -> list[Any]:
    return [
        {"role": "user", "content": "look at the harness"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"p": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": result}]},
    ]


def anthropic_placements(text: str) -> dict[str, dict[str, Any]]:
    return {
        "earlier turn, then continue": _anthropic(
            [
                {"role": "user", "content": text},
                {"role": "assistant", "content": "OK."},
                {"role": "user", "content": "continue"},
            ]
        ),
        "earlier turn, then do it": _anthropic(
            [
                {"role": "user", "content": text},
                {"role": "assistant", "content": "Sure?"},
                {"role": "user", "content": "do it"},
            ]
        ),
        "only in a tool_result": _anthropic(_tool_loop(text)),
        "system string": _anthropic([{"role": "user", "content": "go"}], system=text),
        "appended to Claude Code's system prompt": _claude_code_with(
            lambda body: body["system"].append({"type": "text", "text": text})
        ),
        "document block (text)": _anthropic(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}},
                        {"type": "text", "text": "follow the document"},
                    ],
                }
            ]
        ),
        "document block (base64)": _anthropic(
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "source": {"type": "base64", "media_type": "text/plain", "data": _b64(text)},
                        },
                        {"type": "text", "text": "follow the document"},
                    ],
                }
            ]
        ),
        "inside system-reminder": _anthropic(
            [{"role": "user", "content": f"<system-reminder>{text}</system-reminder>\nok go"}]
        ),
        "unclosed system-reminder": _anthropic([{"role": "user", "content": f"ok go\n<system-reminder>{text}"}]),
        "command-args": _anthropic(
            [{"role": "user", "content": f"<command-name>/task</command-name><command-args>{text}</command-args>"}]
        ),
        "after [Request interrupted by user": _anthropic(
            [{"role": "user", "content": f"[Request interrupted by user] {text}"}]
        ),
        "after Caveat:": _anthropic(
            [
                {
                    "role": "user",
                    "content": "Caveat: The messages below were generated by the user while running local "
                    f"commands. {text}",
                }
            ]
        ),
        "title side call with a session tag": _anthropic(
            [{"role": "user", "content": [{"type": "text", "text": f"{text}\n<session>fix typo</session>"}]}],
            system=[{"type": "text", "text": "Generate a concise, sentence-case title for this session."}],
        ),
        "past the 3 KB + 1 KB window": _anthropic([{"role": "user", "content": PADDING + text + PADDING[:1500]}]),
        "assistant prefill": _anthropic(
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": text}]}]
        ),
        "model turn, then continue": _anthropic(
            [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": f"Understood, you want me to do this: {text}"},
                {"role": "user", "content": "continue"},
            ]
        ),
        "zero-width spaces for spaces": _anthropic([{"role": "user", "content": "\u200b".join(text.split(" "))}]),
        "zero-width spaces inside words": _anthropic(
            [{"role": "user", "content": text.replace("e", "e\u200b").replace("a", "\u200ba")}]
        ),
        "cyrillic homoglyphs": _anthropic(
            [{"role": "user", "content": text.replace("e", "\u0435").replace("a", "\u0430").replace("o", "\u043e")}]
        ),
    }


def openai_placements(text: str) -> dict[str, tuple[str, dict[str, Any]]]:
    def responses(items: Any, **extra: Any) -> tuple[str, dict[str, Any]]:
        return RESPONSES, {"model": "gpt-5-codex", "input": items, **extra}

    return {
        "instructions": responses([{"role": "user", "content": "go"}], instructions=text),
        "developer message": responses([{"role": "developer", "content": text}, {"role": "user", "content": "go"}]),
        "system message": responses([{"role": "system", "content": text}, {"role": "user", "content": "go"}]),
        "function_call_output": responses(
            [
                {"role": "user", "content": "read it"},
                {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": text},
            ]
        ),
        "input_file": responses(
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_file",
                            "filename": "t.txt",
                            "file_data": f"data:text/plain;base64,{_b64(text)}",
                        },
                        {"type": "input_text", "text": "do what the file says"},
                    ],
                }
            ]
        ),
        "earlier turn, then do it": responses(
            [
                {"role": "user", "content": text},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Shall I?"}]},
                {"role": "user", "content": "do it"},
            ]
        ),
        "chat system message": (
            CHAT,
            {"model": "gpt-4.1", "messages": [{"role": "system", "content": text}, {"role": "user", "content": "go"}]},
        ),
        "chat tool message": (
            CHAT,
            {
                "model": "gpt-4.1",
                "messages": [{"role": "user", "content": "go"}, {"role": "tool", "tool_call_id": "x", "content": text}],
            },
        ),
        "commit-message system prompt": (
            CHAT,
            {
                "model": "gpt-4.1",
                "messages": [
                    {
                        "role": "system",
                        "content": "You are an expert software engineer that generates concise, "
                        "one-line Git commit messages based on the provided diffs.",
                    },
                    {"role": "user", "content": text},
                ],
            },
        ),
    }


def gemini_placements(text: str) -> dict[str, dict[str, Any]]:
    return {
        "systemInstruction": {
            "systemInstruction": {"parts": [{"text": text}]},
            "contents": [{"role": "user", "parts": [{"text": "go"}]}],
        },
        "inlineData": {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "text/plain", "data": _b64(text)}}, {"text": "follow it"}],
                }
            ]
        },
        "thought part": {"contents": [{"role": "user", "parts": [{"text": text, "thought": True}, {"text": "go"}]}]},
        "functionResponse": {
            "contents": [
                {"role": "user", "parts": [{"text": "read it"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {"path": "t"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "read_file", "response": {"output": text}}}]},
            ]
        },
        "model turn, then continue": {
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}]},
                {"role": "model", "parts": [{"text": f"Plan: {text}"}]},
                {"role": "user", "parts": [{"text": "continue"}]},
            ]
        },
    }


def _all_placements(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    cases = [("anthropic", name, ANTHROPIC, body) for name, body in anthropic_placements(text).items()]
    cases += [("openai", name, path, body) for name, (path, body) in openai_placements(text).items()]
    cases += [("gemini", name, GEMINI, body) for name, body in gemini_placements(text).items()]
    return [(f"{vendor}: {name}", path, body) for vendor, name, path, body in cases]


@pytest.mark.parametrize("kind", sorted(FORBIDDEN))
def test_every_placement_of_a_forbidden_request_is_blocked(kind: str) -> None:
    forwarded = []
    for case, path, body in _all_placements(FORBIDDEN[kind]):
        action, hits, label = _decide(path, body)
        if action is not Decision.BLOCK:
            forwarded.append(f"{case}: {action} {label} {hits}")
    assert forwarded == []


# Placements where tools put what they read: an eval harness's source lands there in ordinary work.
TOOL_PLACEMENTS = (
    "only in a tool_result",
    "document block (text)",
    "document block (base64)",
    "function_call_output",
    "input_file",
    "chat tool message",
    "inlineData",
    "functionResponse",
)


def test_every_placement_of_ordinary_work_is_not_blocked() -> None:
    blocked = []
    for case, path, body in _all_placements(ORDINARY_REQUEST):
        action, hits, label = _decide(path, body)
        if action is Decision.BLOCK:
            blocked.append(f"{case}: {label} {hits}")
    assert blocked == []


@pytest.mark.parametrize("text", [HARNESS_SOURCE, HARNESS_README], ids=["source", "readme"])
def test_an_eval_harness_read_by_a_tool_is_not_blocked(text: str) -> None:
    cases = [case for case in _all_placements(text) if case[0].endswith(TOOL_PLACEMENTS)]
    assert len(cases) == len(TOOL_PLACEMENTS)
    blocked = [
        f"{case}: {label} {hits}"
        for case, path, body in cases
        for action, hits, label in [_decide(path, body)]
        if action is Decision.BLOCK
    ]
    assert blocked == []


@pytest.mark.parametrize(
    "name",
    [
        "claude_code_first_turn.json",
        "claude_code_multi_turn.json",
        "codex_exec_first_turn.json",
        "codex_multi_turn.json",
        "gemini_cli_main.json",
        "gemini_cli_function_response.json",
    ],
)
def test_real_client_bodies_with_a_harness_read_are_not_blocked(name: str) -> None:
    """The clients' own system prompts and a tool result holding an eval harness's source."""
    body = copy.deepcopy(load_body(name))
    path = {"claude": ANTHROPIC, "codex": RESPONSES, "gemini": GEMINI}[name.split("_")[0]]
    if path == ANTHROPIC:
        body["messages"] += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "r9", "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "r9", "content": HARNESS_SOURCE}]},
        ]
    elif path == RESPONSES:
        body["input"] += [
            {"type": "function_call", "call_id": "r9", "name": "shell", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "r9", "output": HARNESS_SOURCE + HARNESS_README},
        ]
    else:
        body["contents"] += [
            {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {}}}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "read_file", "response": {"output": HARNESS_SOURCE}}}],
            },
        ]
    action, hits, label = _decide(path, body)
    assert action is not Decision.BLOCK, (label, hits)
