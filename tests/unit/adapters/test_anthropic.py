"""Anthropic adapter: request reading, outcome parsing, errors, credentials."""

from __future__ import annotations

import json

import orjson
import pytest

from proxy.adapters.anthropic import ADAPTER, AnthropicOutcomeParser
from proxy.adapters.base import MAX_COLLECTED_TEXT, MAX_INSTRUCTION_CHARS, CallView, ErrorKind, Route
from tests.unit.helpers import EXPECTED, load_body, outcome_any_chunking, read_body, sse

MESSAGES = Route("anthropic", "messages", "/v1/messages", "POST", has_body=True)
FILES = [name for name, e in EXPECTED.items() if e["path"].startswith("/v1/messages")]


@pytest.mark.parametrize("name", FILES)
def test_read_call_on_realistic_bodies(name: str) -> None:
    view = read_body(name)
    expected = EXPECTED[name]
    assert view.vendor == "anthropic"
    for field in ("model", "stream", "turn_count", "instruction", "side_call", "session_hint"):
        assert getattr(view, field) == expected[field], field


def test_claude_code_fingerprints_go_to_extras() -> None:
    view = read_body("claude_code_first_turn.json")
    assert view.extras["cc_version"] == "2.1.197.fa0"
    assert view.extras["cc_entrypoint"] == "sdk-cli"
    assert view.extras["system_head"].startswith("You are a Claude agent")


def test_title_detected_by_schema_alone() -> None:
    body = load_body("claude_code_title.json")
    body["system"] = "Some future title prompt wording"
    assert ADAPTER.read_call(MESSAGES, body, {}).side_call == "title"
    body["tools"] = [{"name": "Bash"}]
    assert ADAPTER.read_call(MESSAGES, body, {}).side_call is None


def test_tolerates_odd_but_valid_json() -> None:
    body = {
        "model": "claude-x",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first ask"}]},
            "not a message",
            {"role": "critic", "content": "unknown role"},
            {"content": "no role at all"},
            {"role": "user", "content": [{"type": "mystery_block", "x": 1}, 42, None, {"type": "text", "text": 7}]},
            {"role": "user"},
            {"role": "assistant", "content": None},
        ],
        "metadata": "not an object",
        "system": [{"type": "text"}, "odd"],
        "output_config": [],
        "stream": "yes",
    }
    view = ADAPTER.read_call(MESSAGES, body, {})
    assert view.instruction == "first ask"
    assert view.stream is False and view.session_hint is None and view.side_call is None
    assert view.turn_count == 7


def test_string_content_and_wrappers_embedded_in_text() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": "<system-reminder>\nctx\n</system-reminder>\nPlease fix the bug"
                "<system-reminder>x</system-reminder>",
            }
        ]
    }
    assert ADAPTER.read_call(MESSAGES, body, {}).instruction == "Please fix the bug"


def test_instruction_is_capped() -> None:
    body = {"messages": [{"role": "user", "content": "x" * (MAX_INSTRUCTION_CHARS * 2)}]}
    assert len(ADAPTER.read_call(MESSAGES, body, {}).instruction) == MAX_INSTRUCTION_CHARS


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ("hi", "JSON object"),
        ({"messages": {"role": "user"}}, "'messages' must be a list"),
        ({"model": 5, "messages": []}, "'model' must be a string"),
        ({"messages": [], "system": 3}, "'system'"),
    ],
)
def test_wrong_shapes_raise_clear_value_error(body: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ADAPTER.read_call(MESSAGES, body, {})


def test_bodyless_routes() -> None:
    head = Route("anthropic", "preconnect", "/", "HEAD", has_body=False)
    assert ADAPTER.read_call(head, None, {}).endpoint == "preconnect"
    get = Route("anthropic", "models.get", "/v1/models/claude-opus-4-8", "GET", has_body=False)
    assert ADAPTER.read_call(get, None, {}).model == "claude-opus-4-8"


def test_count_tokens_is_an_endpoint_not_a_side_call() -> None:
    route = Route("anthropic", "count_tokens", "/v1/messages/count_tokens", "POST", has_body=True)
    view = ADAPTER.read_call(route, load_body("sdk_anthropic_simple.json"), {})
    assert view.endpoint == "count_tokens" and view.side_call is None and view.instruction == "hi"


# --- outcome parsing -------------------------------------------------------------------------

TOOL_STREAM = sse(
    [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01X",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-opus-4-8",
                    "content": [],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": 42,
                        "output_tokens": 1,
                        "cache_creation_input_tokens": 100,
                        "cache_read_input_tokens": 2000,
                    },
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Need "}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "tests."}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQ"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Héllo "}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "wörld ✓"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"command":'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": ' "ls -la"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 57},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)


def parser(streaming: bool = True) -> AnthropicOutcomeParser:
    return AnthropicOutcomeParser(streaming)


def test_stream_with_thinking_text_and_tool_call() -> None:
    outcome = outcome_any_chunking(parser, TOOL_STREAM)
    assert outcome.text == "Héllo wörld ✓"
    assert outcome.thinking == "Need tests."
    assert len(outcome.tool_calls) == 1
    call = outcome.tool_calls[0]
    assert (call.name, call.call_id) == ("Bash", "toolu_01A")
    assert json.loads(call.arguments) == {"command": "ls -la"}
    assert outcome.usage.input_tokens == 42 and outcome.usage.output_tokens == 57
    assert outcome.usage.cache_write_tokens == 100 and outcome.usage.cache_read_tokens == 2000
    assert (outcome.stop_reason, outcome.response_id, outcome.model) == ("tool_use", "msg_01X", "claude-opus-4-8")
    assert outcome.complete and not outcome.truncated and outcome.error_type is None


def test_multi_line_data_and_comments() -> None:
    body = (
        b": keep-alive comment\n"
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":0,\n'
        b'data: "delta":{"type":"text_delta","text":"hi"}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    outcome = outcome_any_chunking(parser, body)
    assert outcome.text == "hi" and outcome.complete


def test_truncated_stream_is_not_complete() -> None:
    cut = TOOL_STREAM[: TOOL_STREAM.index(b"event: message_delta")]
    outcome = outcome_any_chunking(parser, cut)
    assert not outcome.complete
    assert outcome.text == "Héllo wörld ✓"
    assert outcome.stop_reason is None and outcome.usage.output_tokens == 1


def test_in_stream_error() -> None:
    body = TOOL_STREAM[: TOOL_STREAM.index(b"event: content_block_start")] + sse(
        [("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]
    )
    outcome = outcome_any_chunking(parser, body)
    assert (outcome.error_type, outcome.error_message) == ("overloaded_error", "Overloaded")
    assert not outcome.complete


def test_memory_cap_on_huge_stream() -> None:
    delta = sse(
        [
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "y" * 1000}},
            )
        ]
    )
    p = parser()
    fed = 0
    while fed < 10 * 1024 * 1024:
        p.feed(delta)
        fed += len(delta)
    outcome = p.finish()
    assert len(outcome.text) == MAX_COLLECTED_TEXT and outcome.truncated and not outcome.complete


def test_overlong_partial_line_is_dropped_not_kept() -> None:
    p = parser()
    p.feed(b"data: " + b"z" * (5 * 1024 * 1024))  # no line end: would grow forever
    p.feed(b"\n\n" + sse([("message_stop", {"type": "message_stop"})]))
    outcome = p.finish()
    assert outcome.truncated and outcome.complete and outcome.text == ""


def test_garbage_never_raises() -> None:
    p = parser()
    for chunk in (b"\xff\xfe\x00", b"data: {not json}\n\n", b"data: [1,2]\n\n", b"data: null\n\n", b"\r\r\n\n"):
        p.feed(chunk)
    outcome = p.finish()
    assert not outcome.complete
    assert p.finish() is outcome  # finish is idempotent


def test_non_streaming_message() -> None:
    body = orjson.dumps(
        {
            "id": "msg_02",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "text", "text": "Done."},
                {"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {"file_path": "/a"}},
            ],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 3},
        }
    )
    outcome = outcome_any_chunking(lambda: parser(False), body)
    assert (outcome.text, outcome.thinking) == ("Done.", "hmm")
    assert outcome.tool_calls[0].name == "Read" and json.loads(outcome.tool_calls[0].arguments) == {"file_path": "/a"}
    assert outcome.complete and outcome.stop_reason == "end_turn" and outcome.usage.output_tokens == 3


def test_json_error_body_and_count_tokens() -> None:
    error = orjson.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}})
    outcome = outcome_any_chunking(lambda: parser(False), error)
    assert (outcome.error_type, outcome.error_message) == ("rate_limit_error", "Slow down")
    count = outcome_any_chunking(lambda: parser(False), b'{"input_tokens": 42}')
    assert count.usage.input_tokens == 42 and count.complete


def test_json_body_over_cap_is_truncated() -> None:
    p = parser(False)
    p.feed(b'{"type":"message","content":[{"type":"text","text":"')
    for _ in range(9):
        p.feed(b"a" * (1024 * 1024))
    outcome = p.finish()
    assert outcome.truncated and not outcome.complete


def test_parser_choice_follows_content_type() -> None:
    stream_call = CallView("anthropic", "messages", stream=True)
    sse_parser = ADAPTER.outcome_parser(MESSAGES, stream_call, "text/event-stream; charset=utf-8")
    sse_parser.feed(TOOL_STREAM)
    assert sse_parser.finish().complete
    # A streaming request answered with a JSON error is parsed as JSON.
    json_parser = ADAPTER.outcome_parser(MESSAGES, stream_call, "application/json")
    json_parser.feed(b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}')
    assert json_parser.finish().error_type == "invalid_request_error"


# --- errors, credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "error_type", "no_retry"),
    [
        (ErrorKind.INVALID_REQUEST, 400, "invalid_request_error", True),
        (ErrorKind.POLICY_BLOCK, 400, "invalid_request_error", True),
        (ErrorKind.UNAUTHENTICATED, 401, "authentication_error", True),
        (ErrorKind.NOT_FOUND, 404, "not_found_error", True),
        (ErrorKind.TOO_LARGE, 413, "request_too_large", True),
        (ErrorKind.UPGRADE_REFUSED, 426, "invalid_request_error", True),
        (ErrorKind.UPSTREAM_UNREACHABLE, 502, "api_error", False),
        (ErrorKind.UPSTREAM_TIMEOUT, 504, "timeout_error", False),
        (ErrorKind.UNAVAILABLE, 503, "api_error", False),
    ],
)
def test_error_reply(kind: ErrorKind, status: int, error_type: str, no_retry: bool) -> None:
    reply = ADAPTER.error_reply(kind, "Refused: rule X. Appeal at go/appeal", request_id="req_123")
    headers = dict(reply.headers)
    body = json.loads(reply.body)
    assert reply.status == status
    assert headers["content-type"] == "application/json"
    assert (headers.get("x-should-retry") == "false") is no_retry
    assert body["type"] == "error"
    assert body["error"] == {"type": error_type, "message": "Refused: rule X. Appeal at go/appeal"}
    assert body["request_id"] == "req_123"
    assert ("message" in body) is (kind is ErrorKind.POLICY_BLOCK)


def test_error_reply_without_request_id() -> None:
    body = json.loads(ADAPTER.error_reply(ErrorKind.NOT_FOUND, "no").body)
    assert "request_id" not in body


def test_credentials() -> None:
    assert ADAPTER.credential({"x-api-key": "sk-ant-1"}, {}) == "sk-ant-1"
    assert ADAPTER.credential({"authorization": "Bearer sk-ant-2"}, {}) == "sk-ant-2"
    assert ADAPTER.credential({"authorization": "bearer  sk-ant-3 "}, {}) == "sk-ant-3"
    assert ADAPTER.credential({"authorization": "Basic abc"}, {}) is None
    assert ADAPTER.credential({}, {"key": "q"}) is None
    assert ADAPTER.upstream_credentials("org-key") == {"x-api-key": "org-key"}
    assert ADAPTER.credential_query_params() == ()


def test_sse_comment_has_no_line_breaks() -> None:
    assert ADAPTER.sse_comment("provenance abc") == b": provenance abc\n\n"
    assert ADAPTER.sse_comment("a\nb\r\nc") == b": a b  c\n\n"
