"""Bound and sanitise an event's fields so that every database accepts the row that is sealed.

Client input (model names, tool versions, session ids) and upstream answers (token
counts, response ids) reach the record unchecked. A value a column refuses — a NUL
byte (PostgreSQL text), a string longer than its ``VARCHAR``, an integer outside
its column's range — would keep an answered call out of the database after its
record was sealed, leaving a hole in the chain. So before sealing, the same rules
apply on every dialect: NUL bytes and lone surrogates are dropped, strings are cut
to their column's length, integers are clamped to their column's range, and a
number of the wrong type is cleared.

The limits are read from the store's own models, so a migration that widens a
column widens its bound too.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import BigInteger, Integer, String

from proxy.events import Event
from proxy.store.models import EventRow

CHAIN_FIELDS = ("seq", "record_hash", "prev_hash", "signature")
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# Body texts are compressed before storing: only what UTF-8 cannot encode is replaced.
BODY_TEXT_FIELDS = ("instruction", "completion_text", "thinking_text")


def _column_bounds() -> tuple[dict[str, int | None], dict[str, tuple[int, int]]]:
    strings: dict[str, int | None] = {}
    integers: dict[str, tuple[int, int]] = {}
    for column in EventRow.__table__.columns:
        if column.name in ("id", *CHAIN_FIELDS):  # set by the proxy and the writer themselves
            continue
        kind = column.type
        if isinstance(kind, String):  # Text is a String without a length
            strings[column.name] = kind.length
        elif isinstance(kind, BigInteger):
            integers[column.name] = INT64
        elif isinstance(kind, Integer):
            integers[column.name] = INT32
    return strings, integers


STRING_LIMITS, INTEGER_LIMITS = _column_bounds()


def clean_text(value: str, limit: int | None = None) -> str:
    """Without NUL bytes and lone surrogates, at most ``limit`` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
    return value[:limit] if limit is not None else value


def bounded_int(value: Any, low: int, high: int) -> int | None:
    """An integer within ``[low, high]``; None for a value that is not a finite number."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return min(max(value, low), high)


def bound_event(event: Event) -> None:
    """Make every field of ``event`` fit its column (in place, before the event is sealed)."""
    for name, limit in STRING_LIMITS.items():
        value = getattr(event, name, None)
        if isinstance(value, str):
            setattr(event, name, clean_text(value, limit))
        elif value is not None:
            setattr(event, name, clean_text(str(value), limit))
    for name, (low, high) in INTEGER_LIMITS.items():
        value = getattr(event, name, None)
        if value is not None:
            bounded = bounded_int(value, low, high)
            setattr(event, name, 0 if bounded is None and name == "turn_count" else bounded)
    for name in BODY_TEXT_FIELDS:
        value = getattr(event, name)
        if isinstance(value, str) and not value.isascii():
            setattr(event, name, value.encode("utf-8", "replace").decode("utf-8"))
    event.stream = bool(event.stream)
    event.output_truncated = bool(event.output_truncated)
