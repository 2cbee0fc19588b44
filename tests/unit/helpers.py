"""Shared test helpers: realistic bodies and chunked feeding of parsers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from proxy.adapters import resolve_route
from proxy.adapters.base import CallOutcome, CallView, OutcomeParser

BODIES = Path(__file__).resolve().parent.parent / "data" / "bodies"
EXPECTED: dict[str, dict[str, Any]] = json.loads((BODIES / "expected.json").read_text())


def load_body(name: str) -> Any:
    return json.loads((BODIES / name).read_text())


def read_body(name: str, headers: dict[str, str] | None = None) -> CallView:
    """Route a body file by its expected request line and read it."""
    expected = EXPECTED[name]
    path = expected["path"].split("?", 1)[0]
    adapter, route = resolve_route(expected["method"], path, headers or {})
    assert adapter is not None and route is not None, name
    return adapter.read_call(route, load_body(name), {})


def sse(events: Iterable[tuple[str | None, Any]]) -> bytes:
    """An SSE body; ``None`` as event name omits the ``event:`` line, str data is sent as is."""
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    return "".join(out).encode()


def feed_chunked(factory: Callable[[], OutcomeParser], body: bytes, size: int) -> CallOutcome:
    parser = factory()
    for start in range(0, len(body), size):
        parser.feed(body[start : start + size])
    return parser.finish()


def outcome_any_chunking(factory: Callable[[], OutcomeParser], body: bytes) -> CallOutcome:
    """The outcome of ``body``, checked to be identical for whole, 7-byte and
    1-byte chunks and for CRLF line endings."""
    whole = feed_chunked(factory, body, len(body) or 1)
    for size in (7, 1):
        assert feed_chunked(factory, body, size) == whole, f"differs in {size}-byte chunks"
    if b"\n" in body and b"\r\n" not in body:
        assert feed_chunked(factory, body.replace(b"\n", b"\r\n"), 5) == whole, "differs with CRLF"
    return whole
