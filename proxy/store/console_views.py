"""The console's aggregate reads: a whole session, one person's activity, statistics over time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from proxy.store import stats_rollup
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
# Filter fields the hourly roll-up holds, and its column for each.
ROLLUP_FILTERS = {
    "principal": "principal",
    "team": "team",
    "tool": "tool",
    "vendor": "vendor",
    "decision": "decision",
    "label": "use_label",
}


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

    The breakdowns are summed from one cube (grouped by every dimension and the time bucket at
    once). The cube comes from the hourly roll-up for the whole hours in range when the filter
    allows it, and from the events table for the rest (the partial hours at the edges, or all
    of it for filters the roll-up does not hold)."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    sums: dict[str, dict[Any, list[int]]] = {name: {} for name in (*STAT_DIMENSIONS, "over_time")}
    total = [0, 0, 0]
    for cells in _cube(session, f, bucket):
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


def _cube(session: Session, f: EventFilter, bucket: str) -> list[tuple[Any, ...]]:
    equals = {column: getattr(f, name) for name, column in ROLLUP_FILTERS.items() if getattr(f, name) is not None}
    others = (f.model, f.session, f.outcome, f.policy_rule, f.text)
    first, end = stats_rollup.whole_hours(f.since, f.until)
    if not stats_rollup.answers(equals, others) or (first is not None and end is not None and first >= end):
        return _events_cube(session, f, bucket)
    cube = stats_rollup.rollup_cube(session.connection(), equals, first, end, bucket)
    if f.since is not None and first is not None and first != f.since:
        cube += _events_cube(session, replace(f, until=first), bucket)
    if f.until is not None and end is not None and end != f.until:
        cube += _events_cube(session, replace(f, since=end), bucket)
    return cube


def _events_cube(session: Session, f: EventFilter, bucket: str) -> list[tuple[Any, ...]]:
    dialect = session.get_bind().dialect.name
    bucket_start = stats_rollup.bucket_column(dialect, bucket, EventRow.ts)
    dimensions = list(STAT_DIMENSIONS.values())
    measures = (
        func.count(),
        func.coalesce(func.sum(EventRow.input_tokens), 0),
        func.coalesce(func.sum(EventRow.output_tokens), 0),
    )
    query = filtered(f, dialect, select(*dimensions, bucket_start, *measures)).group_by(*dimensions, bucket_start)
    return [tuple(row) for row in session.execute(query)]


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
