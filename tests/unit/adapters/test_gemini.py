"""Gemini adapter: request reading, SSE and JSON-array streams, errors, credentials."""

from __future__ import annotations

import json

import pytest

from proxy.adapters.base import MAX_COLLECTED_TEXT, CallView, ErrorKind, Route
from proxy.adapters.gemini import ADAPTER, GeminiOutcomeParser, JSONElementSplitter
from tests.unit.helpers import EXPECTED, load_body, outcome_any_chunking, read_body, sse

GEMINI = {"x-goog-api-key": "g"}
STREAM_ROUTE = Route(
    "gemini",
    "streamGenerateContent",
    "/v1beta/models/gemini-3.8-flash:streamGenerateContent",
    "POST",
    has_body=True,
    model_from_path="gemini-3.8-flash",
    streams_from_path=True,
)
FILES = [name for name, e in EXPECTED.items() if ":" in e["path"]]


@pytest.mark.parametrize("name", FILES)
def test_read_call_on_realistic_bodies(name: str) -> None:
    view = read_body(name, GEMINI)
    expected = EXPECTED[name]
    assert view.vendor == "gemini"
    for field in ("model", "stream", "turn_count", "instruction", "side_call", "session_hint"):
        assert getattr(view, field) == expected[field], field


def test_router_detected_by_schema_alone() -> None:
    body = load_body("gemini_cli_router.json")
    body["systemInstruction"] = {"parts": [{"text": "Route this."}]}
    assert ADAPTER.read_call(STREAM_ROUTE, body, {}).side_call == "router"
    del body["generationConfig"]
    assert ADAPTER.read_call(STREAM_ROUTE, body, {}).side_call is None


def test_only_function_responses_means_no_new_instruction_in_last_turn() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
            {"role": "user", "parts": [{"text": "hidden thought", "thought": True}, {"inlineData": {}}]},
            {"parts": [{"text": "no role means user"}]},
            {"role": "model", "parts": [{"text": "answer"}]},
            {"role": "user", "parts": "not a list"},
            "junk",
        ],
        "system_instruction": "plain string system",
        "generation_config": [],
    }
    view = ADAPTER.read_call(STREAM_ROUTE, body, {})
    assert view.instruction == "no role means user"
    assert view.extras["system_head"] == "plain string system"
    assert view.stream and view.model == "gemini-3.8-flash" and view.turn_count == 6


def test_count_tokens_with_wrapped_request() -> None:
    route = Route("gemini", "countTokens", "/v1/models/m:countTokens", "POST", True, model_from_path="m")
    body = {
        "generateContentRequest": {
            "model": "models/m",
            "contents": [{"role": "user", "parts": [{"text": "count me"}]}],
        }
    }
    view = ADAPTER.read_call(route, body, {})
    assert view.instruction == "count me" and view.side_call is None and not view.stream


@pytest.mark.parametrize(
    ("body", "message"),
    [(["x"], "JSON object"), ({"contents": {"role": "user"}}, "'contents' must be a list")],
)
def test_wrong_shapes_raise(body: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ADAPTER.read_call(STREAM_ROUTE, body, {})


# --- outcome parsing -------------------------------------------------------------------------

CHUNKS = [
    {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Checking the {loader} [first]", "thought": True}],
                },
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 42, "totalTokenCount": 42},
        "modelVersion": "gemini-3.1-pro-preview",
    },
    {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": 'Hello "quoted" \\ back\\\\slash ]} '}]},
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 42, "totalTokenCount": 44},
        "modelVersion": "gemini-3.1-pro-preview",
    },
    {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": "read_file", "args": {"path": "a.py"}},
                            "thoughtSignature": "CiQ",
                        },
                        {"functionCall": {"name": "glob", "args": {"pattern": "**/*.py"}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 42,
            "candidatesTokenCount": 7,
            "thoughtsTokenCount": 5,
            "cachedContentTokenCount": 30,
            "totalTokenCount": 54,
        },
        "modelVersion": "gemini-3.1-pro-preview",
        "responseId": "abc",
    },
]


def check_full(outcome: object) -> None:
    from proxy.adapters.base import CallOutcome

    assert isinstance(outcome, CallOutcome)
    assert outcome.thinking == "Checking the {loader} [first]"
    assert outcome.text == 'Hello "quoted" \\ back\\\\slash ]} '
    assert [(c.name, json.loads(c.arguments)) for c in outcome.tool_calls] == [
        ("read_file", {"path": "a.py"}),
        ("glob", {"pattern": "**/*.py"}),
    ]
    usage = outcome.usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.cache_read_tokens) == (
        42,
        7,
        5,
        30,
    )
    assert (outcome.stop_reason, outcome.response_id, outcome.model) == (
        "STOP",
        "abc",
        "gemini-3.1-pro-preview",
    )
    assert outcome.complete and not outcome.truncated


def test_sse_stream() -> None:
    body = sse([(None, c) for c in CHUNKS])
    check_full(outcome_any_chunking(lambda: GeminiOutcomeParser(sse=True), body))


def test_json_array_stream() -> None:
    # The shape the API streams without alt=sse: a pretty-printed array, one element at a time.
    body = ("[" + "\n,\r\n".join(json.dumps(c, indent=2) for c in CHUNKS) + "]").encode()
    check_full(outcome_any_chunking(lambda: GeminiOutcomeParser(sse=False), body))


def test_plain_generate_content_json() -> None:
    body = json.dumps(CHUNKS[2]).encode()
    outcome = outcome_any_chunking(lambda: GeminiOutcomeParser(sse=False), body)
    assert outcome.complete and len(outcome.tool_calls) == 2


def test_stream_without_finish_reason_is_incomplete() -> None:
    body = sse([(None, c) for c in CHUNKS[:2]])
    outcome = outcome_any_chunking(lambda: GeminiOutcomeParser(sse=True), body)
    assert not outcome.complete and outcome.usage.input_tokens == 42 and outcome.usage.output_tokens is None


def test_cut_json_array_keeps_complete_elements() -> None:
    whole = ("[" + ",".join(json.dumps(c) for c in CHUNKS) + "]").encode()
    cut = whole[: whole.index(b"read_file")]
    outcome = outcome_any_chunking(lambda: GeminiOutcomeParser(sse=False), cut)
    assert outcome.text.startswith("Hello") and not outcome.tool_calls and not outcome.complete


@pytest.mark.parametrize(
    "body",
    [
        b'{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}',
        b'[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]',
        b'data: {"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}\n\n',
    ],
)
def test_errors(body: bytes) -> None:
    outcome = outcome_any_chunking(lambda: GeminiOutcomeParser(sse=body.startswith(b"data")), body)
    assert (outcome.error_type, outcome.error_message) == ("RESOURCE_EXHAUSTED", "Quota exceeded")


def test_count_tokens_and_prompt_block() -> None:
    count = outcome_any_chunking(lambda: GeminiOutcomeParser(sse=False), b'{"totalTokens": 31}')
    assert count.usage.input_tokens == 31 and count.complete
    blocked = outcome_any_chunking(
        lambda: GeminiOutcomeParser(sse=False), b'{"promptFeedback":{"blockReason":"SAFETY"}}'
    )
    assert blocked.stop_reason == "SAFETY" and blocked.complete


def test_memory_cap_on_both_stream_shapes() -> None:
    piece = {"candidates": [{"content": {"parts": [{"text": "w" * 2000}]}, "index": 0}]}
    for is_sse, chunk in ((True, sse([(None, piece)])), (False, json.dumps(piece).encode() + b",")):
        p = GeminiOutcomeParser(sse=is_sse)
        if not is_sse:
            p.feed(b"[")
        for _ in range((10 * 1024 * 1024) // len(chunk) + 1):
            p.feed(chunk)
        outcome = p.finish()
        assert len(outcome.text) == MAX_COLLECTED_TEXT and outcome.truncated


def test_splitter_drops_oversized_element_and_recovers() -> None:
    splitter = JSONElementSplitter(cap=100)
    elements = splitter.feed(b'[{"a":"' + b"x" * 500 + b'"},{"b":"[}\\"{"}]')
    assert elements == [b'{"b":"[}\\"{"}']
    assert splitter.overflowed


def test_escape_split_across_chunks() -> None:
    splitter = JSONElementSplitter()
    body = b'[{"t":"a\\"}b"},{"u":1}]'
    split_at = body.index(b"\\") + 1  # chunk ends right after the backslash
    assert splitter.feed(body[:split_at]) + splitter.feed(body[split_at:]) == [b'{"t":"a\\"}b"}', b'{"u":1}']


def test_parser_choice_follows_content_type() -> None:
    call = CallView("gemini", "streamGenerateContent", stream=True)
    p = ADAPTER.outcome_parser(STREAM_ROUTE, call, "text/event-stream")
    p.feed(sse([(None, CHUNKS[2])]))
    assert p.finish().complete
    p = ADAPTER.outcome_parser(STREAM_ROUTE, call, "application/json; charset=UTF-8")
    p.feed(b"[" + json.dumps(CHUNKS[2]).encode() + b"]")
    assert p.finish().complete


# --- errors, credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code", "no_retry"),
    [
        (ErrorKind.INVALID_REQUEST, 400, "INVALID_ARGUMENT", True),
        (ErrorKind.POLICY_BLOCK, 403, "PERMISSION_DENIED", True),
        (ErrorKind.UNAUTHENTICATED, 401, "UNAUTHENTICATED", True),
        (ErrorKind.NOT_FOUND, 404, "NOT_FOUND", True),
        (ErrorKind.TOO_LARGE, 413, "INVALID_ARGUMENT", True),
        (ErrorKind.UPGRADE_REFUSED, 426, "FAILED_PRECONDITION", True),
        (ErrorKind.UPSTREAM_UNREACHABLE, 502, "UNAVAILABLE", False),
        (ErrorKind.UPSTREAM_TIMEOUT, 504, "DEADLINE_EXCEEDED", False),
        (ErrorKind.UNAVAILABLE, 503, "UNAVAILABLE", False),
    ],
)
def test_error_reply(kind: ErrorKind, status: int, code: str, no_retry: bool) -> None:
    reply = ADAPTER.error_reply(kind, "Blocked: eval task generation.")
    headers = dict(reply.headers)
    assert reply.status == status and headers["content-type"] == "application/json"
    assert (headers.get("x-should-retry") == "false") is no_retry
    assert json.loads(reply.body) == {
        "error": {"code": status, "message": "Blocked: eval task generation.", "status": code, "details": []}
    }


def test_credentials() -> None:
    assert ADAPTER.credential({"x-goog-api-key": "h"}, {"key": "q"}) == "h"
    assert ADAPTER.credential({}, {"key": "q"}) == "q"
    assert ADAPTER.credential({"authorization": "Bearer ya29.tok"}, {}) == "ya29.tok"
    assert ADAPTER.credential({}, {}) is None
    assert ADAPTER.upstream_credentials("org") == {"x-goog-api-key": "org"}
    assert ADAPTER.credential_query_params() == ("key",)
