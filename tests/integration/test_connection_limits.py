"""Client connection limits of ``provproxy serve`` (issue 11, item 12).

Raw sockets against the real proxy: oversized or too many headers, headers or a
body that never finish, a connection that sends nothing, one address opening
more connections than its share, and the file-descriptor limit at start.
"""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess

LOWERED_SOFT_LIMIT = 256

# One proxy for the tests that each use one connection (starting one costs seconds).
LIMITS = {"max_header_bytes": "16384", "max_header_count": "50", "header_timeout_s": "1", "body_timeout_s": "1"}


@pytest.fixture(scope="module")
def limited_proxy(tmp_path_factory: pytest.TempPathFactory, fake_vendor: object) -> Iterator[ProxyProcess]:
    factory = ProxyFactory(tmp_path_factory.mktemp("limits"), fake_vendor.url)  # type: ignore[attr-defined]
    yield factory(**LIMITS)
    factory.stop_all()


@contextmanager
def connection(proxy: ProxyProcess) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    try:
        yield sock
    finally:
        sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the proxy sends until it closes the connection (a reset counts as closed)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:100]
    return int(response[9:12])


def assert_still_serving(proxy: ProxyProcess) -> None:
    assert httpx.get(proxy.url + "/healthz", timeout=5).status_code == 200


def test_an_oversized_header_is_refused_with_431_before_it_ends(limited_proxy: ProxyProcess) -> None:
    proxy = limited_proxy
    with connection(proxy) as sock:
        # The header never ends: the proxy must not wait for (and buffer) the rest.
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-filler: " + b"a" * 200_000)
        assert status_of(read_until_closed(sock)) == 431
    assert_still_serving(proxy)


def test_headers_over_the_size_limit_in_one_piece_get_431(limited_proxy: ProxyProcess) -> None:
    proxy = limited_proxy
    with connection(proxy) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-filler: " + b"a" * 20_000 + b"\r\n\r\n")
        assert status_of(read_until_closed(sock)) == 431
    with connection(proxy) as sock:  # just under the limit is an ordinary request
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-f: " + b"a" * 15_000 + b"\r\n\r\n")
        assert status_of(read_until_closed(sock)) == 200


def test_too_many_header_fields_get_431(limited_proxy: ProxyProcess) -> None:
    proxy = limited_proxy
    fields = b"".join(b"x-field-%d: v\r\n" % i for i in range(60))
    with connection(proxy) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n" + fields + b"\r\n")
        assert status_of(read_until_closed(sock)) == 431
    assert_still_serving(proxy)


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /v1/messages HTTP/1.1\r\nhost: x\r\n"],
    ids=["nothing-sent", "headers-never-end"],
)
def test_headers_that_do_not_arrive_in_time_get_408_and_a_closed_connection(
    limited_proxy: ProxyProcess, sent: bytes
) -> None:
    proxy = limited_proxy
    with connection(proxy) as sock:
        started = time.monotonic()
        sock.sendall(sent)
        response = read_until_closed(sock)
        waited = time.monotonic() - started
    assert status_of(response) == 408
    assert 0.8 < waited < 5, waited


def test_a_body_that_stops_arriving_gets_408(limited_proxy: ProxyProcess) -> None:
    proxy = limited_proxy
    with connection(proxy) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /anthropic/v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"x-api-key: sk-ant-limits\r\nanthropic-version: 2023-06-01\r\ncontent-length: 1000\r\n\r\n{"
        )
        response = read_until_closed(sock)
        waited = time.monotonic() - started
    assert status_of(response) == 408
    assert 0.8 < waited < 5, waited
    assert_still_serving(proxy)


@pytest.fixture(scope="module")
def capped_proxy(tmp_path_factory: pytest.TempPathFactory, fake_vendor: object) -> Iterator[ProxyProcess]:
    """Started with a low soft open-file limit (which it inherits) and a per-client cap of 8."""
    factory = ProxyFactory(tmp_path_factory.mktemp("capped"), fake_vendor.url)  # type: ignore[attr-defined]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard, LOWERED_SOFT_LIMIT), hard))
    try:
        proxy = factory(max_connections_per_client="8", header_timeout_s="30")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    yield proxy
    factory.stop_all()


def test_one_address_cannot_hold_more_than_its_share_of_connections(capped_proxy: ProxyProcess) -> None:
    proxy = capped_proxy
    held = [socket.create_connection(("127.0.0.1", proxy.port), timeout=10) for _ in range(8)]
    try:
        time.sleep(0.3)  # the proxy has accepted them all
        with connection(proxy) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            assert read_until_closed(extra) == b""  # closed unanswered
        held.pop().close()
        time.sleep(0.3)
        with connection(proxy) as freed:
            freed.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            assert status_of(read_until_closed(freed)) == 200
    finally:
        for sock in held:
            sock.close()


def test_serve_raises_the_open_file_limit_to_the_hard_limit(capped_proxy: ProxyProcess) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard <= LOWERED_SOFT_LIMIT:
        pytest.skip(f"the hard open-file limit ({hard}) leaves nothing to raise")
    assert capped_proxy.proc is not None
    limits = Path(f"/proc/{capped_proxy.proc.pid}/limits").read_text()
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3] == str(hard), line
