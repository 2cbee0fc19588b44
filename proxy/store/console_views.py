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

    From the hourly roll-up for the whole hours in range when the filter allows it (at most
    one of principal, team, tool, vendor, label, decision), and from the events table for the
    rest: the partial hours at the edges, or everything for other filters."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    sums: dict[str, dict[Any, list[int]]] = {name: {} for name in (*STAT_DIMENSIONS, "over_time")}
    per_decision: dict[str, dict[Any, list[int]]] = {}
    for breakdown, value, bucket_key, *measures in _breakdown_rows(session, f, bucket):
        targets = [sums[breakdown].setdefault(value, [0, 0, 0])]
        if breakdown == "decision":  # every event has one decision: these rows also make the totals
            targets.append(sums["over_time"].setdefault(bucket_key, [0, 0, 0]))
            targets.append(per_decision.setdefault(value, {}).setdefault(bucket_key, [0, 0, 0]))
        for into in targets:
            for i, number in enumerate(measures):
                into[i] += int(number)
    result: dict[str, Any] = {
        name: sorted((_measured(key, m) for key, m in sums[name].items()), key=lambda r: (-r["events"], r["key"] or ""))
        for name in STAT_DIMENSIONS
    }
    result["over_time"] = sorted((_measured(key, m) for key, m in sums["over_time"].items()), key=lambda r: r["key"])
    # The same buckets per decision (the console's calls / flags / blocks chart, from this one read).
    result["decision_over_time"] = {
        decision: sorted((_measured(key, m) for key, m in buckets.items()), key=lambda r: r["key"])
        for decision, buckets in per_decision.items()
    }
    totals = [sum(m[i] for m in sums["decision"].values()) for i in range(3)]
    result["total"] = {"events": totals[0], "input_tokens": totals[1], "output_tokens": totals[2]}
    return result


def _breakdown_rows(session: Session, f: EventFilter, bucket: str) -> list[tuple[Any, ...]]:
    """``(breakdown, value, bucket key, events, input_tokens, output_tokens)`` rows for ``f``."""
    others = (f.model, f.session, f.outcome, f.policy_rule, f.text)
    scope = None if any(v is not None for v in others) else stats_rollup.scope_of(_scope_filters(f))
    first, end = stats_rollup.whole_hours(f.since, f.until)
    if scope is None or (first is not None and end is not None and first >= end):
        return _events_rows(session, f, bucket)
    rows = stats_rollup.rollup_rows(session.connection(), scope, first, end, bucket)
    if f.since is not None and first is not None and first != f.since:
        rows += _events_rows(session, replace(f, until=first), bucket)
    if f.until is not None and end is not None and end != f.until:
        rows += _events_rows(session, replace(f, since=end), bucket)
    return rows


def _scope_filters(f: EventFilter) -> dict[str, Any]:
    return {name: getattr(f, name) for name in stats_rollup.SCOPES}


def _events_rows(session: Session, f: EventFilter, bucket: str) -> list[tuple[Any, ...]]:
    """The breakdown rows counted from the events table: one grouped scan, split per breakdown."""
    dialect = session.get_bind().dialect.name
    bucket_start = stats_rollup.bucket_column(dialect, bucket, EventRow.ts)
    dimensions = list(STAT_DIMENSIONS.values())
    measures = (
        func.count(),
        func.coalesce(func.sum(EventRow.input_tokens), 0),
        func.coalesce(func.sum(EventRow.output_tokens), 0),
    )
    query = filtered(f, dialect, select(*dimensions, bucket_start, *measures)).group_by(*dimensions, bucket_start)
    rows: list[tuple[Any, ...]] = []
    for cube in session.execute(query):
        cells = tuple(cube)
        key, numbers = cells[len(dimensions)], cells[len(dimensions) + 1 :]
        rows += [(name, value, key, *numbers) for name, value in zip(STAT_DIMENSIONS, cells, strict=False)]
    return rows


def top_principals(
    session: Session, since: datetime | None, until: datetime | None, limit: int = 10
) -> list[dict[str, Any]]:
    """The most active people in [since, until), with their flags and blocks: counted from the
    roll-up for the whole hours and from the events table for the partial hours at the edges."""
    first, end = stats_rollup.whole_hours(since, until)
    if first is not None and end is not None and first >= end:  # no whole hour: the events only
        rows, edges = [], [(since, until)]
    else:
        rows = stats_rollup.principal_decisions(session.connection(), first, end)
        edges = [(since, first)] if since is not None and first != since else []
        edges += [(end, until)] if until is not None and end != until else []
    for edge_since, edge_until in edges:
        rows += _principal_decisions(session, EventFilter(since=edge_since, until=edge_until))
    counts: dict[str, dict[str, int]] = {}
    for principal, decision, events in rows:
        into = counts.setdefault(principal, {"calls": 0, "flag": 0, "block": 0})
        into["calls"] += events
        if decision in into:
            into[decision] += events
    top = sorted(counts.items(), key=lambda item: (-item[1]["calls"], item[0]))[:limit]
    return [{"principal": p, "calls": c["calls"], "flags": c["flag"], "blocks": c["block"]} for p, c in top]


def _principal_decisions(session: Session, f: EventFilter) -> list[tuple[str, str, int]]:
    query = filtered(f, session.get_bind().dialect.name, select(EventRow.principal, EventRow.decision, func.count()))
    query = query.where(EventRow.principal.is_not(None)).group_by(EventRow.principal, EventRow.decision)
    return [(str(row[0]), row[1], int(row[2])) for row in session.execute(query)]


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
