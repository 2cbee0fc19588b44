"""forward_headers: what of the client's headers goes upstream."""

from __future__ import annotations

from proxy.adapters.base import Route
from proxy.adapters.gemini import GeminiAdapter
from proxy.forward import forward_headers, strip_query_params, upstream_request

CLIENT = [
    (b"Host", b"proxy:8787"),
    (b"Content-Length", b"42"),
    (b"Connection", b"keep-alive, X-Hop-Secret"),
    (b"X-Hop-Secret", b"for the next hop only"),
    (b"Keep-Alive", b"timeout=5"),
    (b"Transfer-Encoding", b"chunked"),
    (b"Anthropic-Beta", b"tools-2024"),
    (b"x-api-key", b"sk-ant-client"),
    (b"Authorization", b"Bearer sk-client"),
    (b"X-Provproxy-Tool", b"aider/0.80"),
    (b"X-Forwarded-User", b"alice"),
    (b"anthropic-beta", b"thinking-2025"),
    (b"User-Agent", b"claude-cli/2.0.1"),
]


def test_hop_by_hop_private_and_own_headers_stop_at_the_proxy() -> None:
    out = forward_headers(CLIENT, drop_credentials=False, extra_drop=frozenset({"x-forwarded-user"}))
    assert out == [
        (b"Anthropic-Beta", b"tools-2024"),
        (b"x-api-key", b"sk-ant-client"),
        (b"Authorization", b"Bearer sk-client"),
        (b"anthropic-beta", b"thinking-2025"),
        (b"User-Agent", b"claude-cli/2.0.1"),
    ]  # order, case and duplicates as the client sent them


def test_client_credentials_are_dropped_only_when_the_proxy_sends_its_own() -> None:
    names = [name.lower() for name, _ in forward_headers(CLIENT, drop_credentials=True)]
    assert b"x-api-key" not in names and b"authorization" not in names
    assert names == [b"anthropic-beta", b"x-forwarded-user", b"anthropic-beta", b"user-agent"]
    gemini = forward_headers([(b"x-goog-api-key", b"AIza-client")], drop_credentials=True)
    assert gemini == []


def test_every_credential_parameter_is_stripped_by_its_decoded_name() -> None:
    """When the proxy sends its own key, no client credential rides along in the query (item 10)."""
    query = "alt=sse&%6Bey=mine&KEY=mine2&access_token=tok&api%5Fkey=k&oauth_token=o&x=1&key"
    assert strip_query_params(query, ("key",)) == "alt=sse&x=1"
    request = upstream_request(
        "POST",
        "https://generativelanguage.googleapis.com",
        Route("gemini", "generateContent", "/v1beta/models/m:generateContent", "POST", True),
        GeminiAdapter(),
        [(b"x-goog-api-key", b"pp-proxy-key")],
        query,
        b"{}",
        "org-key",
        frozenset(),
        {},
    )
    assert request.url.query == b"alt=sse&x=1"
    assert request.headers.get_list("x-goog-api-key") == ["org-key"]


def test_query_is_left_alone_when_the_client_credential_goes_upstream() -> None:
    assert strip_query_params("", ("key",)) == ""
    assert strip_query_params("alt=sse&keyword=x&monkey=1", ()) == "alt=sse&keyword=x&monkey=1"
