"""The proxy port serves vendor routes and health only; /metrics is on the admin listener (issue 11, item 17)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.support.fake_vendor import FakeVendor
from tests.support.fixtures_proxy import ProxyProcess

ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"}
MESSAGES_BODY = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("path", ["/metrics", "/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"])
def test_proxy_port_does_not_serve_operational_pages(shared_proxy: ProxyProcess, path: str) -> None:
    response = httpx.get(shared_proxy.url + path)
    assert response.status_code == 404
    # The vendor-shaped "no route" answer, not a page of the proxy's own.
    assert response.json()["error"]["code"] == "not_found"
    assert "# HELP" not in response.text and "swagger" not in response.text.lower()


def test_proxy_port_serves_health(shared_proxy: ProxyProcess) -> None:
    assert httpx.get(shared_proxy.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(shared_proxy.url + "/readyz").json() == {"ready": True}


def test_admin_listener_serves_metrics_and_health(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    httpx.post(shared_proxy.url + "/v1/messages", json=MESSAGES_BODY, headers=ANTHROPIC_HEADERS)
    text = httpx.get(shared_proxy.admin_url + "/metrics").text
    assert 'provproxy_calls_total{decision="allow",endpoint="messages",outcome="completed",vendor="anthropic"}' in text
    assert httpx.get(shared_proxy.admin_url + "/healthz").json() == {"status": "ok"}
    # The admin listener is not a second way into the proxy.
    assert httpx.post(shared_proxy.admin_url + "/v1/messages", json=MESSAGES_BODY).status_code == 404
    assert httpx.get(shared_proxy.admin_url + "/openapi.json").status_code == 404


def test_serve_mounts_the_console_on_the_admin_listener(shared_proxy: ProxyProcess) -> None:
    """`provproxy serve` alone gives the security team its console: on the admin port, never anonymous."""
    created = subprocess.run(
        [sys.executable, "-m", "proxy", "admin", "tokens", "create", "--name", "alice", "--role", "viewer"],
        env=shared_proxy.env,
        cwd=shared_proxy.workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    events = shared_proxy.admin_url + "/api/v1/events"
    assert httpx.get(events).status_code == 401
    answer = httpx.get(events, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and "events" in answer.json()
    assert httpx.get(shared_proxy.url + "/api/v1/events").status_code == 404  # never on the proxy port
    # The pages come with it, and there the overview can read the recorder it shares a process with.
    overview = httpx.get(shared_proxy.admin_url + "/", headers={"authorization": f"Bearer {token}"})
    assert overview.status_code == 200, overview.text
    assert "bytes; database up" in overview.text
    assert "unknown (no `provproxy verify` state" in overview.text
    assert httpx.get(shared_proxy.admin_url + "/", follow_redirects=False).status_code in (302, 303, 307)
