"""The forward phase's plumbing: one pooled upstream client per vendor.

httpx is the client API; under it sits an aiohttp transport, chosen by
measurement (see bench/README.md): httpcore's pool costs several ms of CPU per
request at high connection counts, aiohttp's stays flat. The transport is set
up to change nothing on the wire: no automatic ``Accept-Encoding``,
``User-Agent`` or ``Content-Type``, no decompression, no redirects, no cookies.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Iterable, Mapping

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from proxy.config import Settings

# RFC 9110 §7.6.1 hop-by-hop headers, plus what the transport sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
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
# Client credentials, removed when the proxy sends the organisation's key instead.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key"})
# The proxy's own request headers never leave it.
OWN_HEADER_PREFIX = "x-provproxy-"


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Never keep a cookie: one user's upstream session must not leak to another."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False


def _aiohttp_session(settings: Settings) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=settings.upstream_max_connections,
        keepalive_timeout=30,
        enable_cleanup_closed=True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class UpstreamPool:
    """One httpx client per vendor upstream, created in the app's lifespan."""

    def __init__(self, settings: Settings, vendors: Iterable[str]) -> None:
        self._settings = settings
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._vendors = tuple(vendors)
        self.timeouts = {
            "connect": settings.upstream_connect_timeout_s,
            "read": settings.upstream_read_timeout_s,
            "write": settings.upstream_read_timeout_s,
            "pool": settings.upstream_connect_timeout_s,
        }

    async def start(self) -> None:
        for vendor in self._vendors:
            session = _aiohttp_session(self._settings)
            self._clients[vendor] = httpx.AsyncClient(
                transport=AiohttpTransport(client=session),
                cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
                follow_redirects=False,
                trust_env=False,
            )

    async def stop(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def client(self, vendor: str) -> httpx.AsyncClient:
        return self._clients[vendor]


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
    """Remove parameters (e.g. Gemini's ``key=``) from a raw query string."""
    drop = tuple(f"{n}=" for n in names)
    if not drop or not query:
        return query
    return "&".join(p for p in query.split("&") if not p.startswith(drop) and p not in names)


def header_lookup(raw_headers: Iterable[tuple[bytes, bytes]]) -> Mapping[str, str]:
    """Lower-cased name → value (last wins) for reading; forwarding uses the raw list."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
