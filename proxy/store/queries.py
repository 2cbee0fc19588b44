"""The one place that reads events: the CLI, the admin API and the dashboard all call these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, select
from sqlalchemy.orm import Session

from proxy.store import stats_rollup
from proxy.store.event_query import EVENT_COLUMNS, MAX_LIMIT, EventFilter, event_dict, newest_first
from proxy.store.models import EventBodyRow, EventRow
from proxy.store.rows import decompress
from proxy.store.search import unindex

__all__ = ["EVENT_COLUMNS", "MAX_LIMIT", "EventFilter", "get_event", "list_events", "purge"]


def list_events(session: Session, f: EventFilter) -> list[dict[str, Any]]:
    """Events matching ``f``, newest first (bodies not included)."""
    limit = max(0, min(f.limit, MAX_LIMIT))
    query = newest_first(f, session.get_bind().dialect.name).limit(limit).offset(max(0, f.offset))
    return [event_dict(row) for row in session.scalars(query)]


def get_event(session: Session, event_id: str) -> dict[str, Any] | None:
    """One event with its stored bodies decompressed under ``"body"`` (None if retention kept none)."""
    row = session.get(EventRow, event_id)
    if row is None:
        return None
    event = event_dict(row)
    body = session.get(EventBodyRow, event_id)
    event["body"] = None if body is None else _body_dict(body)
    return event


def purge(session: Session, older_than_days: int, bodies_only: bool = True) -> int:
    """Delete the bodies of events older than ``older_than_days`` and return how many; with
    ``bodies_only=False`` delete those events too and return how many events. Commits."""
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    old_ids = select(EventRow.id).where(EventRow.ts < cutoff)
    unindex(session, old_ids)  # purged bodies leave the search index too
    deleted = _rowcount(session, delete(EventBodyRow).where(EventBodyRow.event_id.in_(old_ids)))
    if not bodies_only:
        deleted = _rowcount(session, delete(EventRow).where(EventRow.ts < cutoff))
        stats_rollup.rebuild(session.connection(), before=cutoff)  # recount the hours it emptied
    session.commit()
    return deleted


def _rowcount(session: Session, statement: Delete) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)


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
