"""Incremental Server-Sent Events decoder shared by the outcome parsers.

The proxy relays response bytes untouched and tees them here; chunk
boundaries are arbitrary (an event, a line or a CRLF pair may be split), so
the decoder keeps only the unfinished line and the data lines of the event
being assembled. Both are capped: a line or an event larger than the cap is
dropped (``overflowed`` tells the caller something was lost) instead of
growing without bound.
"""

from __future__ import annotations

import re

MAX_SSE_LINE = 4 * 1024 * 1024
MAX_SSE_EVENT = 8 * 1024 * 1024

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")

SSEEvent = tuple[str, bytes]  # (event name, data lines joined by "\n")


class SSEDecoder:
    """Turns byte chunks into complete ``(event, data)`` pairs."""

    def __init__(self, max_line: int = MAX_SSE_LINE, max_event: int = MAX_SSE_EVENT) -> None:
        self._max_line = max_line
        self._max_event = max_event
        self._pending = bytearray()
        self._skipping_line = False  # inside an over-long line: drop until its end
        self._event = ""
        self._data: list[bytes] = []
        self._data_size = 0
        self._event_dropped = False
        self.overflowed = False

    def feed(self, data: bytes) -> list[SSEEvent]:
        if not data:
            return []
        if b"\n" not in data and b"\r" not in data:
            self._extend_pending(data)
            return []
        if self._pending:
            self._pending.extend(data)
            buf = bytes(self._pending)
            self._pending.clear()
        else:
            buf = data
        # A trailing CR may be the first half of a CRLF: keep it for the next chunk.
        held_cr = buf.endswith(b"\r")
        if held_cr:
            buf = buf[:-1]
        lines = _LINE_BREAK.split(buf)
        tail = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            if self._skipping_line:
                self._skipping_line = False
                continue
            self._line(line, events)
        self._extend_pending(tail)
        if held_cr:
            # Completes later as CR or CRLF; while an over-long line is being
            # skipped, the next split yields its empty remainder first, which is skipped.
            self._pending.extend(b"\r")
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of body: take a last unterminated line and event leniently
        (a cut stream's final complete ``data:`` line is still worth reading)."""
        events: list[SSEEvent] = []
        if self._pending and not self._skipping_line:
            line = bytes(self._pending).rstrip(b"\r")
            self._line(line, events)
        self._pending.clear()
        self._line(b"", events)
        return events

    def _extend_pending(self, data: bytes) -> None:
        if self._skipping_line:
            return
        if len(self._pending) + len(data) > self._max_line:
            self._pending.clear()
            self._skipping_line = True
            self.overflowed = True
            return
        self._pending.extend(data)

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data and not self._event_dropped:
                events.append((self._event or "message", b"\n".join(self._data)))
            self._event = ""
            self._data = []
            self._data_size = 0
            self._event_dropped = False
            return
        if line[0] == 0x3A:  # ":" comment
            return
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            if self._event_dropped:
                return
            self._data_size += len(value) + 1
            if self._data_size > self._max_event:
                self._data = []
                self._event_dropped = True
                self.overflowed = True
                return
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
