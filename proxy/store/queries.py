"""The one place that reads events: the CLI, the admin API and the dashboard all call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Select, delete, select
from sqlalchemy.orm import Session

from proxy.store.models import EventBodyRow, EventRow
from proxy.store.rows import decompress

MAX_LIMIT = 10_000


@dataclass(slots=True)
class EventFilter:
    principal: str | None = None  # the user
    team: str | None = None
    tool: str | None = None
    vendor: str | None = None
    model: str | None = None
    session: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    decision: str | None = None
    label: str | None = None
    limit: int = 100
    offset: int = 0


# Filter field → column compared for equality.
_EQUALS = {
    "principal": EventRow.principal,
    "team": EventRow.team,
    "tool": EventRow.tool,
    "vendor": EventRow.vendor,
    "model": EventRow.model,
    "session": EventRow.session_id,
    "outcome": EventRow.outcome,
    "decision": EventRow.decision,
    "label": EventRow.use_label,
}
EVENT_COLUMNS = [column.name for column in EventRow.__table__.columns]


def _filtered(f: EventFilter) -> Select[EventRow]:
    query = select(EventRow)
    for name, column in _EQUALS.items():
        value = getattr(f, name)
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(EventRow.ts >= _utc(f.since))
    if f.until is not None:
        query = query.where(EventRow.ts < _utc(f.until))
    return query


def list_events(session: Session, f: EventFilter) -> list[dict[str, Any]]:
    """Events matching ``f``, newest first (bodies not included)."""
    limit = max(0, min(f.limit, MAX_LIMIT))
    query = (
        _filtered(f).order_by(EventRow.ts.desc(), EventRow.id.desc()).limit(limit).offset(max(0, f.offset))
    )
    return [_event_dict(row) for row in session.scalars(query)]


def get_event(session: Session, event_id: str) -> dict[str, Any] | None:
    """One event with its stored bodies decompressed under ``"body"`` (None if retention kept none)."""
    row = session.get(EventRow, event_id)
    if row is None:
        return None
    event = _event_dict(row)
    body = session.get(EventBodyRow, event_id)
    event["body"] = None if body is None else _body_dict(body)
    return event


def purge(session: Session, older_than_days: int, bodies_only: bool = True) -> int:
    """Delete the bodies of events older than ``older_than_days`` and return how many; with
    ``bodies_only=False`` delete those events too and return how many events. Commits."""
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    old_ids = select(EventRow.id).where(EventRow.ts < cutoff)
    deleted = _rowcount(session, delete(EventBodyRow).where(EventBodyRow.event_id.in_(old_ids)))
    if not bodies_only:
        deleted = _rowcount(session, delete(EventRow).where(EventRow.ts < cutoff))
    session.commit()
    return deleted


def _rowcount(session: Session, statement: Delete) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)


def _event_dict(row: EventRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EVENT_COLUMNS}


def _body_dict(body: EventBodyRow) -> dict[str, Any]:
    def text(data: bytes | None) -> str | None:
        raw = decompress(data)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    return {
        "request_body": text(body.request_body),
        "instruction": text(body.instruction),
        "completion_text": text(body.completion_text),
        "thinking_text": text(body.thinking_text),
        "tool_calls": body.tool_calls,
        "created_at": body.created_at,
    }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
