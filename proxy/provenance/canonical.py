"""The canonical form of an event's immutable fields (RFC 8785 JSON).

Which fields are hashed
-----------------------
Every scalar column that describes *what happened* and never changes after the
call: identity, routing, the decision, the answer's status, usage and the
request/response digests (:data:`CANONICAL_FIELDS`). Left out on purpose:

* bodies (request, instruction, completion, thinking, tool calls) — they live
  under the retention setting and are deleted when it expires; the chain
  covers them through their digests: ``request_sha256`` (the raw request),
  ``response_sha256`` (the raw response) and, from record version 2 on,
  ``instruction_sha256`` / ``completion_sha256`` / ``thinking_sha256`` (the
  texts as stored, UTF-8), so ``verify --full`` can check every kept body;
* ``client_addr`` — personal data that an operator may have to redact;
* ``error`` — free text the store may shorten;
* ``latency_ms`` / ``ttfb_ms`` — measurements, not provenance, and floats whose
  round trip through a database column is not guaranteed bit-exact;
* ``scores`` / ``rule_hits`` — classifier internals, not scalar columns.

Every field is always present (``null`` when unset), so clearing a value is a
change. A record whose ``record_version`` is null or 1 (sealed before body
digests existed) is hashed in its version-1 form, without the
:data:`V2_FIELDS` keys; setting a version-2 record's version to null changes
its hash like any other edit. ``ts`` is written as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

Why not the ``rfc8785`` package on the hot path
-----------------------------------------------
It is pure Python (~90 µs for one event). The values here are restricted to
strings, integers (|n| ≤ 2**53), booleans and null, keys are ASCII and emitted
in sorted order: for exactly those, orjson's compact output is byte-identical
to RFC 8785 (same string escaping, no whitespace). ``tests/unit/provenance`` checks
that against ``rfc8785`` with generated inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import orjson

from proxy.events import Event

# Version 2 seals digests of the stored bodies; records sealed before (record_version NULL or 1)
# keep their version-1 form, without these keys, so they still verify.
V2_FIELDS = ("instruction_sha256", "completion_sha256", "thinking_sha256", "record_version")
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
            *V2_FIELDS,
        )
    )
)
V1_FIELDS = frozenset(CANONICAL_FIELDS) - frozenset(V2_FIELDS)
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
        "record_version",
    }
)
MAX_SAFE_INT = 2**53 - 1  # beyond this RFC 8785 would print the number as a double

_BOOL_INDEXES = tuple(CANONICAL_FIELDS.index(name) for name in sorted(BOOL_FIELDS))
_INT_INDEXES = tuple(CANONICAL_FIELDS.index(name) for name in sorted(INT_FIELDS))
assert {"stream", "output_truncated"} == BOOL_FIELDS  # canonical_values names them
assert all(name.isascii() for name in CANONICAL_FIELDS)  # sorted() == UTF-16 order only for ASCII


class CanonicalError(ValueError):
    """A value outside the types the canonical form accepts."""


def format_ts(value: datetime | str) -> str:
    """UTC, microseconds always shown; naive datetimes (SQLite) are taken as UTC."""
    if isinstance(value, str):
        # SQLite's text form, as SQLAlchemy writes it: "YYYY-MM-DD HH:MM:SS.ffffff"
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


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

    Accepts what the database returns (naive or aware ``datetime`` or SQLite's
    text for ``ts``, 0/1 for booleans)."""
    record = dict(zip(CANONICAL_FIELDS, values, strict=True))  # insertion order is the sorted field order
    ts = record["ts"]
    if ts is not None:
        record["ts"] = format_ts(ts)
    record["stream"] = _as_bool(record["stream"])
    record["output_truncated"] = _as_bool(record["output_truncated"])
    if record["record_version"] in (None, 1):  # the version-1 form: no body digests
        for name in V2_FIELDS:
            del record[name]
    try:
        return orjson.dumps(record)
    except TypeError as exc:
        raise CanonicalError(str(exc)) from exc


_event_getter = attrgetter(*CANONICAL_FIELDS)


def event_values(event: Event) -> tuple[Any, ...]:
    """The event's values in :data:`CANONICAL_FIELDS` order, checked for the write path."""
    values: tuple[Any, ...] = _event_getter(event)
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
    if set(record) != set(CANONICAL_FIELDS) and set(record) != V1_FIELDS:
        raise CanonicalError("record fields differ from the canonical field set")
    return canonical_values([record.get(name) for name in CANONICAL_FIELDS])


def record_dict(values: Sequence[Any]) -> dict[str, Any]:
    """The canonical record as a JSON-ready mapping (what attestations carry)."""
    decoded: dict[str, Any] = orjson.loads(canonical_values(values))
    return decoded
