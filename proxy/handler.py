"""The request path, one phase after another:

route → authenticate → read → identify → decide → forward → tag → record

* **route** — the path picks a vendor adapter and its route (``proxy/adapters``);
* **authenticate** — the credential the client presented becomes a principal, from
  headers and query alone: a caller the proxy does not accept is refused (401)
  before its body is even read, let alone parsed;
* **read** — the body, size-capped, parsed once into a ``CallView`` (``proxy/read.py``);
* **identify** — tool, version and session, from the headers and the view;
* **decide** — classify the use and apply the policy: allow, flag or block;
* **forward** — the request goes upstream and the response streams back unchanged
  (``proxy/forward.py``, ``proxy/relay.py``);
* **tag** — provenance headers on the response (``proxy/tag.py``);
* **record** — the event is made durable before the response ends, and the stream's
  last line, the SSE provenance comment, names the receipt the recorder returned.

A raw ASGI application, so that the hot path pays for nothing it does not use
(no router walk, no request/response objects) and each upstream chunk is handed
to the server the moment it arrives. The handler never branches on the vendor;
features hang off the seams in ``proxy/hooks.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import httpx
import structlog

from proxy.adapters import ADAPTERS, resolve_route
from proxy.adapters.base import Adapter, CallView, ErrorKind
from proxy.config import Settings
from proxy.credentials import presented_credentials, query_pairs
from proxy.events import Decision, Event, Outcome
from proxy.forward import UpstreamPool, forward_headers, header_lookup, upstream_request
from proxy.hooks import Decider, HeaderSigner, Identity, PrincipalResolver, Recorder, Unauthenticated
from proxy.identity import detect_client
from proxy.metrics import Metrics
from proxy.read import ClientGone, query_map, read_call, receive_body
from proxy.record import new_event, note_identity, note_relayed, note_request, note_verdict
from proxy.refusal import UNRECORDED, Refusal, send_refusal
from proxy.relay import Relay
from proxy.tag import ProvenanceTag

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = structlog.get_logger("provproxy.call")


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
        matched, route = resolve_route(method, path, headers)  # route
        adapter = matched or ADAPTERS[0]  # no vendor claims it: answer the 404 in some vendor's shape
        started = time.perf_counter()
        client = scope.get("client")
        event = new_event(method, path, adapter, route, client[0] if client else None)
        query = scope["query_string"].decode("latin-1")
        try:
            if route is None:
                raise Refusal(ErrorKind.NOT_FOUND, f"No route for {method} {path[:200]}")
            if route.endpoint == "preconnect":  # Claude Code's HEAD / at startup
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            if route.endpoint == "responses.websocket":
                raise Refusal(ErrorKind.UPGRADE_REFUSED, "WebSocket is not supported; use HTTP")
            pairs = query_pairs(query)
            queries = query_map(pairs)
            forwarded = forward_headers(scope["headers"], False, self._private_headers)
            identity = self._authenticate(adapter, headers, forwarded, scope["headers"], pairs, event)
            body = await receive_body(receive, headers, self.settings.max_body_bytes)  # read
            event.request_sha256 = hashlib.sha256(body).hexdigest()
            view = read_call(adapter, route, body, queries)
            note_request(event, view, body, self.settings.retention)
            identity.tool, identity.tool_version, identity.session_id = detect_client(headers, view)  # identify
            note_identity(event, identity)
            self._decide(view, identity, event)
        except Refusal as refusal:
            await self._refuse(adapter, send, event, started, refusal)
            return
        except ClientGone:
            return
        request = upstream_request(
            method,
            self.settings.upstream_for(adapter.vendor),
            route,
            adapter,
            forwarded,
            query,
            body,
            identity.upstream_key,
            self._private_headers,
            self.pool.timeouts,
        )
        relay = Relay(adapter, route, view, started, hold_tail=self.settings.fail_closed)
        await self._forward(relay, request, event, receive, send)

    def _authenticate(
        self,
        adapter: Adapter,
        headers: Mapping[str, str],
        forwarded: list[tuple[bytes, bytes]],
        raw_headers: list[tuple[bytes, bytes]],
        query: list[tuple[str, str]],
        event: Event,
    ) -> Identity:
        """The principal behind the credential that goes upstream (read from the headers as
        forwarded); refuses two different credentials (400) and an unaccepted one (401)."""
        identity = Identity()
        refusal: Refusal | None = None
        if len(presented_credentials(raw_headers, query)) > 1:
            refusal = Refusal(ErrorKind.INVALID_REQUEST, "Conflicting credentials: send one API key, in one place")
        else:
            try:
                credential = adapter.credential(header_lookup(forwarded), query_map(query))
                self.principals.resolve(adapter.vendor, credential, headers, event.client_addr, identity)
            except Unauthenticated as exc:
                refusal = Refusal(ErrorKind.UNAUTHENTICATED, str(exc) or "Invalid proxy API key")
        if refusal is not None:  # recorded with what the headers tell; the body stays unread
            identity.tool, identity.tool_version, identity.session_id = detect_client(headers, None)
            note_identity(event, identity)
            raise refusal
        return identity

    def _decide(self, view: CallView, identity: Identity, event: Event) -> None:
        """Refuses a call the policy blocks, or one that could not be recorded when failing closed."""
        verdict = self.decider.decide(view, identity)
        note_verdict(event, verdict)
        if verdict.action is Decision.BLOCK:
            message = verdict.message or f"Blocked by policy rule {verdict.policy_rule}"
            raise Refusal(ErrorKind.POLICY_BLOCK, message, Outcome.BLOCKED)
        if self.settings.fail_closed and not self.recorder.can_record():
            raise Refusal(ErrorKind.UNAVAILABLE, "Provenance recording is unavailable; call not forwarded")

    async def _forward(self, relay: Relay, request: httpx.Request, event: Event, receive: Receive, send: Send) -> None:
        """Forward, tag and record: the relay streams the response with the provenance headers;
        once the upstream is done the event is committed, then the stream's trailer is sent."""
        tag = ProvenanceTag(event.id, event.request_sha256 or "", self.signer)
        # Runs once the relay has sent the request and waits for the answer: work that
        # needs no response is done in time the call spends waiting anyway.
        asyncio.get_running_loop().call_soon(self._prepare, tag, event)
        transport = self.pool.transport(relay.adapter.vendor)
        failure = await relay.run(transport, request, send, receive, tag.headers)
        note_relayed(event, relay)
        if failure is not None:
            kind, message = failure
            event.outcome, event.error = Outcome.UPSTREAM_ERROR.value, message
            if not relay.response_started:
                refusal = Refusal(kind, message, Outcome.UPSTREAM_ERROR)
                await self._refuse(relay.adapter, send, event, relay.started, refusal)
                return
            # Broken mid-stream: return without ending the response, so the server
            # drops the connection and the client sees the break as the upstream made it.
        if relay.client_left:
            event.outcome = Outcome.CLIENT_DISCONNECTED.value
        event.latency_ms = (time.perf_counter() - relay.started) * 1000
        if relay.upstream_done:
            await self._record_and_close(relay, tag, event, send)
        else:  # partial outcomes: the client left, or the upstream broke
            self.recorder.submit(event)
        self._log(event)

    def _prepare(self, tag: ProvenanceTag, event: Event) -> None:
        self.recorder.provisional(event)  # before the request leaves: runs ahead of the relay's first step
        tag.signature()
        self.recorder.prepare(event)

    async def _record_and_close(self, relay: Relay, tag: ProvenanceTag, event: Event, send: Send) -> None:
        """Durable before the response ends: a client that saw the end of its response can
        rely on the event existing, even if the proxy dies now."""
        try:
            receipt = await self.recorder.commit(event)
        except Exception:  # held in memory and retried by the recorder
            log.error("record_not_durable", id=event.id, exc_info=True)
            if self.settings.fail_closed:
                # Never let a response look complete when its record is not durable: leave
                # it unfinished (a Content-Length body one byte short, a stream without its
                # end), so the client sees a broken response.
                return
            receipt = None
        trailer = tag.trailer(relay.adapter, receipt) if relay.is_sse else b""
        await send({"type": "http.response.body", "body": relay.tail + trailer, "more_body": False})

    async def _refuse(self, adapter: Adapter, send: Send, event: Event, started: float, refusal: Refusal) -> None:
        """Answer in the vendor's own error shape, and record the refusal like any call."""
        event.status = await send_refusal(send, adapter, refusal.kind, refusal.message, event.id)
        event.outcome = refusal.outcome.value
        if event.error is None and refusal.outcome is not Outcome.BLOCKED:
            event.error = refusal.message[:500]
        event.latency_ms = (time.perf_counter() - started) * 1000
        if refusal.kind not in UNRECORDED:
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
