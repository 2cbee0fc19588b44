"""The triage queue: flagged calls awaiting a verdict, and the verdicts (appended, never overwriting)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from proxy.store.console_models import TriageVerdictRow
from proxy.store.event_query import EventFilter, event_dict, newest_first
from proxy.store.models import EventRow

VERDICTS = ("benign", "violation", "needs-follow-up")
# A verdict that settles a flag; "needs-follow-up" keeps it in the queue.
SETTLED = ("benign", "violation")


def verdicts_for(session: Session, event_id: str) -> list[dict[str, Any]]:
    query = select(TriageVerdictRow).where(TriageVerdictRow.event_id == event_id).order_by(TriageVerdictRow.id)
    return [{"verdict": r.verdict, "note": r.note, "actor": r.actor, "ts": r.ts} for r in session.scalars(query)]


def open_flags(session: Session, f: EventFilter) -> list[dict[str, Any]]:
    """Flagged calls whose latest verdict does not settle them, newest first."""
    latest = (
        select(TriageVerdictRow.verdict)
        .where(TriageVerdictRow.event_id == EventRow.id)
        .order_by(TriageVerdictRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    f.decision = "flag"
    query = newest_first(f, session.get_bind().dialect.name)
    query = query.where((latest.is_(None)) | (latest.not_in(SETTLED))).limit(max(1, min(f.limit, 1000)))
    return [event_dict(row) for row in session.scalars(query)]


def add_verdict(session: Session, event_id: str, verdict: str, note: str | None, actor: str) -> bool:
    """Append a verdict to an event; False if there is no such event. Commits."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}")
    if session.get(EventRow, event_id) is None:
        return False
    session.add(TriageVerdictRow(event_id=event_id, verdict=verdict, note=note, actor=actor, ts=datetime.now(UTC)))
    session.commit()
    return True
