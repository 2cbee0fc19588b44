"""What the SIEM feed sends, read from the database after a persisted cursor.

Blocked and flagged calls are taken in chain order (``seq``, assigned when a call is sealed and
never reused), triage verdicts and alerts in the order they were appended (``id``). The cursors
are kept in the ``settings_kv`` table, one of each kind per sink, and moved only after that sink
took a batch, so a restart resumes where delivery stopped: nothing is lost, and a batch cut short
by a crash is sent again (receivers deduplicate on the record's uid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from proxy.store.alert_store import alert_dicts
from proxy.store.console_models import TriageVerdictRow
from proxy.store.cursors import advance_position, read_position
from proxy.store.db import Database
from proxy.store.event_query import event_dict
from proxy.store.models import EventRow

# + the sink's name: each sink has its own place
CURSOR_KEYS = ("siem_events_seq:", "siem_verdicts_id:", "siem_alerts_id:")
FLAGGED = ("flag", "block")


@dataclass(frozen=True, slots=True)
class FeedBatch:
    events: list[dict[str, Any]]  # blocked/flagged calls, as event dicts
    verdicts: list[dict[str, Any]]  # triage verdicts, with the judged call's principal and decision
    events_cursor: int
    verdicts_cursor: int
    alerts: list[dict[str, Any]]  # alerts raised on distillation signals (proxy/alerts)
    alerts_cursor: int

    def __bool__(self) -> bool:
        return bool(self.events or self.verdicts or self.alerts)


def next_batch(engine: Database, sink: str, limit: int) -> FeedBatch:
    """Up to ``limit`` calls, ``limit`` verdicts and ``limit`` alerts after the cursors of ``sink``."""
    with Session(engine) as session:
        after_seq = read_position(session, CURSOR_KEYS[0] + sink)
        after_id = read_position(session, CURSOR_KEYS[1] + sink)
        after_alert = read_position(session, CURSOR_KEYS[2] + sink)
        alerts = alert_dicts(session, after_alert, limit)
        calls = session.scalars(
            select(EventRow)
            .where(EventRow.seq > after_seq, EventRow.decision.in_(FLAGGED))
            .order_by(EventRow.seq)
            .limit(limit)
        ).all()
        judged = session.execute(
            select(TriageVerdictRow, EventRow.principal, EventRow.decision, EventRow.use_label)
            .join(EventRow, EventRow.id == TriageVerdictRow.event_id)
            .where(TriageVerdictRow.id > after_id)
            .order_by(TriageVerdictRow.id)
            .limit(limit)
        ).all()
        verdicts = [
            {
                "id": row.id,
                "event_id": row.event_id,
                "verdict": row.verdict,
                "note": row.note,
                "actor": row.actor,
                "ts": row.ts,
                "principal": principal,
                "decision": decision,
                "use_label": label,
            }
            for row, principal, decision, label in judged
        ]
    return FeedBatch(
        events=[event_dict(row) for row in calls],
        verdicts=verdicts,
        events_cursor=max((int(row.seq or 0) for row in calls), default=after_seq),
        verdicts_cursor=max((row.id for row, *_ in judged), default=after_id),
        alerts=alerts,
        alerts_cursor=max((int(alert["id"]) for alert in alerts), default=after_alert),
    )


def mark_delivered(engine: Database, sink: str, batch: FeedBatch) -> None:
    """Move the cursors of ``sink`` past ``batch`` (only ever forward)."""
    with Session(engine) as session:
        cursors = (batch.events_cursor, batch.verdicts_cursor, batch.alerts_cursor)
        for prefix, value in zip(CURSOR_KEYS, cursors, strict=True):
            advance_position(session, prefix + sink, value)
        session.commit()
