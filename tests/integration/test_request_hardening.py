"""What the request path forwards, and whom it records, when the client sends tricky headers
or query strings (issue 11, items 9, 10 and 11): through the real proxy, to a byte-level upstream."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from tests.support.fixtures_proxy import ProxyFactory
from tests.support.raw_upstream import raw_upstream

MESSAGES_BODY = json.dumps(
    {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send one raw request; everything the proxy answered until its final response is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while not _complete(data):
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        return data


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole final (non-1xx) response, by its length or its last chunk."""
    final = data.rfind(b"HTTP/1.1 ")
    head_end = data.find(b"\r\n\r\n", final)
    if final < 0 or head_end < 0 or data.startswith(b"HTTP/1.1 1", final):
        return False
    head = data[final:head_end].lower()
    if b"transfer-encoding: chunked" in head:
        return data.endswith(b"0\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return len(data) >= head_end + 4 + length


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


def messages_request(headers: dict[str, str] | list[tuple[str, str]], path: str = "/v1/messages") -> bytes:
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    lines = "".join(f"{name}: {value}\r\n" for name, value in pairs)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: proxy\r\nanthropic-version: 2023-06-01\r\n"
        f"content-type: application/json\r\n{lines}content-length: {len(MESSAGES_BODY)}\r\n\r\n"
    )
    return head.encode() + MESSAGES_BODY


def status_and_event_id(answer: bytes) -> tuple[int, str]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1])
    [event_id] = [
        line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("x-provenance-id")
    ]
    return status, event_id


def test_conflicting_credentials_are_refused_and_not_forwarded(start_proxy: ProxyFactory) -> None:
    """A fake key the proxy would drop as hop-by-hop next to the real one: the record named the
    fake one while the upstream used the real one (item 9)."""
    attempts = [
        [("Connection", "close, x-api-key"), ("x-api-key", "sk-ant-fake-1"), ("Authorization", "Bearer sk-ant-real")],
        [("x-api-key", "sk-ant-fake-2"), ("x-api-key", "sk-ant-real")],
        [("x-api-key", "sk-ant-real"), ("Authorization", "Bearer sk-ant-fake-3")],
    ]
    with raw_upstream() as upstream:
        proxy = start_proxy(upstream_anthropic=upstream.url)
        for headers in attempts:
            answer = exchange(proxy.port, messages_request(headers))
            status, event_id = status_and_event_id(answer)
            assert status == 400, answer  # a client error: clients do not retry it
            assert b"onflicting credentials" in answer
            event = proxy.event(event_id)
            assert event["outcome"] == "rejected"
            assert event["principal"] is None
        assert upstream.requests == []


def test_principal_is_the_credential_that_goes_upstream(start_proxy: ProxyFactory) -> None:
    """A key named in Connection never reaches the upstream, so it cannot name the caller; the
    same key in two places is one credential, not a conflict (item 9)."""
    with raw_upstream() as upstream:
        proxy = start_proxy(upstream_anthropic=upstream.url)
        plain = status_and_event_id(exchange(proxy.port, messages_request({"x-api-key": "sk-ant-real"})))
        both = status_and_event_id(
            exchange(proxy.port, messages_request({"x-api-key": "sk-ant-real", "Authorization": "Bearer sk-ant-real"}))
        )
        dropped = status_and_event_id(
            exchange(proxy.port, messages_request({"Connection": "x-api-key", "x-api-key": "sk-ant-spoof"}))
        )
        sent = [{name.lower(): value for name, value in r.header_lines()} for r in upstream.requests]
    assert [plain[0], both[0], dropped[0]] == [200, 200, 200]
    assert sent[0]["x-api-key"] == sent[1]["x-api-key"] == "sk-ant-real"
    assert "x-api-key" not in sent[2] and "authorization" not in sent[2]
    real_principal = proxy.event(plain[1])["principal"]
    assert real_principal.startswith("vk:")
    assert proxy.event(both[1])["principal"] == real_principal
    spoofed = proxy.event(dropped[1])
    assert (spoofed["principal"], spoofed["principal_kind"]) == (None, "anonymous")


def test_proxy_key_in_encoded_or_other_query_parameters_never_reaches_the_upstream(start_proxy: ProxyFactory) -> None:
    """With a proxy key the organisation's key goes upstream, and no client credential with it (item 10)."""
    org_key = "AIzaOrganisationKey0123456789"
    with raw_upstream() as upstream:
        proxy = start_proxy(upstream_gemini=upstream.url, gemini_api_key=org_key, key_cache_ttl_s="0.2")
        created = subprocess.run(
            [sys.executable, "-m", "proxy", "keys", "create", "--user", "carol"],
            env=proxy.env,
            cwd=proxy.workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        key = next(word for word in created.split() if word.startswith("pp-"))
        body = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
        path = f"/v1beta/models/gemini-2.5-flash:generateContent?%6Bey={key}&access_token={key}&alt=json"
        request = (
            f"POST {path} HTTP/1.1\r\nHost: proxy\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        deadline = time.monotonic() + 10
        while (status := status_and_event_id(answer := exchange(proxy.port, request)))[0] == 401:
            assert time.monotonic() < deadline, "the new key was not picked up"
            time.sleep(0.1)
        assert status[0] == 200, answer
        [seen] = upstream.requests
    assert key not in seen.head.decode("latin-1")
    assert seen.request_line == "POST /v1beta/models/gemini-2.5-flash:generateContent?alt=json HTTP/1.1"
    assert dict((k.lower(), v) for k, v in seen.header_lines())["x-goog-api-key"] == org_key
    assert proxy.event(status[1])["principal"] == "carol"
