"""Path routing: every vendor endpoint, prefixes, ambiguity, and open-proxy tricks."""

from __future__ import annotations

import pytest

from proxy.adapters import ADAPTERS, resolve_route
from proxy.adapters.paths import path_segments

ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-x"}
OPENAI_HEADERS = {"authorization": "Bearer sk-x"}
GEMINI_HEADERS = {"x-goog-api-key": "g-x"}

# (method, path, headers, vendor, endpoint, upstream_path)
ROUTES = [
    ("POST", "/v1/messages", ANTHROPIC_HEADERS, "anthropic", "messages", "/v1/messages"),
    ("POST", "/v1/messages", {}, "anthropic", "messages", "/v1/messages"),
    ("POST", "/v1/messages?beta=true", ANTHROPIC_HEADERS, "anthropic", "messages", "/v1/messages"),
    ("POST", "/v1/messages/count_tokens", {}, "anthropic", "count_tokens", "/v1/messages/count_tokens"),
    ("GET", "/v1/models", ANTHROPIC_HEADERS, "anthropic", "models", "/v1/models"),
    ("GET", "/v1/models/claude-opus-4-8", ANTHROPIC_HEADERS, "anthropic", "models.get", "/v1/models/claude-opus-4-8"),
    ("HEAD", "/", {"user-agent": "Bun/1.4.0"}, "anthropic", "preconnect", "/"),
    ("POST", "/v1/responses", OPENAI_HEADERS, "openai", "responses", "/v1/responses"),
    ("POST", "/v1/responses/input_tokens", {}, "openai", "responses.input_tokens", "/v1/responses/input_tokens"),
    ("POST", "/v1/responses/compact", {}, "openai", "responses.compact", "/v1/responses/compact"),
    ("POST", "/v1/chat/completions", OPENAI_HEADERS, "openai", "chat.completions", "/v1/chat/completions"),
    ("GET", "/v1/models", OPENAI_HEADERS, "openai", "models", "/v1/models"),
    ("GET", "/v1/models", {}, "openai", "models", "/v1/models"),
    ("GET", "/v1/models/gpt-5", OPENAI_HEADERS, "openai", "models.get", "/v1/models/gpt-5"),
    ("GET", "/v1/responses", {"upgrade": "websocket"}, "openai", "responses.websocket", "/v1/responses"),
    (
        "POST",
        "/v1beta/models/gemini-3.5-flash-lite:generateContent",
        GEMINI_HEADERS,
        "gemini",
        "generateContent",
        "/v1beta/models/gemini-3.5-flash-lite:generateContent",
    ),
    (
        "POST",
        "/v1beta/models/gemini-3.8-flash:streamGenerateContent",
        {},
        "gemini",
        "streamGenerateContent",
        "/v1beta/models/gemini-3.8-flash:streamGenerateContent",
    ),
    (
        "POST",
        "/v1/models/gemini-2.5-flash:generateContent",
        GEMINI_HEADERS,
        "gemini",
        "generateContent",
        "/v1/models/gemini-2.5-flash:generateContent",
    ),
    (
        "POST",
        "/v1/models/gemini-2.5-flash:countTokens",
        {},
        "gemini",
        "countTokens",
        "/v1/models/gemini-2.5-flash:countTokens",
    ),
    ("GET", "/v1beta/models", {}, "gemini", "models", "/v1beta/models"),
    ("GET", "/v1/models", GEMINI_HEADERS, "gemini", "models", "/v1/models"),
    ("GET", "/v1beta/models/gemini-2.5-pro", {}, "gemini", "models.get", "/v1beta/models/gemini-2.5-pro"),
    ("GET", "/v1/models/gemini-2.5-pro", GEMINI_HEADERS, "gemini", "models.get", "/v1/models/gemini-2.5-pro"),
    (
        "POST",
        "/v1beta/tunedModels/my-model-7:generateContent",
        {},
        "gemini",
        "generateContent",
        "/v1beta/tunedModels/my-model-7:generateContent",
    ),
    # Prefixed forms: prefix + exact vendor path, no header needed to disambiguate.
    ("POST", "/anthropic/v1/messages", {}, "anthropic", "messages", "/v1/messages"),
    ("GET", "/anthropic/v1/models", {}, "anthropic", "models", "/v1/models"),
    ("HEAD", "/anthropic", {}, "anthropic", "preconnect", "/"),
    ("HEAD", "/anthropic/", {}, "anthropic", "preconnect", "/"),
    ("POST", "/openai/v1/responses", {}, "openai", "responses", "/v1/responses"),
    ("GET", "/openai/v1/models", ANTHROPIC_HEADERS, "openai", "models", "/v1/models"),
    ("POST", "/openai/v1/chat/completions", {}, "openai", "chat.completions", "/v1/chat/completions"),
    (
        "POST",
        "/gemini/v1beta/models/gemini-3.8-flash:streamGenerateContent",
        {},
        "gemini",
        "streamGenerateContent",
        "/v1beta/models/gemini-3.8-flash:streamGenerateContent",
    ),
    ("GET", "/gemini/v1/models", {}, "gemini", "models", "/v1/models"),
]


@pytest.mark.parametrize(("method", "path", "headers", "vendor", "endpoint", "upstream"), ROUTES)
def test_route(method: str, path: str, headers: dict[str, str], vendor: str, endpoint: str, upstream: str) -> None:
    adapter, route = resolve_route(method, path, headers)
    assert adapter is not None and route is not None
    assert (adapter.vendor, route.vendor, route.endpoint, route.upstream_path, route.method) == (
        vendor,
        vendor,
        endpoint,
        upstream,
        method,
    )


def test_route_flags() -> None:
    _, head = resolve_route("HEAD", "/", {})
    assert head is not None and not head.has_body
    _, ws = resolve_route("GET", "/v1/responses", {})
    assert ws is not None and not ws.has_body
    _, messages = resolve_route("POST", "/v1/messages", {})
    assert messages is not None and messages.has_body and messages.model_from_path is None
    _, stream = resolve_route("POST", "/v1beta/models/gemini-3.8-flash:streamGenerateContent", {})
    assert stream is not None and stream.streams_from_path and stream.model_from_path == "gemini-3.8-flash"
    _, plain = resolve_route("POST", "/v1beta/models/gemini-3.8-flash:generateContent", {})
    assert plain is not None and not plain.streams_from_path
    _, tuned = resolve_route("POST", "/v1beta/tunedModels/my-model-7:generateContent", {})
    assert tuned is not None and tuned.model_from_path == "tunedModels/my-model-7"


OPEN_PROXY_TRICKS = [
    "/..//evil.com/v1/messages",
    "//evil.com/v1/messages",
    "/v1/messages/../../x",
    "/v1/messages/..",
    "/v1/./messages",
    "/anthropic/%2e%2e/v1/messages",
    "/anthropic/..%2fv1/messages",
    "/v1%2fmessages",
    "/v1/messages%2F..",
    "/%2e%2e/v1/messages",
    "http://evil.com/v1/messages",
    "evil.com/v1/messages",
    "/v1beta/models/..%2Fx:generateContent",
    "/v1beta/models/..:generateContent",
    "/v1beta/models/%2e%2e:generateContent",
    "/v1beta/models/.hidden:generateContent",
    "/v1beta/models/a@evil.com:generateContent",
    "/v1beta/models/gemini:generateContent:evil",
    "/v1/messages\\..\\x",
    "/anthropic//v1/messages",
    "/anthropic/v1//messages",
    "/openai/http://evil.com/v1/responses",
    "/user@evil.com/v1/messages",
    "/v1/messages/",
    "/v1/models/claude..x/../y",
    "/v1/messages\x00",
    "/v1/messages x",
]


@pytest.mark.parametrize("path", OPEN_PROXY_TRICKS)
@pytest.mark.parametrize("method", ["POST", "GET", "HEAD"])
def test_open_proxy_tricks_do_not_match(path: str, method: str) -> None:
    adapter, route = resolve_route(method, path, ANTHROPIC_HEADERS)
    assert route is None
    assert adapter is not None  # still someone's 404 shape


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/messages"),
        ("PUT", "/v1/messages"),
        ("POST", "/v1/models"),
        ("POST", "/v1/messages/batches"),
        ("DELETE", "/v1/responses"),
        ("POST", "/v1/completions"),
        ("POST", "/v1beta/models/gemini-2.5-pro:embedContent"),
        ("POST", "/v2/models/gemini-2.5-pro:generateContent"),
        ("GET", "/"),
        ("POST", "/"),
        ("GET", "/healthz"),
    ],
)
def test_unserved_paths_do_not_match(method: str, path: str) -> None:
    for headers in ({}, ANTHROPIC_HEADERS, GEMINI_HEADERS):
        assert resolve_route(method, path, headers)[1] is None


def test_prefix_keeps_vendor_for_unmatched_paths() -> None:
    for adapter in ADAPTERS:
        owner, route = resolve_route("POST", adapter.prefix + "/v1/nothing-here", {})
        assert owner is adapter and route is None
    # A vendor path under another vendor's prefix is that prefix's 404.
    owner, route = resolve_route("POST", "/openai/v1/messages", ANTHROPIC_HEADERS)
    assert owner is not None and owner.vendor == "openai" and route is None


@pytest.mark.parametrize(
    ("headers", "path", "vendor"),
    [
        ({"anthropic-version": "2023-06-01"}, "/v1/unknown", "anthropic"),
        ({"x-api-key": "k"}, "/v1/unknown", "anthropic"),
        ({"x-goog-api-key": "k"}, "/v1/unknown", "gemini"),
        ({}, "/v1beta/unknown", "gemini"),
        ({"authorization": "Bearer k"}, "/v1/unknown", "openai"),
        ({}, "/elsewhere", "openai"),
    ],
)
def test_unmatched_path_is_claimed_for_its_404_shape(headers: dict[str, str], path: str, vendor: str) -> None:
    adapter, route = resolve_route("POST", path, headers)
    assert route is None and adapter is not None and adapter.vendor == vendor


def test_upstream_path_is_rebuilt_not_copied() -> None:
    # The query string never leaks into upstream_path; the core forwards it separately.
    _, route = resolve_route("POST", "/anthropic/v1/messages?beta=true", {})
    assert route is not None and route.upstream_path == "/v1/messages"


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("/", []),
        ("/v1/messages", ["v1", "messages"]),
        ("/v1/messages?beta=true", ["v1", "messages"]),
        ("/v1/messages/..", None),
        ("/v1/./messages", None),
        ("/..", None),
        ("/a/..b", None),
        ("", None),
        ("v1/messages", None),
        ("/v1//messages", None),
        ("/v1/messages/", None),
        ("/v1/%6d", None),
        ("/v1/a@b", None),
        ("/v1/a\\b", None),
        ("/" + "a" * 3000, None),
    ],
)
def test_path_segments(path: str, segments: list[str] | None) -> None:
    assert path_segments(path) == segments
