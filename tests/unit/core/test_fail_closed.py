"""Fail-closed: no response looks complete to its client before its record is durable (issue 11, item 7).

A non-streamed response keeps the upstream's Content-Length, so its client holds a whole
response at the last byte: that byte waits for the commit, and is never sent if it fails."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from proxy.events import Event
from proxy.hooks import Receipt
from proxy.store.writer import NotDurable
from tests.unit.core.test_handler import REPLY, STREAM, call, streamed

pytestmark = pytest.mark.anyio
BODY = json.dumps(REPLY).encode()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def sized_reply(request: httpx.Request) -> httpx.Response:
    """A JSON answer with its Content-Length, in three chunks as a socket might deliver it."""
    headers = {"content-type": "application/json", "content-length": str(len(BODY))}
    chunks = [BODY[:10], BODY[10:-5], BODY[-5:]]
    return httpx.Response(200, stream=httpx.ByteStream(b"".join(chunks)), headers=headers)


async def failing_commit(event: Event) -> Receipt | None:
    raise NotDurable("spool and database unavailable")


async def test_a_sized_response_is_one_byte_short_when_its_record_is_not_durable(make_handler: Any) -> None:
    handler, _, recorder = make_handler(sized_reply, fail_closed=True)
    recorder.commit = failing_commit
    exchange = await call(handler)
    assert exchange.status == 200
    assert int(exchange.headers["content-length"]) == len(BODY)
    assert exchange.body == BODY[:-1]  # the client cannot take it for a whole response
    assert not exchange.ended


async def test_a_sized_response_ends_whole_once_its_record_is_durable(make_handler: Any) -> None:
    handler, _, recorder = make_handler(sized_reply, fail_closed=True)
    exchange = await call(handler)
    assert exchange.body == BODY and exchange.ended
    [event] = recorder.committed
    assert event.completion_text == "Done." and event.response_sha256


async def test_a_stream_does_not_end_when_its_record_is_not_durable(make_handler: Any) -> None:
    def stream(request: httpx.Request) -> httpx.Response:
        return streamed(200, STREAM, {"content-type": "text/event-stream"})

    handler, _, recorder = make_handler(stream, fail_closed=True)
    recorder.commit = failing_commit
    exchange = await call(
        handler,
        body={
            "model": "claude-sonnet-4-5",
            "max_tokens": 64,
            "stream": True,
            "messages": [{"role": "user", "content": "Fix the bug"}],
        },
    )
    assert exchange.body == STREAM and not exchange.ended


async def test_without_fail_closed_nothing_is_held_back(make_handler: Any) -> None:
    handler, _, recorder = make_handler(sized_reply)
    recorder.commit = failing_commit
    exchange = await call(handler)
    assert exchange.body == BODY and exchange.ended  # recorded later: the recorder holds and retries it
