"""Event → database rows (under the body retention setting), and their spool encoding."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import orjson
import zstandard

from proxy.events import Event
from proxy.store.models import BODY_FIELDS

EVENT_COLUMNS = tuple(f.name for f in fields(Event) if f.name not in BODY_FIELDS)
CHAIN_COLUMNS = ("seq", "record_hash", "prev_hash")
# Body columns stored zstd-compressed (they can be megabytes; agent requests compress 10-20x).
# Append only: a spool record lists its blobs in this order, and older records hold a prefix.
COMPRESSED_BODY_COLUMNS = ("request_body", "completion_text", "thinking_text", "instruction")
# zstd level 3: ~35 µs for a 55 KB Claude Code request (zlib level 6: ~300 µs), smaller output.
ZSTD_LEVEL = 3

Row = dict[str, Any]
# One event's rows: the ``events`` row and its ``event_bodies`` row, if retention keeps one.
RowPair = tuple[Row, Row | None]

_META_LENGTH = struct.Struct(">I")
# Compressor and decompressor objects are not thread-safe; each thread gets its own.
_codecs = threading.local()


def compress(data: bytes | str | None) -> bytes | None:
    if data is None:
        return None
    raw = data.encode("utf-8") if isinstance(data, str) else data
    compressor: zstandard.ZstdCompressor | None = getattr(_codecs, "compressor", None)
    if compressor is None:
        compressor = _codecs.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor.compress(raw)  # the frame records the content size: decompress needs no bound


def decompress(data: bytes | None) -> bytes | None:
    if data is None:
        return None
    decompressor: zstandard.ZstdDecompressor | None = getattr(_codecs, "decompressor", None)
    if decompressor is None:
        decompressor = _codecs.decompressor = zstandard.ZstdDecompressor()
    return decompressor.decompress(data)


def digest_bodies(event: Event) -> None:
    """Set the digests of the texts as they will be stored (UTF-8), for the record to seal them."""
    for text, name in (
        (event.instruction, "instruction_sha256"),
        (event.completion_text, "completion_sha256"),
        (event.thinking_text, "thinking_sha256"),
    ):
        setattr(event, name, None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest())


def event_row(event: Event, chain: tuple[int, str, str] | None = None) -> Row:
    row: Row = {name: getattr(event, name) for name in EVENT_COLUMNS}
    row["scores"] = dict(event.scores)
    row["rule_hits"] = list(event.rule_hits)
    row.update(zip(CHAIN_COLUMNS, chain or (None, None, None), strict=True))
    return row


def request_parts(event: Event, retention: str) -> tuple[bytes | None, bytes | None]:
    """The request body and the instruction as ``retention`` keeps them, compressed: known before
    the response, so the write path can prepare them while the upstream works."""
    if retention == "metadata-only":
        return None, None
    return compress(event.request_body if retention == "full" else None), compress(event.instruction)


def body_row(
    event: Event,
    retention: str,
    now: datetime | None = None,
    prepared: tuple[bytes | None, bytes | None] | None = None,
) -> Row | None:
    """The ``event_bodies`` row that ``retention`` allows (None: keep no body).

    ``prepared``: what :func:`request_parts` returned for this event, if it ran already."""
    if retention == "metadata-only":
        return None
    request_body = event.request_body if retention == "full" else None
    kept = (request_body, event.instruction, event.completion_text, event.thinking_text, event.tool_calls)
    if not any(kept):
        return None
    compressed_request, compressed_instruction = prepared or request_parts(event, retention)
    return {
        "event_id": event.id,
        "request_body": compressed_request,
        "instruction": compressed_instruction,
        "completion_text": compress(event.completion_text),
        "thinking_text": compress(event.thinking_text),
        "tool_calls": list(event.tool_calls) or None,
        "created_at": now or datetime.now(UTC),
    }


# A spool record is binary, never pickle (the spool must not be able to run code):
#   meta length (4 bytes, big-endian) | meta (JSON) | compressed bodies, back to back
# where meta = {"e": events row, "b": event_bodies row without its compressed columns,
# "z": their lengths (null: column is NULL)}. The compressed bytes go to disk as they
# will go to the database: no base64, no second compression.


def encode_record(pair: RowPair) -> bytes:
    event, body = pair
    if body is None:
        meta = orjson.dumps({"e": event, "b": None, "z": None})
        return _META_LENGTH.pack(len(meta)) + meta
    blobs = [body[key] for key in COMPRESSED_BODY_COLUMNS]
    plain = {key: value for key, value in body.items() if key not in COMPRESSED_BODY_COLUMNS}
    meta = orjson.dumps({"e": event, "b": plain, "z": [None if b is None else len(b) for b in blobs]})
    return b"".join((_META_LENGTH.pack(len(meta)), meta, *(b for b in blobs if b is not None)))


def encode_provisional(event: Event) -> bytes:
    """A provisional record: the call as it was forwarded, metadata only (no bodies, no chain
    link). The event's own record completes it; one left alone means the proxy died first."""
    meta = orjson.dumps({"p": event_row(event)})
    return _META_LENGTH.pack(len(meta)) + meta


def decode_spooled(payload: bytes) -> RowPair | Row:
    """A spool record: an event's rows, or (a plain dict) a provisional record's event row."""
    meta, blobs_at = _meta(payload)
    provisional: Row | None = meta.get("p")
    if provisional is not None:
        provisional["ts"] = datetime.fromisoformat(provisional["ts"])
        return provisional
    return _decode_pair(meta, blobs_at, payload)


def decode_record(payload: bytes) -> RowPair:
    meta, blobs_at = _meta(payload)
    return _decode_pair(meta, blobs_at, payload)


def _decode_pair(meta: dict[str, Any], blobs_at: int, payload: bytes) -> RowPair:
    event: Row = meta["e"]
    for name in EVENT_COLUMNS:  # spooled by an older version: columns added since are empty
        event.setdefault(name, None)
    event["ts"] = datetime.fromisoformat(event["ts"])
    body: Row | None = meta["b"]
    if body is not None:
        body["created_at"] = datetime.fromisoformat(body["created_at"])
        offset = blobs_at
        for key, length in zip(COMPRESSED_BODY_COLUMNS, meta["z"], strict=False):
            if length is None:
                body[key] = None
                continue
            body[key] = payload[offset : offset + length]
            offset += length
        if isinstance(body.get("instruction"), str):  # spooled before instructions were compressed
            body["instruction"] = compress(body["instruction"])
    return event, body


def decode_chain_link(payload: bytes) -> tuple[int | None, str | None]:
    """``(seq, record_hash)`` of a spool record, without touching its bodies."""
    event = _meta(payload)[0].get("e")
    if event is None:  # a provisional record: not in the chain
        return None, None
    return event.get("seq"), event.get("record_hash")


def record_json(pair: RowPair) -> bytes:
    """One readable JSON line for an operator (bodies base64-encoded as stored)."""
    event, body = pair
    if body is not None:
        body = {
            key: base64.b64encode(value).decode("ascii") if key in COMPRESSED_BODY_COLUMNS and value else value
            for key, value in body.items()
        }
    return orjson.dumps({"e": event, "b": body}, default=str)


def _meta(payload: bytes) -> tuple[dict[str, Any], int]:
    (length,) = _META_LENGTH.unpack_from(payload)
    end = _META_LENGTH.size + length
    return orjson.loads(payload[_META_LENGTH.size : end]), end


def split(pairs: Sequence[RowPair]) -> tuple[list[Row], list[Row]]:
    return [event for event, _ in pairs], [body for _, body in pairs if body is not None]
