"""Connection limits uvicorn does not enforce itself, as a guarded httptools protocol.

uvicorn's httptools protocol has no bound on a request's header size or count
(httptools buffers a header value until it ends), no deadline for the headers
of a request (a connection that sends nothing is kept until the peer leaves),
no deadline between body chunks, and no per-client connection cap (its
``limit_concurrency`` is global and answers 503 to everyone). This subclass
adds the four; ``serve`` passes it to uvicorn as ``http=``.
"""

from __future__ import annotations

import asyncio
import resource
from collections import Counter
from dataclasses import dataclass
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger("provproxy.limits")

_REASONS = {408: b"Request Timeout", 413: b"Content Too Large", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    max_header_count: int
    header_timeout_s: float
    body_timeout_s: float
    max_connections_per_client: int


class _Refused(Exception):
    """Raised inside an httptools callback: the parser stops and uvicorn answers with our status."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`ConnectionLimits` applied to every connection.

    Bind the limits with :func:`guarded_protocol`; the per-client counts are
    shared by every connection of the server (one uvicorn server per process).
    """

    limits: ConnectionLimits
    open_by_client: Counter[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client_host: str | None = None
        self._in_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._refusal: tuple[int, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection lifetime ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        if host is not None:
            if self.open_by_client[host] >= self.limits.max_connections_per_client:
                log.warning("connection_refused_per_client_cap", client=host)
                transport.abort()  # before reading anything: costs the client its socket, not us
                return
            self.open_by_client[host] += 1
            self._client_host = host
        # Until the first byte of headers arrives, the header deadline is running.
        self._arm(self.limits.header_timeout_s, self._header_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._client_host is not None:
            self.open_by_client[self._client_host] -= 1
            if self.open_by_client[self._client_host] <= 0:
                del self.open_by_client[self._client_host]
            self._client_host = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        # httptools keeps an unfinished header line in memory: bound what it may hold.
        if self._in_headers and self._header_bytes > self.limits.max_header_bytes and self._refusal is None:
            self._refuse(431, "Request header fields too large")

    # -- parser callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_count = 0
        if self._deadline is None:  # a keep-alive connection's next request: its headers' deadline starts now
            self._arm(self.limits.header_timeout_s, self._header_timed_out)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_header_count:
            self._refusal = (431, "Too many request header fields")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._refusal = (431, "Request header fields too large")
            raise _Refused
        self._in_headers = False
        self._header_bytes = 0
        self._arm(self.limits.body_timeout_s, self._body_timed_out)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.limits.body_timeout_s, self._body_timed_out)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        # What arrives next is the next request's headers (idle time is uvicorn's keep-alive timeout).
        self._in_headers = True
        self._header_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; ours when a limit stopped the parser."""
        if self._refusal is None:
            super().send_400_response(msg)
            return
        status, reason = self._refusal
        self._refusal = None
        self._refuse(status, reason)

    # -- deadlines and refusals ------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _header_timed_out(self) -> None:
        self._deadline = None
        if self._in_headers and not self.transport.is_closing():
            self._refuse(408, "Request headers not received in time")

    def _body_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.warning("request_body_timeout", client=self._client_host)
        if self.cycle is not None and not self.cycle.response_started and not self.cycle.response_complete:
            self._refuse(408, "Request body not received in time")
        else:
            self.transport.close()

    def _refuse(self, status: int, reason: str) -> None:
        """Answer with ``status`` and close, whatever the parser was doing."""
        log.warning("request_refused", status=status, reason=reason, client=self._client_host)
        self._disarm()
        self._refusal = (status, reason)
        if self.cycle is not None:
            self.cycle.response_started = True  # the app must not answer on this connection too
        body = reason.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, _REASONS[status], len(body), body)
        )
        self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class bound to ``limits`` with its own per-client counts."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": limits, "open_by_client": Counter()},
    )


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft file-descriptor limit to the hard one (each connection holds one).

    Returns the ``(before, after)`` soft limits; unchanged where the platform refuses."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target <= soft:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target
