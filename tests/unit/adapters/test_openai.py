"""OpenAI adapter: Responses and Chat Completions reading, parsing, errors, credentials."""

from __future__ import annotations

import json

import orjson
import pytest

from proxy.adapters.base import MAX_COLLECTED_TEXT, CallView, ErrorKind, Route
from proxy.adapters.openai import ADAPTER, ChatOutcomeParser, ResponsesOutcomeParser
from tests.unit.helpers import EXPECTED, load_body, outcome_any_chunking, read_body, sse

RESPONSES = Route("openai", "responses", "/v1/responses", "POST", has_body=True)
CHAT = Route("openai", "chat.completions", "/v1/chat/completions", "POST", has_body=True)
FILES = [name for name, e in EXPECTED.items() if e["path"].startswith(("/v1/responses", "/v1/chat"))]


@pytest.mark.parametrize("name", FILES)
def test_read_call_on_realistic_bodies(name: str) -> None:
    view = read_body(name)
    expected = EXPECTED[name]
    assert view.vendor == "openai"
    for field in ("model", "stream", "turn_count", "instruction", "side_call", "session_hint"):
        assert getattr(view, field) == expected[field], field


def test_codex_session_falls_back_to_prompt_cache_key() -> None:
    body = load_body("codex_exec_first_turn.json")
    del body["client_metadata"]
    body["prompt_cache_key"] = "thread-1"
    assert ADAPTER.read_call(RESPONSES, body, {}).session_hint == "thread-1"
    body["client_metadata"] = json.dumps({"session_id": "from-json-string"})
    assert ADAPTER.read_call(RESPONSES, body, {}).session_hint == "from-json-string"


def test_codex_title_detected_by_schema_with_no_tools() -> None:
    body = load_body("codex_title.json")
    body["input"][-1]["content"][0]["text"] = "Some other title wording"
    assert ADAPTER.read_call(RESPONSES, body, {}).side_call == "title"
    body["tools"] = load_body("codex_exec_first_turn.json")["tools"]
    assert ADAPTER.read_call(RESPONSES, body, {}).side_call is None


def test_responses_input_only_tool_output_has_no_instruction() -> None:
    body = {
        "model": "gpt-5",
        "input": [
            {"type": "function_call_output", "call_id": "c", "output": "ls output"},
            {"role": "developer", "content": "system rules"},
            {"type": "mystery", "role": "user", "content": "not a message item"},
        ],
    }
    assert ADAPTER.read_call(RESPONSES, body, {}).instruction == ""


def test_easy_input_messages_and_instructions_field() -> None:
    body = {
        "model": "gpt-5",
        "instructions": "You are terse.",
        "input": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ],
    }
    view = ADAPTER.read_call(RESPONSES, body, {})
    assert view.instruction == "second" and view.extras["system_head"] == "You are terse."


def test_chat_content_parts_and_tolerance() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look at"},
                    {"type": "image_url", "image_url": {}},
                    {"type": "text", "text": "this"},
                ],
            },
            {"role": "tool", "tool_call_id": "x", "content": "tool output"},
            {"role": "function", "content": "old style"},
            {"role": "wizard", "content": 3},
        ],
    }
    assert ADAPTER.read_call(CHAT, body, {}).instruction == "look at\n\nthis"


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        (RESPONSES, ["x"], "JSON object"),
        (RESPONSES, {"input": 5}, "'input'"),
        (RESPONSES, {"input": "hi", "instructions": ["x"]}, "'instructions'"),
        (RESPONSES, {"model": {"id": "gpt"}, "input": "hi"}, "'model'"),
        (CHAT, {"messages": "hi"}, "'messages' must be a list"),
    ],
)
def test_wrong_shapes_raise(route: Route, body: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ADAPTER.read_call(route, body, {})


def test_websocket_route_has_no_body() -> None:
    route = Route("openai", "responses.websocket", "/v1/responses", "GET", has_body=False)
    assert ADAPTER.read_call(route, None, {}).endpoint == "responses.websocket"


# --- Responses stream ------------------------------------------------------------------------

CODEX_STREAM = sse(
    [
        (
            "response.created",
            {
                "type": "response.created",
                "sequence_number": 0,
                "response": {
                    "id": "resp_1",
                    "object": "response",
                    "status": "in_progress",
                    "model": "gpt-5.1-codex",
                    "output": [],
                },
            },
        ),
        (
            "response.in_progress",
            {
                "type": "response.in_progress",
                "sequence_number": 1,
                "response": {"id": "resp_1", "status": "in_progress"},
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "sequence_number": 2,
                "output_index": 0,
                "item": {"id": "rs_1", "type": "reasoning", "summary": []},
            },
        ),
        (
            "response.reasoning_summary_text.delta",
            {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "**Planning**"},
        ),
        (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {
                    "id": "rs_1",
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "**Planning**"}],
                },
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {
                    "id": "msg_1",
                    "type": "message",
                    "status": "in_progress",
                    "role": "assistant",
                    "content": [],
                },
            },
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 1,
                "content_index": 0,
                "delta": "Running ",
            },
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 1,
                "content_index": 0,
                "delta": "tests…",
            },
        ),
        (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "output_index": 1,
                "item": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Running tests…", "annotations": []}],
                },
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 2,
                "item": {
                    "id": "fc_1",
                    "type": "function_call",
                    "name": "exec_command",
                    "call_id": "call_1",
                    "arguments": "",
                },
            },
        ),
        (
            "response.function_call_arguments.delta",
            {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '{"cmd":'},
        ),
        (
            "response.function_call_arguments.delta",
            {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '"pytest -q"}'},
        ),
        (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "output_index": 2,
                "item": {
                    "id": "fc_1",
                    "type": "function_call",
                    "name": "exec_command",
                    "call_id": "call_1",
                    "arguments": '{"cmd":"pytest -q"}',
                },
            },
        ),
        (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "output_index": 3,
                "item": {
                    "id": "ctc_1",
                    "type": "custom_tool_call",
                    "name": "apply_patch",
                    "call_id": "call_2",
                    "input": "*** Begin Patch\n*** End Patch",
                },
            },
        ),
        (
            "response.completed",
            {
                "type": "response.completed",
                "sequence_number": 9,
                "response": {
                    "id": "resp_1",
                    "status": "completed",
                    "model": "gpt-5.1-codex",
                    "output": [],
                    "usage": {
                        "input_tokens": 420,
                        "input_tokens_details": {"cached_tokens": 400},
                        "output_tokens": 70,
                        "output_tokens_details": {"reasoning_tokens": 20},
                        "total_tokens": 490,
                    },
                },
            },
        ),
    ]
)


def responses_parser() -> ResponsesOutcomeParser:
    return ResponsesOutcomeParser(True)


def test_responses_stream() -> None:
    outcome = outcome_any_chunking(responses_parser, CODEX_STREAM)
    assert outcome.text == "Running tests…"
    assert outcome.thinking == "**Planning**"
    assert [(c.name, c.call_id, c.arguments) for c in outcome.tool_calls] == [
        ("exec_command", "call_1", '{"cmd":"pytest -q"}'),
        ("apply_patch", "call_2", "*** Begin Patch\n*** End Patch"),
    ]
    usage = outcome.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.reasoning_tokens) == (
        420,
        70,
        400,
        20,
    )
    assert (outcome.response_id, outcome.model, outcome.stop_reason) == (
        "resp_1",
        "gpt-5.1-codex",
        "completed",
    )
    assert outcome.complete and not outcome.truncated


def test_responses_usage_only_from_completed_and_truncation() -> None:
    cut = CODEX_STREAM[: CODEX_STREAM.index(b"event: response.completed")]
    outcome = outcome_any_chunking(responses_parser, cut)
    assert not outcome.complete and outcome.usage.input_tokens is None
    assert outcome.text == "Running tests…"


def test_responses_incomplete_is_terminal() -> None:
    body = sse(
        [
            (
                "response.incomplete",
                {
                    "type": "response.incomplete",
                    "response": {
                        "id": "r",
                        "status": "incomplete",
                        "incomplete_details": {"reason": "max_output_tokens"},
                        "output": [{"type": "message", "content": [{"type": "output_text", "text": "partial"}]}],
                    },
                },
            )
        ]
    )
    outcome = outcome_any_chunking(responses_parser, body)
    assert outcome.complete and outcome.stop_reason == "max_output_tokens" and outcome.text == "partial"


def test_responses_failed_and_error_events() -> None:
    failed = sse(
        [
            (
                "response.failed",
                {
                    "type": "response.failed",
                    "response": {
                        "id": "r",
                        "status": "failed",
                        "error": {"code": "server_error", "message": "boom"},
                    },
                },
            )
        ]
    )
    outcome = outcome_any_chunking(responses_parser, failed)
    assert (outcome.error_type, outcome.error_message, outcome.complete) == ("server_error", "boom", False)
    error = sse([("error", {"type": "error", "code": "rate_limit_exceeded", "message": "slow", "param": None})])
    outcome = outcome_any_chunking(responses_parser, error)
    assert (outcome.error_type, outcome.error_message) == ("rate_limit_exceeded", "slow")


def test_responses_non_streaming_json() -> None:
    body = orjson.dumps(
        {
            "id": "resp_2",
            "object": "response",
            "status": "completed",
            "model": "gpt-5",
            "error": None,
            "output": [
                {
                    "id": "msg",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hi there"}],
                },
                {"id": "fc", "type": "function_call", "name": "f", "call_id": "c1", "arguments": "{}"},
            ],
            "usage": {"input_tokens": 5, "output_tokens": 2},
        }
    )
    outcome = outcome_any_chunking(lambda: ResponsesOutcomeParser(False), body)
    assert outcome.text == "Hi there" and outcome.tool_calls[0].arguments == "{}"
    assert outcome.complete and outcome.error_type is None and outcome.usage.output_tokens == 2
    tokens = outcome_any_chunking(
        lambda: ResponsesOutcomeParser(False), b'{"object":"response.input_tokens","input_tokens":321}'
    )
    assert tokens.usage.input_tokens == 321
    error = outcome_any_chunking(
        lambda: ResponsesOutcomeParser(False),
        b'{"error":{"message":"bad key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}',
    )
    assert (error.error_type, error.error_message) == ("invalid_request_error", "bad key")


def test_responses_memory_cap() -> None:
    delta = sse(
        [
            (
                "response.output_text.delta",
                {"type": "response.output_text.delta", "item_id": "m", "delta": "q" * 4096},
            )
        ]
    )
    p = responses_parser()
    for _ in range((10 * 1024 * 1024) // len(delta) + 1):
        p.feed(delta)
    outcome = p.finish()
    assert len(outcome.text) == MAX_COLLECTED_TEXT and outcome.truncated


# --- Chat Completions stream -----------------------------------------------------------------


def chunk(delta: dict[str, object], finish: str | None = None, **extra: object) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


CHAT_STREAM = sse(
    [
        (None, chunk({"role": "assistant", "content": ""})),
        (None, chunk({"content": "Let me "})),
        (None, chunk({"content": "check."})),
        (
            None,
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "read_file", "arguments": ""},
                        }
                    ]
                }
            ),
        ),
        (None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"path":'}}]})),
        (
            None,
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "list_dir", "arguments": "{}"},
                        }
                    ]
                }
            ),
        ),
        (None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"a.py"}'}}]})),
        (None, chunk({}, "tool_calls")),
        (
            None,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "model": "gpt-4o",
                "choices": [],
                "usage": {
                    "prompt_tokens": 42,
                    "completion_tokens": 7,
                    "total_tokens": 49,
                    "prompt_tokens_details": {"cached_tokens": 32},
                },
            },
        ),
        (None, "[DONE]"),
    ]
)


def chat_parser() -> ChatOutcomeParser:
    return ChatOutcomeParser(True)


def test_chat_stream_with_tool_calls_by_index() -> None:
    outcome = outcome_any_chunking(chat_parser, CHAT_STREAM)
    assert outcome.text == "Let me check."
    assert [(c.name, c.call_id, c.arguments) for c in outcome.tool_calls] == [
        ("read_file", "call_a", '{"path":"a.py"}'),
        ("list_dir", "call_b", "{}"),
    ]
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens, outcome.usage.cache_read_tokens) == (
        42,
        7,
        32,
    )
    assert outcome.stop_reason == "tool_calls" and outcome.complete and outcome.response_id == "chatcmpl-1"


def test_chat_truncated_and_error() -> None:
    cut = CHAT_STREAM[: CHAT_STREAM.index(b"check.")]
    outcome = outcome_any_chunking(chat_parser, cut)
    assert not outcome.complete and outcome.text == "Let me "
    error = sse(
        [
            (None, chunk({"content": "a"})),
            (None, {"error": {"message": "Internal error", "type": "server_error", "code": None}}),
        ]
    )
    outcome = outcome_any_chunking(chat_parser, error)
    assert (outcome.error_type, outcome.error_message, outcome.text) == (
        "server_error",
        "Internal error",
        "a",
    )


def test_chat_non_streaming() -> None:
    body = orjson.dumps(
        {
            "id": "chatcmpl-2",
            "object": "chat.completion",
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Sure.",
                        "tool_calls": [
                            {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
                        ],
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    )
    outcome = outcome_any_chunking(lambda: ChatOutcomeParser(False), body)
    assert outcome.text == "Sure." and outcome.tool_calls[0].arguments == '{"a":1}'
    assert outcome.complete and outcome.stop_reason == "stop" and outcome.usage.input_tokens == 3


def test_parser_choice() -> None:
    call = CallView("openai", "chat.completions", stream=True)
    assert isinstance(ADAPTER.outcome_parser(CHAT, call, "text/event-stream"), ChatOutcomeParser)
    assert isinstance(ADAPTER.outcome_parser(RESPONSES, call, "text/event-stream"), ResponsesOutcomeParser)
    p = ADAPTER.outcome_parser(CHAT, call, "application/json")
    p.feed(b'{"error":{"message":"m","type":"invalid_request_error"}}')
    assert p.finish().error_type == "invalid_request_error"


# --- errors, credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code", "no_retry"),
    [
        (ErrorKind.INVALID_REQUEST, 400, "invalid_request", True),
        (ErrorKind.POLICY_BLOCK, 400, "policy_blocked", True),
        (ErrorKind.UNAUTHENTICATED, 401, "invalid_api_key", True),
        (ErrorKind.NOT_FOUND, 404, "not_found", True),
        (ErrorKind.TOO_LARGE, 413, "request_too_large", True),
        (ErrorKind.UPGRADE_REFUSED, 426, "websocket_not_supported", True),
        (ErrorKind.UPSTREAM_UNREACHABLE, 502, "upstream_unreachable", False),
        (ErrorKind.UPSTREAM_TIMEOUT, 504, "upstream_timeout", False),
        (ErrorKind.UNAVAILABLE, 503, "service_unavailable", False),
    ],
)
def test_error_reply(kind: ErrorKind, status: int, code: str, no_retry: bool) -> None:
    reply = ADAPTER.error_reply(kind, "Blocked by policy eval-tasks.", request_id="req_9")
    headers = dict(reply.headers)
    assert reply.status == status and headers["content-type"] == "application/json"
    assert (headers.get("x-should-retry") == "false") is no_retry
    assert headers["x-request-id"] == "req_9"
    body = json.loads(reply.body)
    assert body["error"]["message"] == "Blocked by policy eval-tasks." and body["error"]["code"] == code
    assert body["error"]["param"] is None and "type" in body["error"]
    assert b" " not in reply.body.replace(b"Blocked by policy eval-tasks.", b"")  # compact for Codex


def test_credentials() -> None:
    assert ADAPTER.credential({"authorization": "Bearer sk-1"}, {}) == "sk-1"
    assert ADAPTER.credential({"x-api-key": "sk-2"}, {}) is None
    assert ADAPTER.credential({"authorization": "Bearer "}, {}) is None
    assert ADAPTER.upstream_credentials("org") == {"authorization": "Bearer org"}
    assert ADAPTER.credential_query_params() == ()
