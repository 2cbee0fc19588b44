"""Property-based fuzz of every adapter's request reader and response parsers (issue 11, item 1).

Client input (any JSON value, shaped like each vendor's requests or not) may make
``read_call`` raise only :class:`~proxy.adapters.base.InvalidRequest`, the
project's client error (answered 400); anything else would be a 500 or a dead
request. Upstream output (SSE or JSON, cut anywhere) must never make a parser
raise, and must never trip its internal error guard, which would hide a bug as a
"truncated" outcome.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.adapters import ADAPTERS, resolve_route
from proxy.adapters.base import Adapter, CallOutcome, CallView, InvalidRequest, Route

# Paths of every body-carrying endpoint, by vendor (prefixed: no header needed to route them).
BODY_PATHS = {
    "anthropic": ["/v1/messages", "/v1/messages/count_tokens"],
    "openai": ["/v1/chat/completions", "/v1/responses", "/v1/responses/compact", "/v1/responses/input_tokens"],
    "gemini": [
        "/v1beta/models/gemini-2.5-pro:generateContent",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        "/v1beta/models/gemini-2.5-pro:countTokens",
    ],
}

# Field names and values the adapters look at, so generated bodies reach deep into them.
FIELDS = [
    "model", "messages", "system", "stream", "metadata", "user_id", "content", "role", "type", "text",
    "tool_use_id", "tools", "output_config", "format", "schema", "properties", "title", "input", "instructions",
    "previous_response_id", "prompt_cache_key", "user", "contents", "parts", "systemInstruction",
    "system_instruction", "generationConfig", "functionResponse", "functionCall", "thought", "name", "id",
    "arguments", "output", "call_id", "delta", "choices", "usage", "candidates", "usageMetadata", "index",
    "content_block", "message", "response", "item", "output_index", "error", "finishReason", "stop_reason",
    "input_tokens", "output_tokens", "promptTokenCount", "candidatesTokenCount", "prompt_tokens", "completion_tokens",
]  # fmt: skip
WORDS = [
    "user", "assistant", "model", "system", "developer", "text", "input_text", "output_text", "message",
    "tool_result", "tool_use", "function_call", "function_call_output", "thinking", "image",
    "<system-reminder>", "</system-reminder>", "<environment_context>", "x-anthropic-billing-header: cc_version=1;",
    "Please write a short title", "message_start", "content_block_start", "content_block_delta", "text_delta",
    "input_json_delta", "message_delta", "response.output_text.delta", "response.completed", "[DONE]",
]  # fmt: skip

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),  # what orjson parses,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=40),
)
KEYS = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(KEYS, inner, max_size=8),
    ),
    max_leaves=60,
)
ROLES = st.one_of(st.sampled_from(["user", "assistant", "model", "system", "developer", "tool"]), SCALARS)
TYPES = st.one_of(st.sampled_from(WORDS), SCALARS)


def shaped(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the fields an adapter reads, each sometimes of the wrong type, plus strangers."""
    loose = {name: st.one_of(value, JSON_VALUES) for name, value in optional.items()}
    return st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries(required, optional=loose),
        st.dictionaries(KEYS, JSON_VALUES, max_size=3),
    )


TEXTS = st.one_of(st.sampled_from(WORDS), st.text(max_size=60))
BLOCKS = st.lists(
    shaped(
        {"type": TYPES},
        {
            "text": TEXTS,
            "content": st.one_of(TEXTS, st.lists(shaped({"type": TYPES}, {"text": TEXTS}), max_size=3)),
            "tool_use_id": TEXTS,
            "name": TEXTS,
            "input": JSON_VALUES,
            "arguments": TEXTS,
            "output": TEXTS,
            "functionResponse": JSON_VALUES,
            "thought": st.booleans(),
        },
    ),
    max_size=4,
)
MESSAGES = st.lists(
    shaped({"role": ROLES}, {"content": st.one_of(TEXTS, BLOCKS), "parts": BLOCKS, "type": TYPES}), max_size=5
)
VENDOR_SHAPED = shaped(
    {},
    {
        "model": TEXTS,
        "stream": st.booleans(),
        "messages": MESSAGES,
        "input": st.one_of(TEXTS, MESSAGES, BLOCKS),
        "contents": MESSAGES,
        "system": st.one_of(TEXTS, BLOCKS),
        "systemInstruction": shaped({}, {"parts": BLOCKS, "role": ROLES}),
        "system_instruction": shaped({}, {"parts": BLOCKS}),
        "instructions": TEXTS,
        "metadata": shaped({}, {"user_id": TEXTS}),
        "tools": st.lists(JSON_VALUES, max_size=2),
        "output_config": shaped({}, {"format": shaped({}, {"type": TYPES, "schema": JSON_VALUES})}),
        "prompt_cache_key": TEXTS,
        "previous_response_id": TEXTS,
        "user": TEXTS,
    },
)
BODIES = st.one_of(VENDOR_SHAPED, st.dictionaries(KEYS, JSON_VALUES, max_size=10), JSON_VALUES)
QUERIES = st.dictionaries(st.sampled_from(["alt", "key", "beta", "x"]), st.sampled_from(["sse", "true", "", "%00"]))

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def routes() -> list[tuple[Adapter, Route]]:
    found = []
    for adapter in ADAPTERS:
        for path in BODY_PATHS[adapter.vendor]:
            matched, route = resolve_route("POST", adapter.prefix + path, {})
            assert matched is adapter and route is not None and route.has_body, path
            found.append((adapter, route))
    return found


ROUTES = routes()
ROUTE_IDS = [f"{adapter.vendor}:{route.endpoint}" for adapter, route in ROUTES]


def test_every_registered_adapter_is_fuzzed() -> None:
    assert {adapter.vendor for adapter in ADAPTERS} == set(BODY_PATHS)


def read(adapter: Adapter, route: Route, body: Any, query: dict[str, str] | None = None) -> CallView | None:
    """``read_call`` through the JSON round trip a real request takes; None when refused as a client error."""
    parsed = orjson.loads(orjson.dumps(body))
    try:
        return adapter.read_call(route, parsed, query or {})
    except InvalidRequest:
        return None


@pytest.mark.parametrize(("adapter", "route"), ROUTES, ids=ROUTE_IDS)
@FUZZ
@given(body=BODIES, query=QUERIES)
def test_read_call_raises_only_invalid_request(
    adapter: Adapter, route: Route, body: Any, query: dict[str, str]
) -> None:
    view = read(adapter, route, body, query)
    if view is not None:
        assert isinstance(view.instruction, str)
        assert view.model is None or isinstance(view.model, str)


def nested(depth: int, leaf: bytes, kind: str) -> bytes:
    """JSON text nested ``depth`` deep (built as text: orjson will not serialise that deep)."""
    if kind == "list":
        return b"[" * depth + leaf + b"]" * depth
    opener = b'{"type": "text", "text": "t", "parts": [], "content": '
    return opener * depth + leaf + b"}" * depth


@pytest.mark.parametrize(("adapter", "route"), ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("kind", ["list", "dict"])
def test_read_call_survives_the_deepest_json_a_request_can_carry(adapter: Adapter, route: Route, kind: str) -> None:
    # orjson refuses nesting deeper than 1024: this is the worst a client can send.
    deep = nested(1015, b'"hi"', kind)
    for field in (b"messages", b"input", b"contents", b"system", b"systemInstruction", b"metadata", b"tools"):
        body = orjson.loads(b'{"model": "m", "' + field + b'": [{"role": "user", "content": ' + deep + b"}]}")
        with contextlib.suppress(InvalidRequest):
            adapter.read_call(route, body, {})


# -- response parsers --------------------------------------------------------------------------------

TOKENS = st.one_of(st.integers(min_value=-(2**63), max_value=2**64 - 1), SCALARS)
USAGE = shaped(
    {},
    {
        name: TOKENS
        for name in ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens", "promptTokenCount")
    },
)
EVENT_DATA = shaped(
    {},
    {
        "index": TOKENS,
        "output_index": TOKENS,
        "delta": st.one_of(TEXTS, shaped({"type": TYPES}, {"text": TEXTS, "partial_json": TEXTS, "thinking": TEXTS})),
        "content_block": shaped({"type": TYPES}, {"text": TEXTS, "name": TEXTS, "id": TEXTS, "input": JSON_VALUES}),
        "message": shaped({}, {"id": TEXTS, "model": TEXTS, "usage": USAGE}),
        "item": shaped({"type": TYPES}, {"name": TEXTS, "call_id": TEXTS, "arguments": TEXTS}),
        "response": shaped({}, {"id": TEXTS, "usage": USAGE, "output": st.lists(JSON_VALUES, max_size=2)}),
        "choices": st.lists(shaped({}, {"delta": JSON_VALUES, "finish_reason": TEXTS, "index": TOKENS}), max_size=2),
        "candidates": st.lists(
            shaped({}, {"content": shaped({}, {"parts": BLOCKS}), "finishReason": TEXTS}), max_size=2
        ),
        "usage": USAGE,
        "usageMetadata": USAGE,
        "error": JSON_VALUES,
    },
)
SSE_EVENTS = st.lists(
    st.tuples(
        st.sampled_from([w for w in WORDS if "_" in w or "." in w] + ["error", "ping", ""]),
        st.one_of(EVENT_DATA, JSON_VALUES),
    ),
    max_size=12,
)


def sse_stream(events: list[tuple[str, Any]]) -> bytes:
    parts = []
    for name, data in events:
        if isinstance(data, dict) and name:
            data = {"type": name, **data}
        head = f"event: {name}\n".encode() if name else b""
        parts.append(head + b"data: " + orjson.dumps(data) + b"\n\n")
    return b"".join(parts) + b"data: [DONE]\n\n"


def parse(adapter: Adapter, route: Route, content_type: str, stream: bool, body: bytes, cuts: list[int]) -> CallOutcome:
    parser = adapter.outcome_parser(route, CallView(adapter.vendor, route.endpoint, stream=stream), content_type)
    start = 0
    for cut in [*sorted({c % (len(body) + 1) for c in cuts}), len(body)]:
        parser.feed(body[start:cut])
        start = cut
    return parser.finish()


@pytest.mark.parametrize(("adapter", "route"), ROUTES, ids=ROUTE_IDS)
@FUZZ
@given(events=SSE_EVENTS, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_sse_parsers_never_fail_on_any_event_stream(
    adapter: Adapter, route: Route, events: list[tuple[str, Any]], cuts: list[int]
) -> None:
    outcome = parse(adapter, route, "text/event-stream", True, sse_stream(events), cuts)
    assert not outcome.truncated, "the parser's error guard fired: a bug hidden as truncation"


@pytest.mark.parametrize(("adapter", "route"), ROUTES, ids=ROUTE_IDS)
@FUZZ
@given(
    document=st.one_of(EVENT_DATA, JSON_VALUES), cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)
)
def test_json_parsers_never_fail_on_any_document(
    adapter: Adapter, route: Route, document: Any, cuts: list[int]
) -> None:
    body = orjson.dumps([document, document]) if route.streams_from_path else orjson.dumps(document)
    outcome = parse(adapter, route, "application/json", False, body, cuts)
    assert not outcome.truncated, "the parser's error guard fired: a bug hidden as truncation"


@pytest.mark.parametrize(("adapter", "route"), ROUTES, ids=ROUTE_IDS)
@FUZZ
@given(body=st.binary(max_size=2000), stream=st.booleans())
def test_parsers_never_raise_on_arbitrary_bytes(adapter: Adapter, route: Route, body: bytes, stream: bool) -> None:
    content_type = "text/event-stream" if stream else "application/json"
    assert isinstance(parse(adapter, route, content_type, stream, body, [7, 100]), CallOutcome)


@pytest.mark.parametrize(("adapter", "route"), ROUTES, ids=ROUTE_IDS)
def test_parsers_survive_the_deepest_json_an_upstream_can_send(adapter: Adapter, route: Route) -> None:
    deep = nested(1015, b'"x"', "dict")
    whole = b'{"content": [' + deep + b'], "candidates": [' + deep + b'], "output": [' + deep + b"]}"
    event = b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": ' + deep + b"}\n\n"
    for content_type, stream, body in (("application/json", False, whole), ("text/event-stream", True, event)):
        outcome = parse(adapter, route, content_type, stream, body, [])
        assert not outcome.truncated
