"""The relay: the upstream's response streamed to the client as it arrives, and what it showed.

Each chunk is sent on unchanged the moment it arrives, hashed, and (decoded, if
gzip or deflate) fed to the adapter's outcome parser. The relay keeps what it
observed (status, first-byte time, digest, the parsed outcome, complete or
partial) for the record phase; it knows nothing about events or recording.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from proxy.adapters.base import Adapter, CallOutcome, CallView, ErrorKind, OutcomeParser, Route
from proxy.forward import response_headers

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# What the tee decodes for the outcome parser; other encodings are relayed untouched.
_DECODERS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
# The outcome parser never needs more than this much decoded body per call.
_MAX_DECODED = 64 * 1024 * 1024


class Relay:
    """One response's relay, and what it observed."""

    __slots__ = (
        "adapter",
        "client_left",
        "hold_tail",
        "is_sse",
        "outcome",
        "response_sha256",
        "response_started",
        "route",
        "started",
        "status",
        "tail",
        "ttfb_ms",
        "upstream_done",
        "vendor_request_id",
        "view",
    )

    def __init__(self, adapter: Adapter, route: Route, view: CallView, started: float, hold_tail: bool = False) -> None:
        self.adapter, self.route, self.view, self.started = adapter, route, view, started
        # Fail-closed: a response with a Content-Length is complete for the client at its
        # last byte, so that byte (``tail``) waits for the record phase to send it.
        self.hold_tail = hold_tail
        self.tail = b""
        self.status: int | None = None
        self.vendor_request_id: str | None = None
        self.is_sse = False
        self.ttfb_ms: float | None = None
        self.response_sha256: str | None = None
        self.outcome: CallOutcome | None = None  # complete, or partial when the stream broke
        self.response_started = False
        # The upstream finished its answer: a client leaving after this point got it all.
        self.upstream_done = False
        self.client_left = False

    async def run(
        self,
        transport: httpx.AsyncBaseTransport,
        request: httpx.Request,
        send: Send,
        receive: Receive,
        tags: Callable[[], list[tuple[bytes, bytes]]],
    ) -> tuple[ErrorKind, str] | None:
        """Relay until the upstream is done, the client leaves or the upstream fails; the failure,
        as the vendor error kind to answer with (if nothing was sent yet). The response is left
        open for the trailer; ``tags`` gives the headers the proxy adds."""
        disconnect = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, disconnect))
        relay = asyncio.create_task(self._stream(transport, request, send, tags))
        try:
            await asyncio.wait((relay, watcher), return_when=asyncio.FIRST_COMPLETED)
            if not relay.done() and not self.upstream_done:  # the client left mid-answer
                relay.cancel()  # closes the upstream call too
            failure = await _failure(relay)
        finally:
            watcher.cancel()
        self.client_left = disconnect.is_set() and not self.upstream_done
        return failure

    async def _stream(
        self,
        transport: httpx.AsyncBaseTransport,
        request: httpx.Request,
        send: Send,
        tags: Callable[[], list[tuple[bytes, bytes]]],
    ) -> None:
        response = await transport.handle_async_request(request)
        parser: OutcomeParser | None = None
        try:
            self.status = response.status_code
            self.vendor_request_id = response.headers.get("request-id") or response.headers.get("x-request-id")
            content_type = response.headers.get("content-type", "")
            self.is_sse = content_type.startswith("text/event-stream")
            parser = self.adapter.outcome_parser(self.route, self.view, content_type)
            decoder = _decoder_for(response.headers.get("content-encoding", ""))
            digest = hashlib.sha256()
            out_headers = response_headers(response.headers)
            out_headers.extend(tags())
            await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
            self.response_started = True
            decoded_total = 0
            hold = self.hold_tail and "content-length" in response.headers
            async for chunk in response.aiter_raw():
                if self.ttfb_ms is None:
                    self.ttfb_ms = (time.perf_counter() - self.started) * 1000
                if hold:
                    await self._send_all_but_last_byte(chunk, send)
                else:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                digest.update(chunk)
                if decoder is not None:
                    chunk = decoder.decompress(chunk)
                if decoded_total < _MAX_DECODED:
                    decoded_total += len(chunk)
                    parser.feed(chunk)
            self.upstream_done = True
            self.response_sha256 = digest.hexdigest()
        finally:  # also when the client left (cancelled) or the upstream broke: keep the partial
            if parser is not None:
                self.outcome = parser.finish()
            await response.aclose()

    async def _send_all_but_last_byte(self, chunk: bytes, send: Send) -> None:
        data = self.tail + chunk
        self.tail = data[-1:]
        if len(data) > 1:
            await send({"type": "http.response.body", "body": data[:-1], "more_body": True})


async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            return


async def _failure(relay: asyncio.Task[None]) -> tuple[ErrorKind, str] | None:
    """How the relay failed, as the vendor error kind to answer with (None: it did not)."""
    try:
        await relay
        return None
    except asyncio.CancelledError:
        return None
    except httpx.TransportError as exc:
        if isinstance(exc, httpx.PoolTimeout):  # the proxy's own limit, not the vendor
            return ErrorKind.UNAVAILABLE, f"Proxy overloaded: upstream connection pool full ({exc})"
        if isinstance(exc, httpx.TimeoutException):
            return ErrorKind.UPSTREAM_TIMEOUT, f"Upstream timed out: {type(exc).__name__}"
        return ErrorKind.UPSTREAM_UNREACHABLE, f"Upstream unreachable: {type(exc).__name__}"


def _decoder_for(content_encoding: str) -> Any:
    wbits = _DECODERS.get(content_encoding.strip().lower())
    return zlib.decompressobj(wbits) if wbits else None
