"""The canonical form of an event's immutable fields (RFC 8785 JSON).

Which fields are hashed
-----------------------
Every scalar column that describes *what happened* and never changes after the
call: identity, routing, the decision, the answer's status, usage and the
request/response digests (:data:`CANONICAL_FIELDS`). Left out on purpose:

* bodies (request, instruction, completion, thinking, tool calls) — they live
  under the retention setting and are deleted when it expires; the chain
  covers them through ``request_sha256`` / ``response_sha256``;
* ``client_addr`` — personal data that an operator may have to redact;
* ``error`` — free text the store may shorten;
* ``latency_ms`` / ``ttfb_ms`` — measurements, not provenance, and floats whose
  round trip through a database column is not guaranteed bit-exact;
* ``scores`` / ``rule_hits`` — classifier internals, not scalar columns.

Every field is always present (``null`` when unset), so clearing a value is a
change. ``ts`` is written as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

Why not the ``rfc8785`` package on the hot path
-----------------------------------------------
It is pure Python (~90 µs for one event). The values here are restricted to
strings, integers (|n| ≤ 2**53), booleans and null, keys are ASCII and emitted
in sorted order: for exactly those, orjson's compact output is byte-identical
to RFC 8785 (same string escaping, no whitespace). ``tests/provenance`` checks
that against ``rfc8785`` with generated inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from proxy.events import Event

CANONICAL_FIELDS: tuple[str, ...] = tuple(
    sorted(
        (
            "id",
            "ts",
            "method",
            "path",
            "vendor",
            "endpoint",
            "principal",
            "principal_kind",
            "team",
            "tool",
            "tool_version",
            "session_id",
            "side_call",
            "model",
            "stream",
            "turn_count",
            "decision",
            "use_label",
            "policy_rule",
            "status",
            "upstream_status",
            "outcome",
            "vendor_request_id",
            "response_id",
            "response_model",
            "stop_reason",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "request_sha256",
            "response_sha256",
            "output_truncated",
        )
    )
)
BOOL_FIELDS = frozenset({"stream", "output_truncated"})
INT_FIELDS = frozenset(
    {
        "turn_count",
        "status",
        "upstream_status",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
    }
)
MAX_SAFE_INT = 2**53 - 1  # beyond this RFC 8785 would print the number as a double

_TS_INDEX = CANONICAL_FIELDS.index("ts")
_BOOL_INDEXES = tuple(CANONICAL_FIELDS.index(name) for name in sorted(BOOL_FIELDS))
_INT_INDEXES = tuple(CANONICAL_FIELDS.index(name) for name in sorted(INT_FIELDS))
assert all(name.isascii() for name in CANONICAL_FIELDS)  # sorted() == UTF-16 order only for ASCII


class CanonicalError(ValueError):
    """A value outside the types the canonical form accepts."""


def format_ts(value: datetime | str) -> str:
    """UTC, microseconds always shown; naive datetimes (SQLite) are taken as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_bool(value: Any) -> Any:
    # Databases without a boolean type hand back 0/1; anything else is kept as is
    # so that a tampered value still changes the hash.
    if value is None or type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return value == 1
    return value


def canonical_values(values: Sequence[Any]) -> bytes:
    """Canonical JSON of one record given its values in :data:`CANONICAL_FIELDS` order.

    Accepts what the database returns (naive or aware ``datetime`` or an ISO
    string for ``ts``, 0/1 for booleans)."""
    normalised = list(values)
    ts = normalised[_TS_INDEX]
    if ts is not None:
        normalised[_TS_INDEX] = format_ts(ts)
    for index in _BOOL_INDEXES:
        normalised[index] = _as_bool(normalised[index])
    try:
        return orjson.dumps(dict(zip(CANONICAL_FIELDS, normalised, strict=True)))
    except TypeError as exc:
        raise CanonicalError(str(exc)) from exc


def event_values(event: Event) -> list[Any]:
    """The event's values in :data:`CANONICAL_FIELDS` order, checked for the write path."""
    values = [getattr(event, name) for name in CANONICAL_FIELDS]
    for index in _INT_INDEXES:
        number = values[index]
        if number is not None and (type(number) is not int or abs(number) > MAX_SAFE_INT):
            raise CanonicalError(f"{CANONICAL_FIELDS[index]} must be an integer within ±2**53")
    for index in _BOOL_INDEXES:
        if type(values[index]) is not bool:
            raise CanonicalError(f"{CANONICAL_FIELDS[index]} must be a boolean")
    return values


def canonical_event(event: Event) -> bytes:
    return canonical_values(event_values(event))


def canonical_record(record: dict[str, Any]) -> bytes:
    """Canonical JSON of a record given as a mapping (an exported attestation's record)."""
    if set(record) != set(CANONICAL_FIELDS):
        raise CanonicalError("record fields differ from the canonical field set")
    return canonical_values([record[name] for name in CANONICAL_FIELDS])


def record_dict(values: Sequence[Any]) -> dict[str, Any]:
    """The canonical record as a JSON-ready mapping (what attestations carry)."""
    decoded: dict[str, Any] = orjson.loads(canonical_values(values))
    return decoded
