"""Calls the proxy answers itself: a phase raises :class:`Refusal`, the handler sends it.

The answer is in the vendor's own error shape (the adapter knows it), so clients
show it at once and retry only what is worth retrying.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from proxy.adapters.base import Adapter, ErrorKind
from proxy.events import Outcome

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# Refusals of paths that are not vendor calls at all: answered, not recorded.
UNRECORDED = frozenset({ErrorKind.NOT_FOUND, ErrorKind.UPGRADE_REFUSED})


class Refusal(Exception):
    """The proxy answers the call itself instead of forwarding it."""

    def __init__(self, kind: ErrorKind, message: str, outcome: Outcome = Outcome.REJECTED) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.outcome = outcome


async def send_refusal(send: Send, adapter: Adapter, kind: ErrorKind, message: str, event_id: str) -> int:
    """Send the vendor-shaped error; return its status."""
    reply = adapter.error_reply(kind, message, event_id)
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    headers.append((b"x-provenance-id", event_id.encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
    return reply.status
