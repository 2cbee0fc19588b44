"""The request path end to end: the proxy as a real process in front of real upstreams.

Each test talks HTTP to ``provproxy serve`` on a loopback port; the upstream is
the project's fake vendor, or a byte-level upstream where the exact bytes matter.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time

import httpx
import pytest

from tests.support.fake_vendor import FakeVendor
from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess
from tests.support.raw_upstream import raw_upstream

ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"}
MESSAGES_BODY = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def _user(text: str) -> dict[str, object]:
    return {**MESSAGES_BODY, "messages": [{"role": "user", "content": text}]}


# -- routing ------------------------------------------------------------------------

ROUTES = [
    # (method, proxy path, headers, body, upstream path the fake must see)
    ("POST", "/v1/messages?beta=true", ANTHROPIC_HEADERS, MESSAGES_BODY, "/v1/messages"),
    ("POST", "/anthropic/v1/messages", ANTHROPIC_HEADERS, MESSAGES_BODY, "/v1/messages"),
    ("POST", "/anthropic/v1/messages/count_tokens", ANTHROPIC_HEADERS, MESSAGES_BODY, "/v1/messages/count_tokens"),
    ("GET", "/v1/models", ANTHROPIC_HEADERS, None, "/v1/models"),
    ("GET", "/v1/models", {"authorization": "Bearer sk-x"}, None, "/v1/models"),
    ("POST", "/openai/v1/responses", {}, {"model": "gpt-5", "input": "hi"}, "/v1/responses"),
    ("POST", "/v1/responses/input_tokens", {}, {"model": "gpt-5", "input": "hi"}, "/v1/responses/input_tokens"),
    (
        "POST",
        "/v1/chat/completions",
        {},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        "/v1/chat/completions",
    ),
    (
        "POST",
        "/gemini/v1beta/models/gemini-fake-pro:generateContent",
        {"x-goog-api-key": "g"},
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "/v1beta/models/gemini-fake-pro:generateContent",
    ),
    (
        "POST",
        "/v1/models/gemini-fake-pro:countTokens",
        {"x-goog-api-key": "g"},
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "/v1/models/gemini-fake-pro:countTokens",
    ),
    ("GET", "/v1beta/models", {"x-goog-api-key": "g"}, None, "/v1beta/models"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "upstream_path"), ROUTES)
def test_routes_reach_the_vendor_path(
    shared_proxy: ProxyProcess,
    fake: FakeVendor,
    method: str,
    path: str,
    headers: dict[str, str],
    body: object,
    upstream_path: str,
) -> None:
    response = httpx.request(method, shared_proxy.url + path, headers=headers, json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["x-provenance-id"]
    [seen] = fake.requests
    assert seen.path == upstream_path
    assert seen.method == method


def test_claude_code_preconnect_is_answered_without_the_upstream(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    response = httpx.head(shared_proxy.url + "/", timeout=5)
    assert response.status_code == 200
    assert fake.count() == 0


def test_codex_websocket_upgrade_is_refused_with_426(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    headers = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "VvNdqeYy2mkLw4OIGWm4hA==",
        "openai-beta": "responses_websockets=2026-02-06",
    }
    response = httpx.get(shared_proxy.url + "/v1/responses", headers=headers, timeout=5)
    assert response.status_code == 426
    assert response.json()["error"]["message"]
    assert fake.count() == 0


@pytest.mark.parametrize(
    ("path", "headers", "shape"),
    [
        ("/anthropic/v1/files", {}, "anthropic"),
        ("/v1/complete", {"anthropic-version": "2023-06-01"}, "anthropic"),
        ("/openai/v1/embeddings", {}, "openai"),
        ("/gemini/v1beta/models/x:embedContent", {}, "gemini"),
        ("/v1beta/tunedModels", {"x-goog-api-key": "g"}, "gemini"),
    ],
)
def test_unknown_paths_get_a_404_in_the_vendor_shape(
    shared_proxy: ProxyProcess, fake: FakeVendor, path: str, headers: dict[str, str], shape: str
) -> None:
    response = httpx.post(shared_proxy.url + path, headers=headers, json={}, timeout=5)
    assert response.status_code == 404
    body = response.json()
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    elif shape == "openai":
        assert body["error"]["message"] and "status" not in body["error"]
    else:
        assert body["error"]["status"] == "NOT_FOUND" and body["error"]["code"] == 404
    assert fake.count() == 0


# -- transparency ---------------------------------------------------------------------


def test_request_bytes_headers_and_query_pass_unchanged(start_proxy: ProxyFactory) -> None:
    body = (
        b'{"model":"claude-opus-4-8","max_tokens":5,"future_field":{"x":[1,2.50,"\\u00e9"]},'
        b'"messages":[{"role":"user","content":"hi"}]}'
    )
    with raw_upstream() as upstream:
        proxy = start_proxy(upstream_anthropic=upstream.url + "/base")
        response = httpx.post(
            proxy.url + "/anthropic/v1/messages?beta=true&x=1",
            content=body,
            headers={
                **ANTHROPIC_HEADERS,
                "content-type": "application/json",
                "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
                "X-Custom-Thing": "Kept-As-Is",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "must-not-pass",
                "Keep-Alive": "timeout=5",
                "x-provproxy-tool": "internal-only",
            },
            timeout=10,
        )
        assert response.status_code == 200
        [seen] = upstream.requests
    assert seen.request_line == "POST /base/v1/messages?beta=true&x=1 HTTP/1.1"
    assert seen.body == body
    sent = dict((k.lower(), v) for k, v in seen.header_lines())
    assert sent["anthropic-beta"] == "claude-code-20250219,interleaved-thinking-2025-05-14"
    assert sent["x-custom-thing"] == "Kept-As-Is"
    assert sent["x-api-key"] == "sk-ant-test"
    assert sent["host"] == f"127.0.0.1:{upstream.port}"
    for hop in ("x-hop", "keep-alive", "x-provproxy-tool"):
        assert hop not in sent


def test_no_headers_are_invented_for_the_client(start_proxy: ProxyFactory) -> None:
    with raw_upstream() as upstream:
        proxy = start_proxy(upstream_anthropic=upstream.url)
        raw = (
            "POST /v1/messages HTTP/1.1\r\nHost: proxy\r\nanthropic-version: 2023-06-01\r\n"
            f"content-length: {len(json.dumps(MESSAGES_BODY))}\r\n\r\n{json.dumps(MESSAGES_BODY)}"
        )
        _raw_exchange(proxy.port, raw.encode())
        [seen] = upstream.requests
    names = {k.lower() for k, _ in seen.header_lines()}
    assert names == {"host", "anthropic-version", "content-length"}


def test_compressed_response_is_relayed_as_sent_and_still_parsed(start_proxy: ProxyFactory) -> None:
    payload = gzip.compress(
        json.dumps(
            {
                "id": "msg_gz",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [{"type": "text", "text": "zipped hello"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 2},
            }
        ).encode()
    )
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    ).encode()
    with raw_upstream(head + payload) as upstream:
        proxy = start_proxy(upstream_anthropic=upstream.url)
        with httpx.stream(
            "POST", proxy.url + "/v1/messages", json=MESSAGES_BODY, headers={"accept-encoding": "gzip"}
        ) as response:
            relayed = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert relayed == payload


def test_sse_events_arrive_one_by_one_before_the_next_is_sent(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    """Each delta reaches the client while the fake still holds the next one back."""
    body = {**_user("[[fake:gated chunks=4 id=order]]"), "stream": True}
    with httpx.stream("POST", shared_proxy.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for released in range(1, 5):
            fake.release("order")
            # Read until this delta shows up; the fake has not sent delta `released + 1` yet.
            seen_delta = False
            for line in lines:
                if line.startswith("data:") and '"text_delta"' in line:
                    seen_delta = True
                    break
            assert seen_delta, f"delta {released} did not arrive before the next was released"
        rest = list(lines)
    assert any("message_stop" in line for line in rest)
    assert rest[-1].startswith(": provenance id=") or rest[-2].startswith(": provenance id=")


def test_event_lines_of_sse_are_kept(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    direct = httpx.post(fake.url + "/v1/messages", json={**MESSAGES_BODY, "stream": True}, headers=ANTHROPIC_HEADERS)
    proxied = httpx.post(
        shared_proxy.url + "/v1/messages", json={**MESSAGES_BODY, "stream": True}, headers=ANTHROPIC_HEADERS
    )
    strip_ids = [line for line in direct.text.splitlines() if line.startswith("event:")]
    assert strip_ids and strip_ids == [line for line in proxied.text.splitlines() if line.startswith("event:")]


# -- bad input, broken peers -------------------------------------------------------------


def test_malformed_json_is_refused_and_never_forwarded(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    response = httpx.post(
        shared_proxy.url + "/v1/messages", content=b'{"model": "x",', headers={**ANTHROPIC_HEADERS}, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["x-should-retry"] == "false"
    assert fake.count() == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", b'{"model": "x", "messages": "not a list"}'),
        ("/v1/messages", b"[1, 2, 3]"),
        ("/v1/chat/completions", b'{"model": "x", "messages": 42}'),
    ],
)
def test_wrong_types_are_refused_in_the_vendor_shape(
    shared_proxy: ProxyProcess, fake: FakeVendor, path: str, body: bytes
) -> None:
    response = httpx.post(shared_proxy.url + path, content=body, headers=ANTHROPIC_HEADERS, timeout=5)
    assert response.status_code == 400
    assert fake.count() == 0


def test_oversized_bodies_get_413_declared_or_streamed(start_proxy: ProxyFactory, fake: FakeVendor) -> None:
    proxy = start_proxy(max_body_bytes="1000")
    big = json.dumps(_user("x" * 5000)).encode()
    declared = httpx.post(proxy.url + "/v1/messages", content=big, headers=ANTHROPIC_HEADERS, timeout=5)
    assert declared.status_code == 413
    assert declared.json()["error"]["type"] == "request_too_large"

    def chunks() -> object:
        for i in range(0, len(big), 256):
            yield big[i : i + 256]

    chunked = httpx.post(proxy.url + "/v1/messages", content=chunks(), headers=ANTHROPIC_HEADERS, timeout=5)  # type: ignore[arg-type]
    assert chunked.status_code == 413
    small = httpx.post(proxy.url + "/v1/messages", json=MESSAGES_BODY, headers=ANTHROPIC_HEADERS, timeout=5)
    assert small.status_code == 200
    assert fake.count() == 1


def test_dead_upstream_gets_a_vendor_shaped_502(start_proxy: ProxyFactory) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proxy = start_proxy(upstream_openai=dead, upstream_gemini=dead)
    response = httpx.post(
        proxy.url + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert response.status_code == 502
    assert response.json()["error"]["message"].startswith("Upstream unreachable")
    gemini = httpx.post(
        proxy.url + "/v1beta/models/g:generateContent",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
        timeout=10,
    )
    assert gemini.status_code == 502
    assert gemini.json()["error"]["status"] == "UNAVAILABLE"


def test_silent_upstream_gets_a_vendor_shaped_504(start_proxy: ProxyFactory) -> None:
    with raw_upstream(response=None) as upstream:
        proxy = start_proxy(upstream_anthropic=upstream.url, upstream_read_timeout_s="0.5")
        response = httpx.post(proxy.url + "/v1/messages", json=MESSAGES_BODY, headers=ANTHROPIC_HEADERS, timeout=10)
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout_error"


def test_upstream_errors_pass_through_unchanged(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    body = _user("[[fake:http_error status=429 message='slow down please']]")
    direct = httpx.post(fake.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    proxied = httpx.post(shared_proxy.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    assert proxied.status_code == direct.status_code == 429
    assert proxied.json()["error"] == direct.json()["error"]


def test_client_disconnect_cancels_the_upstream_call(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    body = {**_user("[[fake:hang]]"), "stream": True}
    with httpx.stream("POST", shared_proxy.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS) as response:
        for line in response.iter_lines():
            if "text_delta" in line:
                break  # got the first delta; now leave
    assert fake.wait_for_disconnects(1, timeout=10), "the proxy kept the upstream call open"


def test_upstream_dropping_mid_stream_breaks_the_client_stream_too(
    shared_proxy: ProxyProcess, fake: FakeVendor
) -> None:
    """A stream the upstream cut must not look complete to the client."""
    body = {**_user("[[fake:drop after=1]]"), "stream": True}
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", shared_proxy.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS) as response,
    ):
        assert response.status_code == 200
        received.extend(response.iter_text())
    assert "text_delta" in "".join(received) and "message_stop" not in "".join(received)
    # The proxy is still healthy afterwards.
    after = httpx.post(shared_proxy.url + "/v1/messages", json=MESSAGES_BODY, headers=ANTHROPIC_HEADERS)
    assert after.status_code == 200


# -- never an open proxy -------------------------------------------------------------------


def _raw_exchange(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        sock.settimeout(timeout)
        while b"\r\n\r\n" not in data or len(data) < 12:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        # Read the rest of a short body.
        deadline = time.monotonic() + 0.5
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/v1/messages",
        "/..//evil.example/v1/messages",
        "/v1/messages/../../evil",
        "/anthropic/%2e%2e/v1/messages",
        "/anthropic/..%2f..%2fv1/messages",
        "/v1beta/models/..%2Fx:generateContent",
    ],
)
def test_path_tricks_never_leave_the_configured_upstream(
    shared_proxy: ProxyProcess, fake: FakeVendor, target: str
) -> None:
    body = json.dumps(MESSAGES_BODY)
    raw = (
        f"POST {target} HTTP/1.1\r\nHost: evil.example\r\nanthropic-version: 2023-06-01\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n{body}"
    )
    reply = _raw_exchange(shared_proxy.port, raw.encode())
    status = int(reply[9:12])
    # Either refused, or (a normalising HTTP parser) routed to the configured fake — never elsewhere.
    assert status in (400, 404) or all(r.path.endswith("/v1/messages") for r in fake.requests)
    assert all("evil" not in r.path for r in fake.requests)


def test_absolute_uri_and_host_header_cannot_pick_the_upstream(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    body = json.dumps(MESSAGES_BODY)
    raw = (
        "POST http://evil.example:9/v1/messages HTTP/1.1\r\nHost: evil.example:9\r\n"
        f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n{body}"
    )
    reply = _raw_exchange(shared_proxy.port, raw.encode())
    status = int(reply[9:12])
    if status == 200:  # served — by the configured upstream, which saw its own host
        [seen] = fake.requests
        assert seen.headers["host"] == fake.url.removeprefix("http://")
    else:
        assert status in (400, 404)
        assert fake.count() == 0


def test_many_concurrent_streams_all_complete(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    errors: list[str] = []

    def one(i: int) -> None:
        body = {**_user(f"[[fake:slow delay_ms=20 chunks=5]] {i}"), "stream": True}
        response = httpx.post(shared_proxy.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS, timeout=30)
        if response.status_code != 200 or "message_stop" not in response.text:
            errors.append(f"{i}: {response.status_code}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fake.count("/v1/messages") == 24


def test_health_readiness_and_metrics(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    assert httpx.get(shared_proxy.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(shared_proxy.url + "/readyz").status_code == 200
    httpx.post(shared_proxy.url + "/v1/messages", json=MESSAGES_BODY, headers=ANTHROPIC_HEADERS)
    text = httpx.get(shared_proxy.admin_url + "/metrics").text
    assert 'provproxy_calls_total{decision="allow",endpoint="messages",outcome="completed",vendor="anthropic"}' in text
    assert "provproxy_call_duration_seconds_bucket" in text
