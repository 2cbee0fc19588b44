"""Hourly roll-up of event counts and tokens, so that the console's statistics over a month of
traffic read a few thousand rows instead of scanning a million events.

``event_rollup`` holds, per UTC hour and per combination of principal, team, tool, vendor,
use label and decision, how many events there were and their token sums. The loader keeps it
in step inside its insert transaction, counting only the events that insert really added (a
replayed record is ignored by the insert, so it must not be counted twice). ``purge`` of events
rebuilds the hours it touched. A statistics query whose filter the roll-up can answer reads it
for the whole hours inside its time range and the events table only for the partial hours at
the edges, so the figures are exact, not approximate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from proxy.store.models import EventRollupRow, EventRow

# Filter fields the roll-up answers, by the event column each compares (the rest need the events).
DIMENSIONS = ("principal", "team", "tool", "vendor", "use_label", "decision")
MEASURES = ("events", "input_tokens", "output_tokens")
NONE_KEY = ""  # NULL in a dimension: stored as "" so the hour+dimensions key stays unique
_ROLLUP: Table = EventRollupRow.__table__  # type: ignore[assignment]


def hour_of(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def add_events(conn: Connection, events: Iterable[dict[str, Any]]) -> None:
    """Count newly inserted event rows into their hours (one upsert per hour and combination)."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for event in events:
        key = (hour_of(event["ts"]), *(event.get(name) or NONE_KEY for name in DIMENSIONS))
        into = sums.setdefault(key, [0, 0, 0])
        into[0] += 1
        into[1] += event.get("input_tokens") or 0
        into[2] += event.get("output_tokens") or 0
    if not sums:
        return
    rows = [
        {"hour": key[0], **dict(zip(DIMENSIONS, key[1:], strict=True)), **dict(zip(MEASURES, m, strict=True))}
        for key, m in sums.items()
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_ROLLUP)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["hour", *DIMENSIONS],
            set_={name: _ROLLUP.c[name] + statement.excluded[name] for name in MEASURES},
        ),
        rows,
    )


def rebuild(conn: Connection, before: datetime | None = None) -> None:
    """Recount the hours before ``before`` (every hour when None) from the events table."""
    events: Table = EventRow.__table__  # type: ignore[assignment]
    end = None if before is None else hour_of(before) + timedelta(hours=1)
    stale = delete(_ROLLUP)
    if end is not None:
        stale = stale.where(_ROLLUP.c.hour < end)
    conn.execute(stale)
    hour = _hour_column(conn.dialect.name, events.c.ts)
    dimensions = [func.coalesce(events.c[name], NONE_KEY) for name in DIMENSIONS]
    query = select(
        hour,
        *dimensions,
        func.count(),
        func.coalesce(func.sum(events.c.input_tokens), 0),
        func.coalesce(func.sum(events.c.output_tokens), 0),
    ).group_by(hour, *dimensions)
    if end is not None:
        query = query.where(events.c.ts < end)
    rows = [
        {
            "hour": _as_hour(row[0]),
            **dict(zip(DIMENSIONS, row[1 : 1 + len(DIMENSIONS)], strict=True)),
            **dict(zip(MEASURES, (int(v) for v in row[1 + len(DIMENSIONS) :]), strict=True)),
        }
        for row in conn.execute(query)
    ]
    if rows:
        conn.execute(insert(_ROLLUP), rows)


def answers(equals: dict[str, Any], other_filters: Sequence[Any]) -> bool:
    """Whether the roll-up can answer a filter: only dimension equalities and a time range."""
    return not any(value is not None for value in other_filters) and set(equals) <= set(DIMENSIONS)


def whole_hours(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The whole hours inside [since, until): the roll-up covers those; the events table the rest."""
    first = None if since is None else hour_of(since) + (timedelta(hours=1) if since != hour_of(since) else timedelta())
    end = None if until is None else hour_of(until)
    return first, end


def rollup_cube(
    conn: Connection, equals: dict[str, Any], first: datetime | None, end: datetime | None, bucket: str
) -> list[tuple[Any, ...]]:
    """Rows ``(use_label, decision, tool, vendor, team, bucket key, events, input, output)`` from
    the roll-up, in the shape of the events-table cube."""
    bucket_key = bucket_column(conn.dialect.name, bucket, _ROLLUP.c.hour)
    keys = [_ROLLUP.c[name] for name in ("use_label", "decision", "tool", "vendor", "team")]
    query = select(*keys, bucket_key, *(func.sum(_ROLLUP.c[name]) for name in MEASURES)).group_by(*keys, bucket_key)
    for name, value in equals.items():
        query = query.where(_ROLLUP.c[name] == (NONE_KEY if value is None else value))
    if first is not None:
        query = query.where(_ROLLUP.c.hour >= first)
    if end is not None:
        query = query.where(_ROLLUP.c.hour < end)
    return [(*(None if key == NONE_KEY else key for key in row[:5]), row[5], *row[6:]) for row in conn.execute(query)]


def bucket_column(dialect: str, bucket: str, ts: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    """The start of the hour or day of ``ts``, as ISO text (the same on both databases)."""
    if dialect == "postgresql":
        return func.to_char(
            func.date_trunc(bucket, func.timezone("UTC", ts)),
            'YYYY-MM-DD"T"HH24:00:00' if bucket == "hour" else 'YYYY-MM-DD"T"00:00:00',
        )
    pattern = "%Y-%m-%dT%H:00:00" if bucket == "hour" else "%Y-%m-%dT00:00:00"
    return func.strftime(pattern, ts)


def _hour_column(dialect: str, ts: ColumnElement[Any]) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", ts))  # naive UTC; _as_hour marks it UTC
    return func.strftime("%Y-%m-%d %H:00:00", ts)


def _as_hour(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return hour_of(value)
