"""The forward phase's plumbing: one pooled upstream transport per vendor.

httpx is the client API (``httpx.Request`` in, ``httpx.Response`` out) and
aiohttp sits under it, chosen by measurement (see bench/README.md): its pool's
CPU cost stays flat at high connection counts where httpcore's grows. The
request path calls the transport directly: the layers ``AsyncClient.send`` adds
(auth flow, redirects, a cookie jar that parses every ``Set-Cookie``) do nothing
a reverse proxy wants and cost time on every call.

The transport is set up to change nothing on the wire: no automatic
``Accept-Encoding``, ``User-Agent`` or ``Content-Type``, no decompression, no
redirects, no cookies, and response bytes are handed on as they arrive
(``iter_any``), never re-chunked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from urllib.parse import unquote_plus

import aiohttp
import httpx

from proxy.adapters.base import Adapter, Route
from proxy.config import Settings
from proxy.credentials import CREDENTIAL_HEADERS, is_credential_param

# RFC 9110 §7.6.1 hop-by-hop headers, plus what the transport sets itself, plus
# ``expect``: the proxy's own server answered ``100-continue`` when it read the body,
# and the whole body goes upstream at once (an upstream that ignores it would hold the call).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# The proxy's own request headers never leave it.
OWN_HEADER_PREFIX = "x-provproxy-"


def _mapped(exc: BaseException) -> httpx.TransportError:
    """aiohttp's failure as the httpx exception the request path understands."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message)
    return httpx.ReadError(message)


class PoolExhausted(httpx.PoolTimeout):
    """Every pooled connection to the upstream stayed busy for the whole connect timeout:
    the proxy's own limit, not a slow vendor."""


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, done: Callable[[], None]) -> None:
        self._response = response
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _mapped(exc) from exc

    async def aclose(self) -> None:
        self._response.release()
        if self._done is not None:
            self._done()
            self._done = None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp connection pool (created in a running loop)."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.upstream_max_connections
        self.in_use = 0  # calls holding (or waiting for) one of the pool's connections
        self.exhausted = 0  # calls refused because none came free in time
        connector = aiohttp.TCPConnector(limit=self.limit, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw if k.lower() != b"host"]
        queued = self.in_use >= self.limit  # every connection is busy: this call waits for one
        self.in_use += 1
        try:
            response = await self._session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=request.content or None,
                allow_redirects=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"), sock_read=timeout.get("read"), connect=timeout.get("pool")
                ),
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.in_use -= 1
            if queued and isinstance(exc, aiohttp.ConnectionTimeoutError):
                self.exhausted += 1
                message = f"all {self.limit} connections to {request.url.host} stayed busy"
                raise PoolExhausted(message) from exc
            raise _mapped(exc) from exc
        except BaseException:  # cancelled: the client left while waiting
            self.in_use -= 1
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response, self._released),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _released(self) -> None:
        self.in_use -= 1

    async def aclose(self) -> None:
        await self._session.close()


class UpstreamPool:
    """One pooled transport per vendor upstream, created in the app's lifespan."""

    def __init__(self, settings: Settings, vendors: Iterable[str]) -> None:
        self._settings = settings
        self._transports: dict[str, AiohttpTransport] = {}
        self._vendors = tuple(vendors)
        self.timeouts = {
            "connect": settings.upstream_connect_timeout_s,
            "read": settings.upstream_read_timeout_s,
            "write": settings.upstream_read_timeout_s,
            "pool": settings.upstream_connect_timeout_s,
        }

    async def start(self) -> None:
        for vendor in self._vendors:
            self._transports[vendor] = AiohttpTransport(self._settings)

    async def stop(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
        self._transports.clear()

    def transport(self, vendor: str) -> httpx.AsyncBaseTransport:
        return self._transports[vendor]

    def usage(self) -> dict[str, tuple[int, int]]:
        """Per vendor: calls using (or waiting for) a pooled connection, and calls refused
        because the pool stayed full (``/metrics``)."""
        return {vendor: (t.in_use, t.exhausted) for vendor, t in self._transports.items()}


def forward_headers(
    raw_headers: Iterable[tuple[bytes, bytes]],
    drop_credentials: bool,
    extra_drop: frozenset[str] = frozenset(),
) -> list[tuple[bytes, bytes]]:
    """The client's headers as they go upstream: order, case and duplicates kept."""
    named_in_connection: set[str] = set()
    for name, value in raw_headers:
        if name.lower() == b"connection":
            named_in_connection.update(t.strip().lower() for t in value.decode("latin-1").split(","))
    out: list[tuple[bytes, bytes]] = []
    for name, value in raw_headers:
        lower = name.decode("latin-1").lower()
        if (
            lower in HOP_BY_HOP
            or lower in named_in_connection
            or lower in extra_drop
            or lower.startswith(OWN_HEADER_PREFIX)
            or (drop_credentials and lower in CREDENTIAL_HEADERS)
        ):
            continue
        out.append((name, value))
    return out


def upstream_request(
    method: str,
    upstream_base: str,
    route: Route,
    adapter: Adapter,
    client_headers: Iterable[tuple[bytes, bytes]],
    query: str,
    body: bytes,
    upstream_key: str | None,
    private_headers: frozenset[str],
    timeouts: dict[str, float],
) -> httpx.Request:
    """The request as it goes upstream: to the configured base only, the client's headers
    minus hop-by-hop and private ones, and the organisation's key instead of the client's
    credentials when ``upstream_key`` is given."""
    headers = forward_headers(client_headers, upstream_key is not None, private_headers)
    if upstream_key is not None:
        headers.extend(
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in adapter.upstream_credentials(upstream_key).items()
        )
        query = strip_query_params(query, adapter.credential_query_params())
    url = upstream_base + route.upstream_path
    if query:
        url += "?" + query
    return httpx.Request(
        method, url, headers=headers, content=body if route.has_body else None, extensions={"timeout": timeouts}
    )


def response_headers(upstream: httpx.Headers) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers as they go to the client (raw bytes)."""
    out: list[tuple[bytes, bytes]] = []
    for name, value in upstream.raw:
        lower = name.lower()
        if lower in (b"connection", b"keep-alive", b"transfer-encoding", b"proxy-connection", b"trailer"):
            continue
        out.append((name, value))
    return out


def strip_query_params(query: str, names: Iterable[str]) -> str:
    """Remove every credential parameter from a raw query string: the known ones and
    ``names`` (e.g. Gemini's ``key``), matched by decoded name (``%6Bey=`` is ``key=``)."""
    if not query:
        return query
    extra = frozenset(n.lower() for n in names)
    return "&".join(p for p in query.split("&") if not is_credential_param(unquote_plus(p.partition("=")[0]), extra))


def header_lookup(raw_headers: Iterable[tuple[bytes, bytes]]) -> Mapping[str, str]:
    """Lower-cased name → value (last wins) for reading; forwarding uses the raw list."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
