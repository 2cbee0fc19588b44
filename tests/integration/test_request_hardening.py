"""What the request path forwards, and whom it records, when the client sends tricky headers
or query strings (issue 11, items 9, 10 and 11): through the real proxy, to a byte-level upstream."""

from __future__ import annotations

import json
import socket
import time

from tests.fixtures_proxy import ProxyFactory
from tests.raw_upstream import raw_upstream

MESSAGES_BODY = json.dumps(
    {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send one raw request; everything the proxy answered until its final response is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            final = data.rfind(b"HTTP/1.1 ")
            head_end = data.find(b"\r\n\r\n", final)
            if final >= 0 and head_end > 0 and not data.startswith(b"HTTP/1.1 100", final):
                length = 0
                for line in data[final:head_end].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if len(data) >= head_end + 4 + length:
                    return data
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_expect_100_continue_is_not_forwarded(start_proxy: ProxyFactory) -> None:
    """An upstream that ignores ``Expect: 100-continue`` must not hold the call (item 11)."""
    with raw_upstream() as upstream:
        proxy = start_proxy(upstream_anthropic=upstream.url)
        head = (
            "POST /v1/messages HTTP/1.1\r\nHost: proxy\r\nanthropic-version: 2023-06-01\r\n"
            "x-api-key: sk-ant-test\r\ncontent-type: application/json\r\nExpect: 100-continue\r\n"
            f"content-length: {len(MESSAGES_BODY)}\r\n\r\n"
        ).encode()
        started = time.monotonic()
        answer = exchange(proxy.port, head + MESSAGES_BODY)
        elapsed = time.monotonic() - started
        [seen] = upstream.requests
    assert b"HTTP/1.1 200 OK" in answer
    assert elapsed < 1.0, f"the call took {elapsed:.2f} s"
    assert "expect" not in {name.lower() for name, _ in seen.header_lines()}
    assert seen.body == MESSAGES_BODY
