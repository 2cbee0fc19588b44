"""Event → database rows (under the body retention setting), and their spool encoding."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import orjson

from proxy.events import Event
from proxy.store.models import BODY_FIELDS

EVENT_COLUMNS = tuple(f.name for f in fields(Event) if f.name not in BODY_FIELDS)
CHAIN_COLUMNS = ("seq", "record_hash", "prev_hash")
# Body columns stored zlib-compressed (they can be megabytes; they compress 5-10x).
COMPRESSED_BODY_COLUMNS = ("request_body", "completion_text", "thinking_text")

Row = dict[str, Any]
# One event's rows: the ``events`` row and its ``event_bodies`` row, if retention keeps one.
RowPair = tuple[Row, Row | None]


def compress(data: bytes | str | None) -> bytes | None:
    if data is None:
        return None
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return zlib.compress(raw, 6)


def decompress(data: bytes | None) -> bytes | None:
    return None if data is None else zlib.decompress(data)


def event_row(event: Event, chain: tuple[int, str, str] | None = None) -> Row:
    row: Row = {name: getattr(event, name) for name in EVENT_COLUMNS}
    row["scores"] = dict(event.scores)
    row["rule_hits"] = list(event.rule_hits)
    row.update(zip(CHAIN_COLUMNS, chain or (None, None, None), strict=True))
    return row


def body_row(event: Event, retention: str, now: datetime | None = None) -> Row | None:
    """The ``event_bodies`` row that ``retention`` allows (None: keep no body)."""
    if retention == "metadata-only":
        return None
    request_body = event.request_body if retention == "full" else None
    kept = (request_body, event.instruction, event.completion_text, event.thinking_text, event.tool_calls)
    if not any(kept):
        return None
    return {
        "event_id": event.id,
        "request_body": compress(request_body),
        "instruction": event.instruction,
        "completion_text": compress(event.completion_text),
        "thinking_text": compress(event.thinking_text),
        "tool_calls": list(event.tool_calls) or None,
        "created_at": now or datetime.now(UTC),
    }


def encode_record(pair: RowPair) -> bytes:
    """A spool record: JSON (never pickle: the spool must not be able to run code)."""
    event, body = pair
    if body is not None:
        body = dict(body)
        for key in COMPRESSED_BODY_COLUMNS:
            if body[key]:
                body[key] = base64.b64encode(body[key]).decode("ascii")
    return orjson.dumps({"e": event, "b": body})


def decode_record(payload: bytes) -> RowPair:
    data = orjson.loads(payload)
    event: Row = data["e"]
    event["ts"] = datetime.fromisoformat(event["ts"])
    body: Row | None = data["b"]
    if body is not None:
        body["created_at"] = datetime.fromisoformat(body["created_at"])
        for key in COMPRESSED_BODY_COLUMNS:
            if body.get(key):
                body[key] = base64.b64decode(body[key])
    return event, body


def split(pairs: Sequence[RowPair]) -> tuple[list[Row], list[Row]]:
    return [event for event, _ in pairs], [body for _, body in pairs if body is not None]
