"""The read phase: the request body, received once (size-capped), parsed once into a CallView.

Everything after this phase reads the view, never the raw JSON again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

import orjson

from proxy.adapters.base import Adapter, CallView, ErrorKind, InvalidRequest, Route
from proxy.refusal import Refusal

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


class ClientGone(Exception):
    """The client closed its connection before its request was read: nothing to answer."""


async def receive_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The whole request body; refuses (413) one declared or found to be over ``limit`` bytes."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_call(adapter: Adapter, route: Route, body: bytes, query: Mapping[str, str]) -> CallView:
    """The adapter's view of the request; refuses (400) bodies that are not JSON or have the wrong shape."""
    parsed: Any = None
    if route.has_body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Refusal(ErrorKind.INVALID_REQUEST, f"Request body is not valid JSON: {exc}") from None
    try:
        return adapter.read_call(route, parsed, query)
    except InvalidRequest as exc:
        raise Refusal(ErrorKind.INVALID_REQUEST, str(exc)) from None


def query_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The query's decoded parameters (first value wins), as the upstream will read them."""
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def _too_large(limit: int) -> Refusal:
    return Refusal(ErrorKind.TOO_LARGE, f"Request body exceeds the proxy's {limit} byte limit")
