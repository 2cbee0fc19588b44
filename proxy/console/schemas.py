"""The console API's response shapes (they make the OpenAPI schema that clients and schemathesis check)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

Verdict = Literal["benign", "violation", "needs-follow-up"]


class EventOut(BaseModel):
    id: str
    ts: datetime
    method: str
    path: str
    vendor: str | None
    endpoint: str | None
    principal: str | None
    principal_kind: str | None
    team: str | None
    tool: str | None
    tool_version: str | None
    session_id: str | None
    side_call: str | None
    client_addr: str | None
    model: str | None
    stream: bool
    turn_count: int
    decision: str
    use_label: str | None
    scores: dict[str, Any]
    rule_hits: list[Any]
    policy_rule: str | None
    status: int | None
    upstream_status: int | None
    outcome: str
    error: str | None
    vendor_request_id: str | None
    response_id: str | None
    response_model: str | None
    stop_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    latency_ms: float | None
    ttfb_ms: float | None
    request_sha256: str | None
    response_sha256: str | None
    instruction_sha256: str | None
    completion_sha256: str | None
    thinking_sha256: str | None
    record_version: int | None
    output_truncated: bool
    seq: int | None
    record_hash: str | None
    prev_hash: str | None
    signature: str | None


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: str | None


class BodyOut(BaseModel):
    request_body: str | None
    instruction: str | None
    completion_text: str | None
    thinking_text: str | None
    tool_calls: list[Any] | None
    created_at: datetime


class VerdictOut(BaseModel):
    verdict: Verdict
    note: str | None
    actor: str
    ts: datetime


class EventDetail(EventOut):
    body: BodyOut | None
    verdicts: list[VerdictOut]


class SessionOut(BaseModel):
    session_id: str
    events: list[EventOut]


class Measure(BaseModel):
    key: str | None
    events: int
    input_tokens: int
    output_tokens: int


class Totals(BaseModel):
    events: int
    input_tokens: int
    output_tokens: int


class StatsOut(BaseModel):
    label: list[Measure]
    decision: list[Measure]
    tool: list[Measure]
    vendor: list[Measure]
    team: list[Measure]
    over_time: list[Measure]
    total: Totals


class PrincipalOut(BaseModel):
    principal: str
    activity: StatsOut
    recent: list[EventOut]


class TokenOut(BaseModel):
    id: str
    prefix: str
    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(BaseModel):
    id: str
    prefix: str
    token: str


class ErrorOut(BaseModel):
    detail: str


# The refusals every route may answer (422, FastAPI's validation error, is documented by FastAPI).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "a value the route cannot use (a bad cursor, a broken policy)"),
        (401, "no valid credential"),
        (403, "the role is too low"),
        (404, "no such resource"),
        (409, "the id matches more than one"),
    )
}
