"""The console's aggregate reads: a whole session, one person's activity, statistics over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.orm import Session

from proxy.store.event_query import EventFilter, event_dict, filtered
from proxy.store.models import EventRow

SESSION_LIMIT = 5000
STAT_DIMENSIONS = {
    "label": EventRow.use_label,
    "decision": EventRow.decision,
    "tool": EventRow.tool,
    "vendor": EventRow.vendor,
    "team": EventRow.team,
}
BUCKETS = ("hour", "day")


def session_events(session: Session, session_id: str) -> list[dict[str, Any]]:
    """Every call of one agent session in the order it happened (at most SESSION_LIMIT)."""
    query = (
        select(EventRow)
        .where(EventRow.session_id == session_id)
        .order_by(EventRow.ts, EventRow.id)
        .limit(SESSION_LIMIT)
    )
    return [event_dict(row) for row in session.scalars(query)]


def stats(session: Session, f: EventFilter, bucket: str) -> dict[str, Any]:
    """Counts and tokens by label, decision, tool, vendor and team, and per time bucket."""
    dialect = session.get_bind().dialect.name
    measures = (
        func.count().label("events"),
        func.coalesce(func.sum(EventRow.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(EventRow.output_tokens), 0).label("output_tokens"),
    )
    result: dict[str, Any] = {}
    for name, column in STAT_DIMENSIONS.items():
        query = filtered(f, dialect, select(column.label("key"), *measures)).group_by(column)
        result[name] = [_measured(row) for row in session.execute(query.order_by(literal_column("events").desc()))]
    bucket_start = _bucket(dialect, bucket)
    query = filtered(f, dialect, select(bucket_start.label("key"), *measures)).group_by(bucket_start)
    result["over_time"] = [_measured(row) for row in session.execute(query.order_by(bucket_start))]
    events, tokens_in, tokens_out = session.execute(filtered(f, dialect, select(*measures))).one()
    result["total"] = {"events": events, "input_tokens": int(tokens_in or 0), "output_tokens": int(tokens_out or 0)}
    return result


def principal_activity(session: Session, principal: str, since: datetime | None, bucket: str) -> dict[str, Any]:
    """A person's activity over time: the same statistics, narrowed to them."""
    return stats(session, EventFilter(principal=principal, since=since), bucket)


def _measured(row: Any) -> dict[str, Any]:
    key = row[0]
    if isinstance(key, datetime):
        key = key.isoformat()
    return {
        "key": None if key is None else str(key),
        "events": row[1],
        "input_tokens": int(row[2]),
        "output_tokens": int(row[3]),
    }


def _bucket(dialect: str, bucket: str) -> ColumnElement[Any]:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(bucket, func.timezone("UTC", EventRow.ts)), 'YYYY-MM-DD"T"HH24:00:00')
    pattern = "%Y-%m-%dT%H:00:00" if bucket == "hour" else "%Y-%m-%dT00:00:00"
    return func.strftime(pattern, EventRow.ts)
