"""The contract every vendor adapter must keep, checked the same way for each one.

A new adapter registered in ``proxy/adapters/__init__.py`` is picked up here
and fails until it has captured request bodies (``tests/data/bodies``) and an
entry in ``SAMPLES``: a streamed and a whole response, and where its clients
put their key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus

import pytest

from proxy.adapters import ADAPTERS, adapter_for
from proxy.adapters.base import NON_RETRYABLE, Adapter, CallView, ErrorKind, Route
from tests.unit.helpers import EXPECTED, load_body, outcome_any_chunking, sse


@dataclass(frozen=True)
class Samples:
    """One vendor's wire samples: each response says "Hello world" and ends normally."""

    route: Route  # a generation endpoint
    list_field: str  # the body field holding the conversation
    sse_response: bytes
    json_response: bytes
    credential_headers: dict[str, str]  # where its own clients put the key "k-1"
    credential_query: dict[str, str]


SAMPLES: dict[str, Samples] = {
    "anthropic": Samples(
        Route("anthropic", "messages", "/v1/messages", "POST", has_body=True),
        "messages",
        sse(
            [
                ("message_start", {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {}}}),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}),
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello "}},
                ),
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "world"}},
                ),
                ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
                ("message_stop", {"type": "message_stop"}),
            ]
        ),
        json.dumps(
            {
                "type": "message",
                "id": "msg_1",
                "model": "m",
                "content": [{"type": "text", "text": "Hello world"}],
                "stop_reason": "end_turn",
            }
        ).encode(),
        {"x-api-key": "k-1"},
        {},
    ),
    "openai": Samples(
        Route("openai", "chat.completions", "/v1/chat/completions", "POST", has_body=True),
        "messages",
        sse(
            [
                (None, {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hello "}}]}),
                (None, {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "world"}}]}),
                (None, {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                (None, "[DONE]"),
            ]
        ),
        json.dumps(
            {
                "id": "c1",
                "object": "chat.completion",
                "model": "m",
                "choices": [{"index": 0, "message": {"content": "Hello world"}, "finish_reason": "stop"}],
            }
        ).encode(),
        {"authorization": "Bearer k-1"},
        {},
    ),
    "gemini": Samples(
        Route(
            "gemini",
            "generateContent",
            "/v1beta/models/g:generateContent",
            "POST",
            has_body=True,
            model_from_path="g",
        ),
        "contents",
        sse(
            [
                (None, {"candidates": [{"index": 0, "content": {"parts": [{"text": "Hello "}]}}]}),
                (None, {"candidates": [{"content": {"parts": [{"text": "world"}]}, "finishReason": "STOP"}]}),
            ]
        ),
        json.dumps(
            {"candidates": [{"content": {"parts": [{"text": "Hello world"}]}, "finishReason": "STOP"}]}
        ).encode(),
        {},
        {"key": "k-1"},
    ),
}
VENDORS = [adapter.vendor for adapter in ADAPTERS]
BODY_FILES = [name for name in EXPECTED if EXPECTED[name]["method"] == "POST"]


def _owner(name: str) -> Adapter | None:
    """The adapter whose routes take a captured body's request line."""
    expected = EXPECTED[name]
    path = expected["path"].split("?", 1)[0]
    owners = [adapter for adapter in ADAPTERS if adapter.match(expected["method"], path, {}) is not None]
    assert len(owners) <= 1, f"{name}: several adapters match {path}"
    return owners[0] if owners else None


def test_every_adapter_has_samples_and_captured_bodies() -> None:
    assert set(SAMPLES) == set(VENDORS)
    owned = {adapter.vendor for name in BODY_FILES if (adapter := _owner(name)) is not None}
    assert owned == set(VENDORS)
    assert all(adapter_for(vendor).vendor == vendor for vendor in VENDORS)


@pytest.mark.parametrize("name", BODY_FILES)
def test_read_call_on_captured_bodies(name: str) -> None:
    adapter = _owner(name)
    assert adapter is not None, f"no adapter serves {EXPECTED[name]['path']}"
    expected = EXPECTED[name]
    path = expected["path"].split("?", 1)[0]
    route = adapter.match("POST", path, {})
    assert route is not None and route.vendor == adapter.vendor
    view = adapter.read_call(route, load_body(name), {})
    assert isinstance(view, CallView) and view.vendor == adapter.vendor
    for field in ("model", "stream", "turn_count", "instruction", "side_call", "session_hint"):
        assert getattr(view, field) == expected[field], field


@pytest.mark.parametrize("vendor", VENDORS)
def test_read_call_refuses_bodies_of_the_wrong_shape(vendor: str) -> None:
    adapter, samples = adapter_for(vendor), SAMPLES[vendor]
    bodies: tuple[object, ...] = ([], "text", None, 3)
    for body in bodies:
        with pytest.raises(ValueError, match="JSON object"):
            adapter.read_call(samples.route, body, {})
    with pytest.raises(ValueError, match=f"'{samples.list_field}' must be a list"):
        adapter.read_call(samples.route, {samples.list_field: "not a list"}, {})
    assert adapter.read_call(samples.route, {}, {}).turn_count == 0  # absent means empty


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("kind", list(ErrorKind))
def test_error_reply_shapes(vendor: str, kind: ErrorKind) -> None:
    reply = adapter_for(vendor).error_reply(kind, "the reason", request_id="req_1")
    status = HTTPStatus(reply.status)
    if kind is ErrorKind.POLICY_BLOCK:
        assert status in (HTTPStatus.BAD_REQUEST, HTTPStatus.FORBIDDEN)
    else:
        assert status == _STATUS[kind]
    headers = dict(reply.headers)
    assert len(headers) == len(reply.headers), "a header repeated"
    assert headers["content-type"] == "application/json"
    assert (headers.get("x-should-retry") == "false") == (kind in NON_RETRYABLE)
    body = json.loads(reply.body)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict)
    assert body["error"]["message"] == "the reason"


_STATUS = {
    ErrorKind.INVALID_REQUEST: HTTPStatus.BAD_REQUEST,
    ErrorKind.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    ErrorKind.NOT_FOUND: HTTPStatus.NOT_FOUND,
    ErrorKind.TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ErrorKind.UPSTREAM_UNREACHABLE: HTTPStatus.BAD_GATEWAY,
    ErrorKind.UPSTREAM_TIMEOUT: HTTPStatus.GATEWAY_TIMEOUT,
    ErrorKind.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorKind.UPGRADE_REFUSED: HTTPStatus.UPGRADE_REQUIRED,
}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("framing", ["sse", "json"])
def test_outcome_parser_on_sse_and_json(vendor: str, framing: str) -> None:
    adapter, samples = adapter_for(vendor), SAMPLES[vendor]
    call = adapter.read_call(samples.route, {}, {})
    content_type = "text/event-stream" if framing == "sse" else "application/json"
    body = samples.sse_response if framing == "sse" else samples.json_response
    outcome = outcome_any_chunking(lambda: adapter.outcome_parser(samples.route, call, content_type), body)
    assert outcome.text == "Hello world"
    assert outcome.complete and not outcome.truncated and outcome.error_type is None
    assert outcome.stop_reason


@pytest.mark.parametrize("vendor", VENDORS)
def test_outcome_parser_survives_garbage_and_cut_bodies(vendor: str) -> None:
    adapter, samples = adapter_for(vendor), SAMPLES[vendor]
    call = adapter.read_call(samples.route, {}, {})
    for content_type, body in (
        ("text/event-stream", b"data: {not json\n\n" + samples.sse_response[: len(samples.sse_response) // 2]),
        ("application/json", samples.json_response[:-5]),
        ("application/json", b"\xff\xfe binary"),
    ):
        parser = adapter.outcome_parser(samples.route, call, content_type)
        parser.feed(body)
        outcome = parser.finish()
        assert not outcome.complete
        assert parser.finish() is outcome  # finish is idempotent


@pytest.mark.parametrize("vendor", VENDORS)
def test_credential_extraction(vendor: str) -> None:
    adapter, samples = adapter_for(vendor), SAMPLES[vendor]
    assert adapter.credential(samples.credential_headers, samples.credential_query) == "k-1"
    assert adapter.credential({}, {}) is None
    assert adapter.credential({"authorization": "Bearer  "}, {}) is None
    assert set(samples.credential_query) <= set(adapter.credential_query_params())


@pytest.mark.parametrize("vendor", VENDORS)
def test_upstream_credentials_carry_the_key_where_the_adapter_reads_it(vendor: str) -> None:
    adapter = adapter_for(vendor)
    headers = adapter.upstream_credentials("org-key-2")
    assert headers and all(name == name.lower() for name in headers)
    assert adapter.credential(headers, {}) == "org-key-2"


@pytest.mark.parametrize("vendor", VENDORS)
def test_sse_comment_is_one_ignored_line_or_nothing(vendor: str) -> None:
    adapter, samples = adapter_for(vendor), SAMPLES[vendor]
    comment = adapter.sse_comment("provenance\r\nid=abc")
    if comment:
        assert comment.startswith(b":") and comment.endswith(b"\n\n")
        assert b"\n" not in comment[:-2] and b"\r" not in comment
    call = adapter.read_call(samples.route, {}, {})

    def parse(body: bytes) -> object:
        parser = adapter.outcome_parser(samples.route, call, "text/event-stream")
        parser.feed(body)
        return parser.finish()

    assert parse(comment + samples.sse_response) == parse(samples.sse_response)
    assert parse(samples.sse_response + comment) == parse(samples.sse_response)
