"""What each vendor protocol module provides to the server, and SSE framing helpers."""

from __future__ import annotations

import json
from typing import Any, Protocol

from tests.support.fake_vendor.scenarios import Reply, ToolCall, Turn


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE frame; ``event:`` line only where the vendor sends it."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


class StreamEncoder(Protocol):
    """Frames of one streamed answer; each method returns the bytes to write at that step."""

    media_type: str

    def opening(self) -> bytes: ...

    def thinking(self, text: str) -> bytes: ...

    def text_open(self) -> bytes: ...

    def text_delta(self, text: str) -> bytes: ...

    def text_close(self) -> bytes: ...

    def tool_call(self, call: ToolCall) -> bytes: ...

    def closing(self) -> bytes: ...

    def error(self, message: str) -> bytes: ...


class Generation(Protocol):
    """One generation endpoint of one vendor (messages, responses, chat, generateContent)."""

    vendor_label: str  # used in the default reply text
    request_id_header: str | None

    def read_turn(self, body: Any, path: str, query: dict[str, list[str]]) -> Turn: ...

    def render_json(self, turn: Turn, reply: Reply) -> dict[str, Any]: ...

    def encoder(self, turn: Turn, body: Any, query: dict[str, list[str]]) -> StreamEncoder: ...

    def error_body(self, status: int, message: str) -> dict[str, Any]: ...
