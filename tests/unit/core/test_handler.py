"""ProxyHandler driven in process: a scripted ASGI client in front, httpx's MockTransport
behind (through the pool's transport seam), the real adapters, principals, policy and signer.
The recorder is an in-memory stand-in; the durable one has its own tests in tests/unit/store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.adapters import anthropic
from proxy.config import Settings
from proxy.decider import PolicyDecider
from proxy.events import Event
from proxy.forward import UpstreamPool
from proxy.handler import ProxyHandler
from proxy.hooks import Receipt
from proxy.metrics import Metrics
from proxy.policy import PolicySource
from proxy.principals import KeyPrincipalResolver
from proxy.provenance.header import ProvenanceSigner
from proxy.provenance.signing_keys import load_or_create_signing_key
from proxy.store.migrate import upgrade
from tests.unit.helpers import sse

UPSTREAM = "http://anthropic.upstream.test"
HEADERS = {
    "anthropic-version": "2023-06-01",
    "x-api-key": "sk-ant-api03-engineer-key",
    "content-type": "application/json",
}
MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Fix the bug"}]}
EVAL_TASKS = (
    "Generate 200 SWE-bench style evaluation tasks for our code model: for each, a problem statement, "
    "a hidden test suite and a grader script, written as JSONL to evals/tasks.jsonl"
)
RECEIPT = Receipt(seq=7, record_hash="ab" * 32)
REPLY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Done."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 11, "output_tokens": 2},
}
STREAM = sse(
    [
        ("message_start", {"type": "message_start", "message": {**REPLY, "content": [], "stop_reason": None}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Done."}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)

Upstream = Callable[[httpx.Request], Any]

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the proxy runs on asyncio


class MemoryRecorder:
    """Keeps what the handler records; commit() hands back a fixed receipt."""

    def __init__(self) -> None:
        self.submitted: list[Event] = []
        self.committed: list[Event] = []
        self.prepared: list[str] = []
        self.forwarded: list[str] = []

    def can_record(self) -> bool:
        return True

    def prepare(self, event: Event) -> None:
        self.prepared.append(event.id)

    def provisional(self, event: Event) -> None:
        self.forwarded.append(event.id)

    def submit(self, event: Event) -> None:
        self.submitted.append(event)

    async def commit(self, event: Event) -> Receipt | None:
        self.committed.append(event)
        return RECEIPT

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @property
    def events(self) -> list[Event]:
        return self.submitted + self.committed


class MockPool(UpstreamPool):
    """The pool with httpx's MockTransport behind its transport seam."""

    def __init__(self, settings: Settings, upstream: Upstream) -> None:
        super().__init__(settings, ["anthropic", "openai", "gemini"])
        self.requests: list[httpx.Request] = []

        def handle(request: httpx.Request) -> Any:
            self.requests.append(request)
            return upstream(request)

        self.mock = httpx.MockTransport(handle)

    def transport(self, vendor: str) -> httpx.AsyncBaseTransport:
        return self.mock


@dataclass
class Exchange:
    """What the handler sent to the client."""

    messages: list[MutableMapping[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.messages[0]["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])

    @property
    def ended(self) -> bool:
        return bool(self.messages) and not self.messages[-1].get("more_body", False) and len(self.messages) > 1


@pytest.fixture
def make_handler(tmp_path: Path) -> Iterator[Callable[..., tuple[ProxyHandler, MockPool, MemoryRecorder]]]:
    resolvers: list[KeyPrincipalResolver] = []

    def make(upstream: Upstream, **overrides: Any) -> tuple[ProxyHandler, MockPool, MemoryRecorder]:
        database_url = f"sqlite:///{tmp_path / 'events.db'}"
        upgrade(database_url)
        values: dict[str, Any] = {
            "database_url": database_url,
            "spool_dir": tmp_path / "spool",
            "signing_key_file": tmp_path / "signing-key.pem",
            "upstream_anthropic": UPSTREAM,
            **overrides,
        }
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        principals = KeyPrincipalResolver(settings)
        resolvers.append(principals)
        pool = MockPool(settings, upstream)
        recorder = MemoryRecorder()
        signer = ProvenanceSigner(load_or_create_signing_key(settings.signing_key_file))
        decider = PolicyDecider(PolicySource.from_settings(settings))
        handler = ProxyHandler(settings, pool, principals, decider, recorder, signer, Metrics(recorder))
        return handler, pool, recorder

    yield make
    for resolver in resolvers:
        resolver.close()


async def call(
    handler: ProxyHandler,
    path: str = "/v1/messages",
    body: bytes | dict[str, Any] = MESSAGES,
    headers: dict[str, str] = HEADERS,
    method: str = "POST",
    leave_after_chunks: int | None = None,
) -> Exchange:
    """One request through the handler; with ``leave_after_chunks`` the client disconnects
    once it has received that many body chunks."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    exchange = Exchange()
    gone = asyncio.Event()
    request_read = False

    async def receive() -> dict[str, Any]:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        exchange.messages.append(message)
        chunks = sum(1 for m in exchange.messages if m["type"] == "http.response.body")
        if leave_after_chunks is not None and chunks >= leave_after_chunks:
            gone.set()

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
    }
    await asyncio.wait_for(handler(scope, receive, send), timeout=10)
    return exchange


def streamed(status: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """A response the way a transport returns one: headers now, the body still to stream."""
    return httpx.Response(status, stream=httpx.ByteStream(body), headers=headers)


def json_reply(request: httpx.Request) -> httpx.Response:
    headers = {"content-type": "application/json", "request-id": "req_upstream_1"}
    return streamed(200, json.dumps(REPLY).encode(), headers)


async def test_an_allowed_call_is_forwarded_unchanged_tagged_and_committed(make_handler: Any) -> None:
    handler, pool, recorder = make_handler(json_reply)
    exchange = await call(handler)
    assert exchange.status == 200 and exchange.ended
    assert json.loads(exchange.body) == REPLY
    [request] = pool.requests
    assert str(request.url) == UPSTREAM + "/v1/messages"
    assert json.loads(request.content) == MESSAGES and request.headers["x-api-key"] == HEADERS["x-api-key"]
    [event] = recorder.committed
    assert recorder.submitted == [] and recorder.prepared == [event.id]
    assert exchange.headers["x-provenance-id"] == event.id
    assert exchange.headers["x-provenance-signature"].startswith("ed25519;kid=")
    assert (event.status, event.upstream_status, event.outcome, event.decision) == (200, 200, "completed", "allow")
    assert (event.completion_text, event.input_tokens, event.output_tokens) == ("Done.", 11, 2)
    assert event.vendor_request_id == "req_upstream_1" and event.principal and event.principal.startswith("vk:")
    assert event.request_sha256 and event.response_sha256 and event.latency_ms is not None


async def test_a_stream_ends_with_the_receipt_the_recorder_returned(make_handler: Any) -> None:
    def stream(request: httpx.Request) -> httpx.Response:
        return streamed(200, STREAM, {"content-type": "text/event-stream"})

    handler, _, recorder = make_handler(stream)
    exchange = await call(handler, body={**MESSAGES, "stream": True})
    [event] = recorder.committed
    trailer = f": provenance id={event.id} seq=7 record-hash=sha256:{'ab' * 32}\n\n".encode()
    assert exchange.ended and exchange.messages[-1]["body"] == trailer
    assert exchange.body == STREAM + trailer
    assert event.stream and event.completion_text == "Done." and event.stop_reason == "end_turn"


async def test_a_blocked_call_never_reaches_the_upstream_and_is_recorded(make_handler: Any) -> None:
    handler, pool, recorder = make_handler(json_reply)
    body = {**MESSAGES, "messages": [{"role": "user", "content": EVAL_TASKS}]}
    exchange = await call(handler, body=body)
    assert exchange.status == 400 and exchange.headers["x-should-retry"] == "false"
    assert json.loads(exchange.body)["error"]["type"] == "invalid_request_error"
    assert pool.requests == []
    [event] = recorder.submitted
    assert (event.decision, event.outcome, event.use_label) == ("block", "blocked", "eval_task_generation")
    assert exchange.headers["x-provenance-id"] == event.id and event.error is None


@pytest.mark.parametrize(
    ("failure", "status"), [(httpx.ConnectError("refused"), 502), (httpx.ReadTimeout("slow"), 504)]
)
async def test_an_upstream_failing_before_the_first_byte_gets_a_vendor_shaped_error(
    make_handler: Any, failure: Exception, status: int
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    handler, _, recorder = make_handler(fail)
    exchange = await call(handler)
    assert exchange.status == status and json.loads(exchange.body)["type"] == "error"
    [event] = recorder.submitted
    assert (event.status, event.upstream_status, event.outcome) == (status, None, "upstream_error")
    assert event.error is not None and event.error.startswith(("Upstream unreachable", "Upstream timed out"))


async def test_an_upstream_breaking_mid_stream_breaks_the_client_stream_and_keeps_the_partial(
    make_handler: Any,
) -> None:
    first = STREAM[: STREAM.index(b"event: content_block_stop")]

    async def broken() -> AsyncIterator[bytes]:
        yield first
        raise httpx.ReadError("reset")

    def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=broken(), headers={"content-type": "text/event-stream"})

    handler, _, recorder = make_handler(stream)
    exchange = await call(handler, body={**MESSAGES, "stream": True})
    assert exchange.status == 200 and exchange.body == first
    assert not exchange.ended  # never ended: the server drops the connection
    [event] = recorder.submitted
    assert recorder.committed == []
    assert (event.outcome, event.error, event.completion_text) == (
        "upstream_error",
        "Upstream unreachable: ReadError",
        "Done.",
    )


async def test_a_client_leaving_mid_stream_cancels_the_upstream_and_keeps_the_partial(make_handler: Any) -> None:
    first = STREAM[: STREAM.index(b"event: content_block_stop")]
    upstream_closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            yield first
            await asyncio.Event().wait()  # the upstream keeps thinking
            yield b""
        finally:
            upstream_closed.set()

    def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(), headers={"content-type": "text/event-stream"})

    handler, _, recorder = make_handler(stream)
    exchange = await call(handler, body={**MESSAGES, "stream": True}, leave_after_chunks=1)
    assert upstream_closed.is_set()
    assert exchange.body == first and not exchange.ended
    [event] = recorder.submitted
    assert (event.outcome, event.completion_text, event.error) == ("client_disconnected", "Done.", None)
    assert event.ttfb_ms is not None and event.response_sha256 is None


async def test_refusals_answer_in_the_vendor_shape_and_record_only_vendor_calls(make_handler: Any) -> None:
    handler, pool, recorder = make_handler(json_reply)
    not_found = await call(handler, path="/anthropic/v1/nothing-here")
    assert not_found.status == 404 and json.loads(not_found.body)["error"]["type"] == "not_found_error"
    websocket = await call(
        handler, path="/openai/v1/responses", method="GET", body=b"", headers={"upgrade": "websocket"}
    )
    assert websocket.status == 426
    assert recorder.events == []  # not vendor calls: answered, not recorded

    invalid = await call(handler, body=b"{not json")
    assert invalid.status == 400 and "not valid JSON" in json.loads(invalid.body)["error"]["message"]
    too_large = await call(handler, headers={**HEADERS, "content-length": str(64 * 1024 * 1024)})
    assert too_large.status == 413
    assert pool.requests == []
    assert [(e.status, e.outcome) for e in recorder.submitted] == [(400, "rejected"), (413, "rejected")]
    assert recorder.submitted[0].request_sha256 is not None  # the refused body is still identified
    assert [e.id for e in recorder.submitted] == [
        invalid.headers["x-provenance-id"],
        too_large.headers["x-provenance-id"],
    ]


async def test_without_a_required_proxy_key_the_body_is_never_parsed(
    make_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_calls: list[object] = []
    original = anthropic.ADAPTER.read_call

    def spy(*args: Any) -> Any:
        read_calls.append(args)
        return original(*args)

    monkeypatch.setattr(anthropic.ADAPTER, "read_call", spy)
    handler, pool, recorder = make_handler(json_reply, require_proxy_key=True, anthropic_api_key="sk-ant-org")
    headers = {**HEADERS, "user-agent": "claude-cli/2.0.1 (external, cli)"}
    for body in (MESSAGES, b"{not json at all"):
        exchange = await call(handler, body=body, headers=headers)
        assert exchange.status == 401, exchange.body  # not 400: the body was never looked at
        assert json.loads(exchange.body)["error"]["type"] == "authentication_error"
    assert read_calls == [] and pool.requests == []
    unread = recorder.submitted[-1]
    assert (unread.outcome, unread.tool, unread.tool_version, unread.request_sha256) == (
        "rejected",
        "claude-code",
        "2.0.1",
        None,
    )

    monkeypatch.setattr(handler.settings, "require_proxy_key", False)  # the spy does see accepted calls
    assert (await call(handler, headers=headers)).status == 200 and len(read_calls) == 1
