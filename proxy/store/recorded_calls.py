"""Recorded calls with their stored instruction, oldest first, streamed: what policy replay and the
triage example export read (callers outside the store never see a row or a query)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from proxy.store.console_models import TriageVerdictRow
from proxy.store.event_query import QueryT, utc
from proxy.store.models import EventBodyRow, EventRow
from proxy.store.rows import decompress
from proxy.store.triage import SETTLED

BATCH = 500


@dataclass(frozen=True, slots=True)
class RecordedCall:
    id: str
    ts: datetime
    vendor: str | None
    endpoint: str | None
    model: str | None
    stream: bool
    turn_count: int
    side_call: str | None
    principal: str | None
    team: str | None
    tool: str | None
    session_id: str | None
    decision: str
    use_label: str | None
    scores: dict[str, Any]
    policy_rule: str | None
    instruction: str | None  # None: no body kept (retention, purge, or a call refused before reading)


@dataclass(frozen=True, slots=True)
class Judged:
    call: RecordedCall
    verdict: str
    note: str | None
    actor: str


def recorded_calls(session: Session, since: datetime | None, until: datetime | None) -> Iterator[RecordedCall]:
    """Every call in ``[since, until)`` in the order it happened, with its instruction if kept."""
    query = _with_instruction(select(EventRow, EventBodyRow.instruction))
    if since is not None:
        query = query.where(EventRow.ts >= utc(since))
    if until is not None:
        query = query.where(EventRow.ts < utc(until))
    for event, instruction in session.execute(query.order_by(EventRow.ts, EventRow.id)).yield_per(BATCH):
        yield _call(event, instruction)


def settled_verdicts(session: Session, since: datetime | None = None) -> Iterator[Judged]:
    """Calls whose latest verdict settles them (benign or violation), oldest verdict first."""
    latest = select(func.max(TriageVerdictRow.id).label("id")).group_by(TriageVerdictRow.event_id).subquery("latest")
    query = (
        select(EventRow, EventBodyRow.instruction, TriageVerdictRow)
        .join_from(TriageVerdictRow, latest, TriageVerdictRow.id == latest.c.id)
        .join(EventRow, EventRow.id == TriageVerdictRow.event_id)
        .outerjoin(EventBodyRow, EventBodyRow.event_id == EventRow.id)
        .where(TriageVerdictRow.verdict.in_(SETTLED))
    )
    if since is not None:
        query = query.where(TriageVerdictRow.ts >= utc(since))
    for event, instruction, verdict in session.execute(query.order_by(TriageVerdictRow.id)).yield_per(BATCH):
        yield Judged(_call(event, instruction), verdict.verdict, verdict.note, verdict.actor)


def _with_instruction(query: QueryT) -> QueryT:
    return query.outerjoin(EventBodyRow, EventBodyRow.event_id == EventRow.id)


def _call(event: EventRow, instruction: bytes | None) -> RecordedCall:
    raw = decompress(instruction)
    return RecordedCall(
        id=event.id,
        ts=utc(event.ts),
        vendor=event.vendor,
        endpoint=event.endpoint,
        model=event.model,
        stream=event.stream,
        turn_count=event.turn_count,
        side_call=event.side_call,
        principal=event.principal,
        team=event.team,
        tool=event.tool,
        session_id=event.session_id,
        decision=event.decision,
        use_label=event.use_label,
        scores=dict(event.scores or {}),
        policy_rule=event.policy_rule,
        instruction=None if raw is None else raw.decode("utf-8", errors="replace"),
    )
