"""A full upstream pool is the proxy's own limit, said as such, not a slow vendor (issue 11, item 13)."""

from __future__ import annotations

import contextlib
import re
import threading
import time

import httpx

from tests.integration.conftest import wait_for
from tests.support.fixtures_proxy import ProxyFactory
from tests.support.raw_upstream import raw_upstream

HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"}
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


def test_pool_exhaustion_is_its_own_condition_and_metric(start_proxy: ProxyFactory) -> None:
    with raw_upstream(response=None) as upstream:  # holds every call open, like long streams
        proxy = start_proxy(
            upstream_anthropic=upstream.url, upstream_max_connections="2", upstream_connect_timeout_s="1"
        )

        def hold() -> None:
            # The client gives up after a while; the proxy then closes its upstream call.
            with contextlib.suppress(httpx.TimeoutException):
                httpx.post(proxy.url + "/v1/messages", json=BODY, headers=HEADERS, timeout=6)

        holders = [threading.Thread(target=hold) for _ in range(2)]
        for holder in holders:
            holder.start()
        wait_for(lambda: len(upstream.requests) == 2, "both pooled connections in use")
        started = time.monotonic()
        refused = httpx.post(proxy.url + "/v1/messages", json=BODY, headers=HEADERS, timeout=8)
        waited = time.monotonic() - started
        metrics = httpx.get(proxy.admin_url + "/metrics", timeout=5).text
        for holder in holders:
            holder.join()
    assert refused.status_code == 503, refused.text
    message = refused.json()["error"]["message"]
    assert "connection pool full" in message and "all 2 connections" in message
    assert "timed out" not in message.lower()
    assert waited < 5  # it waited the connect timeout for a free connection, not the read timeout
    assert len(upstream.requests) == 2  # the refused call never reached the upstream
    assert re.search(r'^provproxy_upstream_pool_exhausted_total\{vendor="anthropic"\} 1\.0$', metrics, re.M)
    assert re.search(r'^provproxy_upstream_connections_in_use\{vendor="anthropic"\} 2\.0$', metrics, re.M)
    event = proxy.event(refused.headers["x-provenance-id"])
    assert event["outcome"] == "upstream_error" and "connection pool full" in event["error"]
