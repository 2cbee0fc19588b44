"""Bounded collection of a response into a :class:`CallOutcome`.

Each vendor parser decodes its own wire format and reports text, thinking and
tool-call fragments here; this module enforces the shared memory budget
(``MAX_COLLECTED_TEXT`` characters over text, thinking and tool arguments
together) and a cap on buffered JSON bodies.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from proxy.adapters.base import MAX_COLLECTED_TEXT, CallOutcome, ToolCall
from proxy.adapters.sse import SSEDecoder

MAX_JSON_BODY = 8 * 1024 * 1024
MAX_TOOL_CALLS = 512


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: Any) -> int | None:
    # bool is an int subclass; a token count is never a bool.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def loads(data: bytes | str) -> Any:
    """Parse JSON, None when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def json_text(value: Any) -> str:
    """Compact JSON text of an already-parsed value (tool inputs/args)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return ""


class OutcomeBuilder:
    """Accumulates one response's outcome under the shared text budget."""

    def __init__(self) -> None:
        self.outcome = CallOutcome()
        self._budget = MAX_COLLECTED_TEXT
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._tools: dict[str | int, ToolCall] = {}
        self._tool_args: dict[str | int, list[str]] = {}

    def _take(self, fragment: str) -> str:
        if len(fragment) <= self._budget:
            self._budget -= len(fragment)
            return fragment
        kept = fragment[: self._budget]
        self._budget = 0
        self.outcome.truncated = True
        return kept

    def add_text(self, fragment: Any) -> None:
        if isinstance(fragment, str) and fragment:
            kept = self._take(fragment)
            if kept:
                self._text.append(kept)

    def add_thinking(self, fragment: Any) -> None:
        if isinstance(fragment, str) and fragment:
            kept = self._take(fragment)
            if kept:
                self._thinking.append(kept)

    def tool(self, key: str | int, name: Any = None, call_id: Any = None) -> None:
        """Open (or complete the name/id of) the tool call known by ``key``."""
        call = self._tools.get(key)
        if call is None:
            if len(self._tools) >= MAX_TOOL_CALLS:
                self.outcome.truncated = True
                return
            call = ToolCall(name=name if isinstance(name, str) else "")
            self._tools[key] = call
            self._tool_args[key] = []
        if isinstance(name, str) and name and not call.name:
            call.name = name
        if isinstance(call_id, str) and call_id and call.call_id is None:
            call.call_id = call_id

    def add_tool_args(self, key: str | int, fragment: Any) -> None:
        if not isinstance(fragment, str) or not fragment:
            return
        if key not in self._tools:
            self.tool(key)
        parts = self._tool_args.get(key)
        if parts is not None:
            kept = self._take(fragment)
            if kept:
                parts.append(kept)

    def set_tool_args(self, key: str | int, full: Any) -> None:
        """Whole arguments from a final item, used only when none streamed."""
        parts = self._tool_args.get(key)
        if parts is not None and not parts:
            self.add_tool_args(key, full)

    def build(self) -> CallOutcome:
        outcome = self.outcome
        outcome.text = "".join(self._text)
        outcome.thinking = "".join(self._thinking)
        calls = []
        for key, call in self._tools.items():
            call.arguments = "".join(self._tool_args[key])
            calls.append(call)
        outcome.tool_calls = calls
        return outcome

    def set_error(self, error: Any, fallback_type: str | None = None) -> None:
        """Record a vendor error object: ``{"type"|"status"|"code", "message"}``."""
        err = as_dict(error)
        kind = as_str(err.get("type")) or as_str(err.get("status")) or as_str(err.get("code"))
        if kind is None and as_int(err.get("code")) is not None:
            kind = str(err["code"])
        self.outcome.error_type = kind or fallback_type or "error"
        message = err.get("message")
        self.outcome.error_message = message[:4096] if isinstance(message, str) else None


class JSONFramer(Protocol):
    """Cuts a non-SSE response body into the JSON documents it is made of."""

    overflowed: bool

    def feed(self, data: bytes) -> list[bytes]:
        """The documents completed by ``data``."""
        ...

    def flush(self) -> list[bytes]:
        """The documents still held at the end of the body."""
        ...


class BodyBuffer:
    """Buffers a non-streamed JSON body up to a cap: one document, at the end."""

    def __init__(self, cap: int = MAX_JSON_BODY) -> None:
        self._cap = cap
        self._chunks: list[bytes] = []
        self._size = 0
        self.overflowed = False

    def feed(self, data: bytes) -> list[bytes]:
        if self.overflowed:
            return []
        self._size += len(data)
        if self._size > self._cap:
            self.overflowed = True
            self._chunks = []
            return []
        self._chunks.append(bytes(data))
        return []

    def flush(self) -> list[bytes]:
        """The whole body, or nothing when over the cap or empty."""
        if self.overflowed or not self._chunks:
            return []
        return [b"".join(self._chunks)]


class SseOrJsonParser:
    """An outcome parser for APIs that answer with SSE events or JSON documents.

    Subclasses handle one decoded event (``_event``) and one whole JSON
    document (``_whole``), and may cut JSON bodies differently
    (``_json_framer``); this class does the framing, the memory caps, and makes
    sure no parser error ever reaches the relay.
    """

    def __init__(self, sse: bool) -> None:
        self._out = OutcomeBuilder()
        self._sse = SSEDecoder() if sse else None
        self._json = None if sse else self._json_framer()
        self._finished: CallOutcome | None = None

    def _json_framer(self) -> JSONFramer:
        return BodyBuffer()

    def feed(self, data: bytes) -> None:
        try:
            if self._sse is not None:
                for _, payload in self._sse.feed(data):
                    self._payload(payload)
            elif self._json is not None:
                for document in self._json.feed(data):
                    self._document(document)
        except Exception:  # a parser bug must never break the relay
            self._out.outcome.truncated = True

    def finish(self) -> CallOutcome:
        if self._finished is not None:
            return self._finished
        try:
            if self._sse is not None:
                for _, payload in self._sse.flush():
                    self._payload(payload)
                if self._sse.overflowed:
                    self._out.outcome.truncated = True
            elif self._json is not None:
                for document in self._json.flush():
                    self._document(document)
                if self._json.overflowed:
                    self._out.outcome.truncated = True
        except Exception:
            self._out.outcome.truncated = True
        self._finished = self._out.build()
        return self._finished

    def _payload(self, payload: bytes) -> None:
        event = loads(payload)
        if isinstance(event, dict):
            self._event(event)

    def _document(self, document: bytes) -> None:
        body = loads(document)
        if isinstance(body, dict):
            self._whole(body)

    def _event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    def _whole(self, body: dict[str, Any]) -> None:
        raise NotImplementedError
