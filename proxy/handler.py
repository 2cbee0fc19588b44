"""The request path: route → identify → read → decide → forward → tag → record.

A raw ASGI application, so that the hot path pays for nothing it does not use
(no router walk, no request/response objects) and so that each upstream chunk
is handed to the server the moment it arrives. Vendor differences stay in the
adapters; features hang off the seams in ``proxy/hooks.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import structlog

from proxy.adapters import ADAPTERS, resolve_route
from proxy.adapters.base import Adapter, CallOutcome, CallView, ErrorKind, OutcomeParser, Route
from proxy.config import Settings
from proxy.events import Decision, Event, Outcome, new_event_id
from proxy.forward import UpstreamPool, forward_headers, header_lookup, response_headers, strip_query_params
from proxy.hooks import Decider, HeaderSigner, Identity, PrincipalResolver, Recorder, Unauthenticated
from proxy.identity import detect_client
from proxy.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = structlog.get_logger("provproxy.call")

# What the tee decodes for the outcome parser; other encodings are relayed untouched.
_DECODERS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
# The outcome parser never needs more than this much decoded body per call.
_MAX_DECODED = 64 * 1024 * 1024


class _ClientGone(Exception):
    """The client closed its connection while the response was being relayed."""


@dataclass(slots=True)
class _Call:
    """Per-request state handed between the phases."""

    event: Event
    started: float
    adapter: Adapter
    route: Route | None = None
    view: CallView | None = None
    identity: Identity | None = None
    response_started: bool = False
    # The upstream finished its answer: a client leaving after this point got it all.
    upstream_done: bool = False
    # The relay handed the event to the recorder (durably) itself.
    committed: bool = False
    # x-provenance-signature, computed while the upstream works on the request.
    signature: str | None = None


class ProxyHandler:
    def __init__(
        self,
        settings: Settings,
        pool: UpstreamPool,
        principals: PrincipalResolver,
        decider: Decider,
        recorder: Recorder,
        signer: HeaderSigner | None,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.pool = pool
        self.principals = principals
        self.decider = decider
        self.recorder = recorder
        self.signer = signer
        # Headers that only the proxy may read (identity set by an SSO front proxy).
        trusted = (settings.trusted_identity_header, settings.trusted_team_header)
        self._private_headers = frozenset(h.lower() for h in trusted if h)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        headers = header_lookup(scope["headers"])
        adapter, route = resolve_route(method, path, headers)
        if adapter is None:  # no vendor claims it: answer the 404 in some vendor's shape
            adapter = ADAPTERS[0]
        started = time.perf_counter()
        event = Event(
            id=new_event_id(),
            ts=datetime.now(UTC),
            method=method,
            path=route.upstream_path if route else path[:512],
            vendor=adapter.vendor,
            endpoint=route.endpoint if route else None,
            client_addr=scope["client"][0] if scope.get("client") else None,
        )
        call = _Call(event=event, started=started, adapter=adapter, route=route)
        if route is None:
            await self._refuse(call, send, ErrorKind.NOT_FOUND, f"No route for {method} {path[:200]}")
            return
        if route.endpoint == "preconnect":  # Claude Code's HEAD / at startup
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if route.endpoint == "responses.websocket":
            await self._refuse(call, send, ErrorKind.UPGRADE_REFUSED, "WebSocket is not supported; use HTTP")
            return

        body = await self._read_body(call, scope, receive, send, headers)
        if body is None:
            return
        query = scope["query_string"].decode("latin-1")
        query_map = _query_map(query)
        if not await self._read_call(call, body, query_map, send):
            return
        view = call.view
        assert view is not None
        if not await self._identify(call, headers, query_map, send):
            return
        assert call.identity is not None
        verdict = self.decider.decide(view, call.identity)
        event.decision = verdict.action.value
        event.use_label = verdict.label
        event.scores = verdict.scores
        event.rule_hits = verdict.rule_hits
        event.policy_rule = verdict.policy_rule
        if verdict.action is Decision.BLOCK:
            message = verdict.message or f"Blocked by policy rule {verdict.policy_rule}"
            await self._refuse(call, send, ErrorKind.POLICY_BLOCK, message, Outcome.BLOCKED)
            return
        if self.settings.fail_closed and not self.recorder.can_record():
            await self._refuse(
                call, send, ErrorKind.UNAVAILABLE, "Provenance recording is unavailable; call not forwarded"
            )
            return
        await self._forward(call, scope, receive, send, body, query)

    # -- read -----------------------------------------------------------------

    async def _read_body(
        self, call: _Call, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str]
    ) -> bytes | None:
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await self._too_large(call, send, limit)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(call, send, limit)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        call.event.request_sha256 = hashlib.sha256(body).hexdigest()
        return body

    async def _too_large(self, call: _Call, send: Send, limit: int) -> None:
        await self._refuse(call, send, ErrorKind.TOO_LARGE, f"Request body exceeds the proxy's {limit} byte limit")

    async def _read_call(self, call: _Call, body: bytes, query: Mapping[str, str], send: Send) -> bool:
        route = call.route
        assert route is not None
        parsed: Any = None
        if route.has_body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                await self._refuse(call, send, ErrorKind.INVALID_REQUEST, f"Request body is not valid JSON: {exc}")
                return False
        try:
            view = call.adapter.read_call(route, parsed, query)
        except ValueError as exc:
            await self._refuse(call, send, ErrorKind.INVALID_REQUEST, str(exc))
            return False
        call.view = view
        event = call.event
        event.model = view.model
        event.stream = view.stream
        event.turn_count = view.turn_count
        event.side_call = view.side_call
        event.instruction = view.instruction or None
        if self.settings.retention == "full":
            event.request_body = body
        return True

    # -- identify ---------------------------------------------------------------

    async def _identify(
        self, call: _Call, headers: Mapping[str, str], query: Mapping[str, str], send: Send
    ) -> bool:
        tool, version, session = detect_client(headers, call.view)
        identity = Identity(tool=tool, tool_version=version, session_id=session)
        client_addr = call.event.client_addr
        try:
            self.principals.resolve(
                call.adapter.vendor, call.adapter.credential(headers, query), headers, client_addr, identity
            )
        except Unauthenticated as exc:
            _apply_identity(call.event, identity)
            await self._refuse(call, send, ErrorKind.UNAUTHENTICATED, str(exc) or "Invalid proxy API key")
            return False
        _apply_identity(call.event, identity)
        call.identity = identity
        return True

    # -- forward, tag, record ----------------------------------------------------

    async def _forward(
        self, call: _Call, scope: Scope, receive: Receive, send: Send, body: bytes, query: str
    ) -> None:
        event, adapter, route, view = call.event, call.adapter, call.route, call.view
        assert route is not None and view is not None
        identity = call.identity
        assert identity is not None
        substitute = identity.upstream_key is not None
        headers = forward_headers(scope["headers"], substitute, self._private_headers)
        if substitute:
            assert identity.upstream_key is not None
            headers.extend(
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in adapter.upstream_credentials(identity.upstream_key).items()
            )
            query = strip_query_params(query, adapter.credential_query_params())
        url = self.settings.upstream_for(adapter.vendor) + route.upstream_path
        if query:
            url += "?" + query
        request = httpx.Request(
            scope["method"],
            url,
            headers=headers,
            content=body if route.has_body else None,
            extensions={"timeout": self.pool.timeouts},
        )
        transport = self.pool.transport(adapter.vendor)

        disconnect = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, disconnect))
        relay = asyncio.create_task(self._relay(call, transport, request, send, view))
        # Runs once the relay has sent the request and waits for the answer: work that
        # needs no response is done in time the call spends waiting anyway.
        asyncio.get_running_loop().call_soon(self._prepare, call)
        try:
            await asyncio.wait((relay, watcher), return_when=asyncio.FIRST_COMPLETED)
            if not relay.done() and not call.upstream_done:  # the client left mid-answer
                relay.cancel()  # closes the upstream call too
            error_kind, message = await _relay_result(relay)
        finally:
            watcher.cancel()
        if error_kind is not None:
            event.outcome = Outcome.UPSTREAM_ERROR.value
            event.error = message
            if not call.response_started:
                await self._refuse(call, send, error_kind, message, Outcome.UPSTREAM_ERROR)
                return
            # Broken mid-stream: return without ending the response, so the server
            # drops the connection and the client sees the break as the upstream made it.
        if disconnect.is_set() and not call.upstream_done:
            event.outcome = Outcome.CLIENT_DISCONNECTED.value
        await self._finish(call)

    def _prepare(self, call: _Call) -> None:
        self._signature(call)
        self.recorder.prepare(call.event)

    def _signature(self, call: _Call) -> str | None:
        """The call's x-provenance-signature, made once: by ``_prepare`` normally, else when the
        upstream answered first."""
        event = call.event
        if self.signer is None or not event.request_sha256:
            return None
        if call.signature is None:
            call.signature = self.signer.header_signature(event.id, event.request_sha256)
        return call.signature

    async def _relay(
        self, call: _Call, transport: httpx.AsyncBaseTransport, request: httpx.Request, send: Send, view: CallView
    ) -> None:
        """Stream the upstream response to the client, feeding the outcome parser."""
        event, adapter, route = call.event, call.adapter, call.route
        assert route is not None
        response = await transport.handle_async_request(request)
        parser: OutcomeParser | None = None
        try:
            event.upstream_status = response.status_code
            event.status = response.status_code
            event.vendor_request_id = response.headers.get("request-id") or response.headers.get(
                "x-request-id"
            )
            content_type = response.headers.get("content-type", "")
            is_sse = content_type.startswith("text/event-stream")
            parser = adapter.outcome_parser(route, view, content_type)
            decoder = _decoder_for(response.headers.get("content-encoding", ""))
            digest = hashlib.sha256()
            out_headers = response_headers(response.headers)
            out_headers.append((b"x-provenance-id", event.id.encode()))
            signature = self._signature(call)
            if signature is not None:
                out_headers.append((b"x-provenance-signature", signature.encode("latin-1")))
            await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
            call.response_started = True
            decoded_total = 0
            async for chunk in response.aiter_raw():
                if call.event.ttfb_ms is None:
                    event.ttfb_ms = (time.perf_counter() - call.started) * 1000
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                digest.update(chunk)
                if decoder is not None:
                    chunk = decoder.decompress(chunk)
                if decoded_total < _MAX_DECODED:
                    decoded_total += len(chunk)
                    parser.feed(chunk)
            call.upstream_done = True
            event.response_sha256 = digest.hexdigest()
            outcome = parser.finish()
            parser = None
            _apply_outcome(event, outcome)
            # Durable before the response ends: a client that saw the end of its
            # response can rely on the event existing, even if the proxy dies now.
            event.latency_ms = (time.perf_counter() - call.started) * 1000
            call.committed = True
            try:
                await self.recorder.commit(event)
            except Exception:  # held in memory and retried by the recorder
                log.error("record_not_durable", id=event.id, exc_info=True)
                if self.settings.fail_closed:
                    # Never let a response look complete when its record is not durable:
                    # leave it unfinished, so the client sees a broken stream.
                    return
            trailer = adapter.sse_comment(_provenance_comment(event)) if is_sse else b""
            await send({"type": "http.response.body", "body": trailer, "more_body": False})
        except BaseException:  # client gone (cancelled) or upstream broke: keep the partial
            if parser is not None:
                _apply_outcome(event, parser.finish())
            raise
        finally:
            await response.aclose()

    async def _finish(self, call: _Call) -> None:
        event = call.event
        if not call.committed:  # partial outcomes: the client left, or the upstream broke
            event.latency_ms = (time.perf_counter() - call.started) * 1000
            self.recorder.submit(event)
        self._log(event)

    async def _refuse(
        self,
        call: _Call,
        send: Send,
        kind: ErrorKind,
        message: str,
        outcome: Outcome = Outcome.REJECTED,
    ) -> None:
        """Answer in the vendor's own error shape, and record the refusal like any call."""
        reply = call.adapter.error_reply(kind, message, call.event.id)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        headers.append((b"x-provenance-id", call.event.id.encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        event = call.event
        event.status = reply.status
        event.outcome = outcome.value
        if event.error is None and outcome is not Outcome.BLOCKED:
            event.error = message[:500]
        event.latency_ms = (time.perf_counter() - call.started) * 1000
        if kind is not ErrorKind.NOT_FOUND and kind is not ErrorKind.UPGRADE_REFUSED:
            self.recorder.submit(event)
        self._log(event)

    def _log(self, event: Event) -> None:
        self.metrics.observe(event)
        log.info(
            "call",
            id=event.id,
            method=event.method,
            route=event.endpoint,
            vendor=event.vendor,
            model=event.model,
            tool=event.tool,
            tool_version=event.tool_version,
            session=event.session_id,
            principal=event.principal,
            status=event.status,
            outcome=event.outcome,
            decision=event.decision,
            label=event.use_label,
            latency_ms=round(event.latency_ms or 0.0, 2),
            ttfb_ms=round(event.ttfb_ms, 2) if event.ttfb_ms is not None else None,
            input_tokens=event.input_tokens,
            output_tokens=event.output_tokens,
        )


def _provenance_comment(event: Event) -> str:
    """The end-of-stream tag: the id, and the chain position and record hash once sealed."""
    if event.record_hash is None:
        return f"provenance id={event.id}"
    return f"provenance id={event.id} seq={event.seq} record-hash=sha256:{event.record_hash}"


async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            return


async def _relay_result(relay: asyncio.Task[None]) -> tuple[ErrorKind | None, str]:
    """How the relay failed, as the vendor error kind to answer with (None: it did not)."""
    try:
        await relay
        return None, ""
    except asyncio.CancelledError:
        return None, ""
    except httpx.TransportError as exc:
        if isinstance(exc, httpx.TimeoutException):
            return ErrorKind.UPSTREAM_TIMEOUT, f"Upstream timed out: {type(exc).__name__}"
        return ErrorKind.UPSTREAM_UNREACHABLE, f"Upstream unreachable: {type(exc).__name__}"




def _decoder_for(content_encoding: str) -> Any:
    wbits = _DECODERS.get(content_encoding.strip().lower())
    return zlib.decompressobj(wbits) if wbits else None


def _query_map(query: str) -> dict[str, str]:
    if not query:
        return {}
    out: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        out.setdefault(name, value)
    return out


def _apply_identity(event: Event, identity: Identity) -> None:
    event.principal = identity.principal
    event.principal_kind = identity.principal_kind
    event.team = identity.team
    event.tool = identity.tool
    event.tool_version = identity.tool_version
    event.session_id = identity.session_id


def _apply_outcome(event: Event, outcome: CallOutcome) -> None:
    event.response_id = outcome.response_id
    event.response_model = outcome.model
    event.stop_reason = outcome.stop_reason
    event.input_tokens = outcome.usage.input_tokens
    event.output_tokens = outcome.usage.output_tokens
    event.cache_read_tokens = outcome.usage.cache_read_tokens
    event.cache_write_tokens = outcome.usage.cache_write_tokens
    event.output_truncated = outcome.truncated
    event.completion_text = outcome.text or None
    event.thinking_text = outcome.thinking or None
    event.tool_calls = [{"name": t.name, "id": t.call_id, "arguments": t.arguments} for t in outcome.tool_calls]
    if outcome.error_type or outcome.error_message:
        event.error = f"{outcome.error_type or 'error'}: {(outcome.error_message or '')[:400]}"
    if (event.upstream_status is not None and event.upstream_status >= 400) or outcome.error_type:
        event.outcome = Outcome.UPSTREAM_ERROR.value
