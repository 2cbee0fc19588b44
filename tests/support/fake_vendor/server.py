"""The fake vendor HTTP server: a raw ASGI app served by uvicorn on a loopback port.

Raw ASGI (not Starlette) because the fake needs exact control over streaming:
one write per frame, noticing client disconnects while idle, and closing a
response mid-body on purpose.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tests.support.fake_vendor.anthropic import AnthropicMessages
from tests.support.fake_vendor.gemini import GeminiGenerate
from tests.support.fake_vendor.openai import OpenAIChat, OpenAIResponses
from tests.support.fake_vendor.scenarios import Reply, Scenario, estimate_tokens, parse_directive, plan_reply
from tests.support.fake_vendor.wire import Generation, StreamEncoder

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

GEMINI_PATH = re.compile(r"/(v1beta|v1alpha|v1)/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")
GENERATIONS: dict[str, Generation] = {
    "/v1/messages": AnthropicMessages(),
    "/v1/responses": OpenAIResponses(),
    "/v1/chat/completions": OpenAIChat(),
}
GEMINI = GeminiGenerate()
MODEL_IDS = {
    "anthropic": ["claude-fake-sonnet", "claude-fake-haiku"],
    "openai": ["gpt-fake", "gpt-fake-mini"],
    "gemini": ["gemini-fake-pro", "gemini-fake-flash"],
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: Any  # parsed JSON, the raw text if not JSON, None when empty


class Gate:
    """Counts releases; streams wait until it has been released ``n`` times. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._released = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def release(self, times: int = 1) -> None:
        with self._lock:
            self._released += times
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def reached(self, n: int) -> None:
        while True:
            event = asyncio.Event()
            with self._lock:
                if self._released >= n:
                    return
                self._waiters.append((asyncio.get_running_loop(), event))
            await event.wait()


class FakeState:
    """Everything tests inspect or steer; shared between the server thread and test threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._gates: dict[str, Gate] = {}
        self._disconnects = 0

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, path_suffix: str | None = None) -> int:
        return sum(1 for r in self.requests if path_suffix is None or r.path.endswith(path_suffix))

    def gate(self, gate_id: str) -> Gate:
        with self._lock:
            return self._gates.setdefault(gate_id, Gate())

    def release(self, gate_id: str, times: int = 1) -> None:
        self.gate(gate_id).release(times)

    def note_disconnect(self) -> None:
        with self._lock:
            self._disconnects += 1

    @property
    def disconnects(self) -> int:
        with self._lock:
            return self._disconnects

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._gates.clear()
            self._disconnects = 0


class Connection:
    """One HTTP exchange: writes frames, and watches for the client going away."""

    def __init__(self, receive: Receive, send: Send, state: FakeState) -> None:
        self.send = send
        self.state = state
        self.gone = asyncio.Event()
        self.finished = False
        self.streaming = False
        self._watcher = asyncio.create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.finished:
            self.gone.set()
            if self.streaming:
                self.state.note_disconnect()

    async def start(self, status: int, headers: dict[str, str]) -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def write(self, data: bytes) -> None:
        if data and not self.gone.is_set():
            await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        self.finished = True
        await self.send({"type": "http.response.body", "body": data, "more_body": False})

    async def wait(self, awaitable: Awaitable[Any]) -> bool:
        """Await ``awaitable`` unless the client leaves first; False if it left."""
        task = asyncio.ensure_future(awaitable)
        gone = asyncio.ensure_future(self.gone.wait())
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, gone):
            pending.cancel()
        return not self.gone.is_set()

    async def close(self) -> None:
        self._watcher.cancel()


def _request_id() -> str:
    return "req_fake_" + uuid.uuid4().hex[:24]


class FakeVendorApp:
    """ASGI entry point: control API under ``/_fake/``, vendor endpoints matched on path suffix."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # Codex tries WebSocket first with its built-in provider
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        raw = bytearray()
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = _recorded(scope, bytes(raw))
        conn = Connection(receive, send, self.state)
        try:
            if "/_fake/" in request.path:
                await self._control(request, conn)
            else:
                self.state.record(request)
                await self._vendor(request, conn)
        finally:
            await conn.close()

    async def _json(self, conn: Connection, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        await conn.start(status, {"content-type": "application/json", **(headers or {})})
        await conn.end(data)

    async def _control(self, request: RecordedRequest, conn: Connection) -> None:
        action = request.path.split("/_fake/", 1)[1]
        if action == "requests" and request.method == "GET":
            await self._json(conn, 200, [asdict(r) for r in self.state.requests])
        elif action == "count" and request.method == "GET":
            suffix = request.query.get("path_suffix", [None])[0]
            await self._json(conn, 200, {"count": self.state.count(suffix), "disconnects": self.state.disconnects})
        elif action == "reset" and request.method == "POST":
            self.state.reset()
            await self._json(conn, 200, {"ok": True})
        elif action.startswith("release/") and request.method == "POST":
            self.state.release(action.removeprefix("release/"))
            await self._json(conn, 200, {"ok": True})
        else:
            await self._json(conn, 404, {"error": f"unknown control action {action!r}"})

    async def _vendor(self, request: RecordedRequest, conn: Connection) -> None:
        path, method = request.path, request.method
        gemini = GEMINI_PATH.search(path)
        if method == "HEAD" or (method == "GET" and path in ("", "/")):
            await conn.start(200, {"content-length": "0"})
            await conn.end()
        elif method == "GET" and path.endswith("/models"):
            await self._models(request, conn)
        elif method == "GET" and path.endswith("/v1/responses"):
            await self._json(conn, 426, {"error": {"message": "the fake serves Responses over HTTP only"}})
        elif method == "POST" and path.endswith("/v1/messages/count_tokens"):
            tokens = estimate_tokens(request.body)
            await self._json(conn, 200, {"input_tokens": tokens}, {"request-id": _request_id()})
        elif method == "POST" and path.endswith("/v1/responses/input_tokens"):
            payload = {"object": "response.input_tokens", "input_tokens": estimate_tokens(request.body)}
            await self._json(conn, 200, payload, {"x-request-id": _request_id()})
        elif method == "POST" and gemini and gemini.group(3) == "countTokens":
            await self._json(conn, 200, {"totalTokens": estimate_tokens(request.body)})
        elif method == "POST" and gemini:
            await self._generate(GEMINI, request, conn)
        elif method == "POST" and (suffix := next((s for s in GENERATIONS if path.endswith(s)), None)):
            await self._generate(GENERATIONS[suffix], request, conn)
        else:
            await self._json(conn, 404, {"error": {"message": f"fake vendor has no route {method} {path}"}})

    async def _models(self, request: RecordedRequest, conn: Connection) -> None:
        headers, query = request.headers, request.query
        if "x-goog-api-key" in headers or "key" in query or "/v1beta/" in request.path:
            methods = ["generateContent", "streamGenerateContent", "countTokens"]
            models = [{"name": f"models/{m}", "supportedGenerationMethods": methods} for m in MODEL_IDS["gemini"]]
            await self._json(conn, 200, {"models": models})
        elif "anthropic-version" in headers or "x-api-key" in headers:
            ids = MODEL_IDS["anthropic"]
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in ids]
            payload = {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}
            await self._json(conn, 200, payload, {"request-id": _request_id()})
        else:
            models_list: list[dict[str, Any]] = [
                {"id": m, "object": "model", "created": 1735689600, "owned_by": "fake"} for m in MODEL_IDS["openai"]
            ]
            await self._json(conn, 200, {"object": "list", "data": models_list}, {"x-request-id": _request_id()})

    async def _generate(self, gen: Generation, request: RecordedRequest, conn: Connection) -> None:
        headers = {gen.request_id_header: _request_id()} if gen.request_id_header else {}
        if not isinstance(request.body, dict):
            await self._json(conn, 400, gen.error_body(400, "fake vendor: body is not a JSON object"), headers)
            return
        turn = gen.read_turn(request.body, request.path, request.query)
        try:
            scenario = parse_directive(turn.last_user_text)
        except ValueError as exc:
            await self._json(conn, 400, gen.error_body(400, str(exc)), headers)
            return
        if scenario.name == "http_error":
            status = scenario.int_param("status", 500)
            message = scenario.params.get("message", f"Fake {gen.vendor_label} error {status}")
            if "should_retry" in scenario.params:
                headers["x-should-retry"] = scenario.params["should_retry"]
            await self._json(conn, status, gen.error_body(status, message), headers)
            return
        reply = plan_reply(gen.vendor_label, turn, scenario)
        if turn.stream:
            encoder = gen.encoder(turn, request.body, request.query)
            await conn.start(200, {"content-type": encoder.media_type, "cache-control": "no-cache", **headers})
            conn.streaming = True
            await self._stream(encoder, reply, scenario, conn)
            return
        if scenario.name == "hang":
            await conn.gone.wait()
            return
        data = json.dumps(gen.render_json(turn, reply)).encode()
        if scenario.name == "drop":  # promise the whole body, send half, then close
            await conn.start(200, {"content-type": "application/json", "content-length": str(len(data)), **headers})
            await conn.write(data[: len(data) // 2])
            return
        await conn.start(200, {"content-type": "application/json", **headers})
        await conn.end(data)

    async def _stream(self, enc: StreamEncoder, reply: Reply, scenario: Scenario, conn: Connection) -> None:
        await conn.write(enc.opening())
        if reply.thinking is not None:
            await conn.write(enc.thinking(reply.thinking))
        if reply.tool_call is not None:
            await conn.write(enc.tool_call(reply.tool_call))
        else:
            await conn.write(enc.text_open())
            cut_after = scenario.int_param("after", 1)
            for number, chunk in enumerate(reply.text_chunks, start=1):
                if not await self._pace(scenario, number, conn):
                    return
                await conn.write(enc.text_delta(chunk))
                if scenario.name == "hang":
                    await conn.gone.wait()
                    return
                if number >= cut_after and scenario.name == "drop":
                    return  # uvicorn closes the connection: no terminal event, no final chunk
                if number >= cut_after and scenario.name == "error_midstream":
                    message = scenario.params.get("message", "Fake mid-stream failure")
                    await conn.end(enc.error(message))
                    return
            await conn.write(enc.text_close())
        await conn.end(enc.closing())

    async def _pace(self, scenario: Scenario, number: int, conn: Connection) -> bool:
        """Hold chunk ``number`` back as the scenario says; False if the client left meanwhile."""
        if scenario.name == "slow" and number > 1:
            return await conn.wait(asyncio.sleep(scenario.int_param("delay_ms", 100) / 1000))
        if scenario.name == "gated":
            gate = self.state.gate(scenario.params.get("id", "default"))
            return await conn.wait(gate.reached(number))
        return not conn.gone.is_set()


def _recorded(scope: Scope, raw: bytes) -> RecordedRequest:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return RecordedRequest(scope["method"], scope["path"], query, headers, body)


class FakeVendor:
    """A running fake vendor server; the object tests hold (see the package docstring)."""

    def __init__(self, port: int = 0) -> None:
        self.state = FakeState()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            FakeVendorApp(self.state),
            lifespan="off",
            ws="none",
            log_level="warning",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> FakeVendor:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-vendor", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake vendor server did not start")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Run in the calling thread (for ``python -m tests.support.fake_vendor``)."""
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> FakeVendor:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- inspection and control, callable from any thread

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    def count(self, path_suffix: str | None = None) -> int:
        return self.state.count(path_suffix)

    def reset(self) -> None:
        self.state.reset()

    def release(self, gate_id: str, times: int = 1) -> None:
        self.state.release(gate_id, times)

    @property
    def disconnects(self) -> int:
        return self.state.disconnects

    def wait_for_disconnects(self, n: int = 1, timeout: float = 5.0) -> bool:
        """True once at least ``n`` mid-stream client disconnects were noticed (polls; no fixed sleep)."""
        deadline = time.monotonic() + timeout
        while self.disconnects < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True
