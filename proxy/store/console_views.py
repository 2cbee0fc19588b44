"""The console's aggregate reads: a whole session, one person's activity, statistics over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
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
    """Counts and tokens by label, decision, tool, vendor and team, and per time bucket.

    One scan, not one per breakdown: the database groups by every dimension and the time
    bucket at once (a small cube: a few values each), and the breakdowns are summed from it."""
    dialect = session.get_bind().dialect.name
    bucket_start = _bucket(dialect, bucket)
    dimensions = list(STAT_DIMENSIONS.values())
    query = filtered(
        f,
        dialect,
        select(
            *dimensions,
            bucket_start,
            func.count(),
            func.coalesce(func.sum(EventRow.input_tokens), 0),
            func.coalesce(func.sum(EventRow.output_tokens), 0),
        ),
    ).group_by(*dimensions, bucket_start)
    sums: dict[str, dict[Any, list[int]]] = {name: {} for name in (*STAT_DIMENSIONS, "over_time")}
    total = [0, 0, 0]
    for row in session.execute(query):
        cells: tuple[Any, ...] = tuple(row)
        measures = (int(cells[-3]), int(cells[-2]), int(cells[-1]))
        for name, key in zip((*STAT_DIMENSIONS, "over_time"), cells[:-3], strict=True):
            into = sums[name].setdefault(key, [0, 0, 0])
            for i, value in enumerate(measures):
                into[i] += value
        for i, value in enumerate(measures):
            total[i] += value
    result: dict[str, Any] = {
        name: sorted((_measured(key, m) for key, m in sums[name].items()), key=lambda r: (-r["events"], r["key"] or ""))
        for name in STAT_DIMENSIONS
    }
    result["over_time"] = sorted((_measured(key, m) for key, m in sums["over_time"].items()), key=lambda r: r["key"])
    result["total"] = {"events": total[0], "input_tokens": total[1], "output_tokens": total[2]}
    return result


def principal_activity(session: Session, principal: str, since: datetime | None, bucket: str) -> dict[str, Any]:
    """A person's activity over time: the same statistics, narrowed to them."""
    return stats(session, EventFilter(principal=principal, since=since), bucket)


def _measured(key: Any, measures: list[int]) -> dict[str, Any]:
    if isinstance(key, datetime):
        key = key.isoformat()
    events, input_tokens, output_tokens = measures
    return {
        "key": None if key is None else str(key),
        "events": events,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
    }


def _bucket(dialect: str, bucket: str) -> ColumnElement[Any]:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(bucket, func.timezone("UTC", EventRow.ts)), 'YYYY-MM-DD"T"HH24:00:00')
    pattern = "%Y-%m-%dT%H:00:00" if bucket == "hour" else "%Y-%m-%dT00:00:00"
    return func.strftime(pattern, EventRow.ts)
