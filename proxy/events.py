"""The event: one call through the proxy, as the record phase receives it.

The core fills an :class:`Event` as the call passes the phases; the store
persists it (``proxy/store``), the provenance chain hashes its immutable
fields, and the fingerprinting reads its completion text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import uuid_utils


class Outcome(StrEnum):
    COMPLETED = "completed"
    CLIENT_DISCONNECTED = "client_disconnected"
    UPSTREAM_ERROR = "upstream_error"  # unreachable, timed out, reset mid-stream
    BLOCKED = "blocked"  # refused by policy before reaching the upstream
    REJECTED = "rejected"  # refused by the proxy itself: bad JSON, too large, bad key, unavailable
    # Forwarded, and the proxy stopped (killed, crashed) before the call ended: the upstream
    # may have answered. Recorded at the next start from the call's provisional record.
    OUTCOME_UNKNOWN = "outcome_unknown"


class Decision(StrEnum):
    ALLOW = "allow"
    FLAG = "flag"
    BLOCK = "block"


def new_event_id() -> str:
    """A UUIDv7: time-ordered, so ids sort like the events they name."""
    return str(uuid_utils.uuid7())


@dataclass(slots=True)
class Event:
    id: str
    ts: datetime  # UTC, when the request arrived
    method: str
    path: str  # the vendor path as routed (no query string: it may carry keys)
    vendor: str | None = None
    endpoint: str | None = None
    # who / with what / where
    principal: str | None = None
    principal_kind: str | None = None  # "proxy_key" | "header" | "vendor_key" | "anonymous"
    team: str | None = None
    tool: str | None = None
    tool_version: str | None = None
    session_id: str | None = None
    side_call: str | None = None
    client_addr: str | None = None
    # the call
    model: str | None = None
    stream: bool = False
    turn_count: int = 0
    # decision (filled by the classify/decide phases)
    decision: str = Decision.ALLOW.value
    use_label: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    rule_hits: list[str] = field(default_factory=list)
    policy_rule: str | None = None
    # the answer
    status: int | None = None  # status sent to the client
    upstream_status: int | None = None
    outcome: str = Outcome.COMPLETED.value
    error: str | None = None
    vendor_request_id: str | None = None
    response_id: str | None = None
    response_model: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    latency_ms: float | None = None
    ttfb_ms: float | None = None
    request_sha256: str | None = None
    response_sha256: str | None = None
    output_truncated: bool = False
    # digests of the bodies as stored (set by the writer before sealing; record version 2)
    instruction_sha256: str | None = None
    completion_sha256: str | None = None
    thinking_sha256: str | None = None
    record_version: int = 2  # the canonical form this event is sealed in (1: without body digests)
    # bodies (stored under the retention setting, not in the events table)
    request_body: bytes | None = None
    instruction: str | None = None
    completion_text: str | None = None
    thinking_text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
