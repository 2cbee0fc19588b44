"""Calls in flight when the proxy is killed leave "forwarded, outcome unknown", not nothing (issue 11, item 8).

Each forwarded call spools a provisional record that its event completes; the next start
records every provisional record nobody completed as its call, sealed into the chain."""

from __future__ import annotations

import threading

import httpx

from tests.integration.conftest import FAST_WRITER, verify_chain, wait_for
from tests.support.fake_vendor import FakeVendor
from tests.support.fixtures_proxy import ProxyFactory

HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-in-flight"}


def body(prompt: str, stream: bool) -> dict[str, object]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    }


def test_calls_in_flight_at_kill_9_are_recorded_with_outcome_unknown(
    start_proxy: ProxyFactory, fake: FakeVendor
) -> None:
    proxy = start_proxy(**FAST_WRITER)
    done = httpx.post(proxy.url + "/v1/messages", json=body("hello", False), headers=HEADERS, timeout=10)
    assert done.status_code == 200
    started: list[str] = []

    def hang(stream: bool) -> None:
        try:
            with httpx.stream(
                "POST", proxy.url + "/v1/messages", json=body("wait [[fake:hang]]", stream), headers=HEADERS, timeout=30
            ) as response:
                started.append(response.headers["x-provenance-id"])
                for _ in response.iter_raw():
                    pass
        except httpx.TransportError:
            pass  # the proxy is killed under it

    hung = [threading.Thread(target=hang, args=(stream,)) for stream in (True, False)]
    for thread in hung:
        thread.start()
    # The streamed call has its headers (and its event id); the other waits for its answer.
    wait_for(lambda: fake.count("/v1/messages") == 3 and len(started) == 1, "both calls forwarded")
    proxy.kill9()
    for thread in hung:
        thread.join(10)

    proxy.start()  # the same spool and database
    unknown = proxy.events(at_least=2, outcome="outcome_unknown")
    assert len(unknown) == 2 and started[0] in {e["id"] for e in unknown}
    assert {e["stream"] for e in unknown} == {True, False}
    for event in unknown:
        assert event["principal"].startswith("vk:") and event["model"] == "claude-sonnet-4-5"
        assert event["decision"] == "allow" and event["vendor"] == "anthropic"
    assert proxy.event(done.headers["x-provenance-id"])["outcome"] == "completed"
    # Completed calls left no second record; every event is sealed in one chain.
    assert len(proxy.events(at_least=3)) == 3
    assert "OK" in verify_chain(proxy)


def test_a_clean_restart_leaves_no_outcome_unknown(start_proxy: ProxyFactory, fake: FakeVendor) -> None:
    proxy = start_proxy(**FAST_WRITER)
    for stream in (False, True):
        with httpx.stream(
            "POST", proxy.url + "/v1/messages", json=body("hi", stream), headers=HEADERS, timeout=10
        ) as response:
            assert response.status_code == 200
            response.read()
    proxy.stop()
    proxy.start()
    events = proxy.events(at_least=2)
    assert [e["outcome"] for e in events] == ["completed", "completed"]
    assert proxy.events(at_least=0, timeout=0, outcome="outcome_unknown") == []
