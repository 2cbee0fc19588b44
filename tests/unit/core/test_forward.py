"""forward_headers: what of the client's headers goes upstream."""

from __future__ import annotations

from proxy.forward import forward_headers

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
