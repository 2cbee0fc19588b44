"""Hourly roll-up of event counts and tokens, so that the console's statistics over a month of
traffic read a few thousand rows instead of scanning a million events.

``event_rollup`` holds, per UTC hour, per *scope* and per breakdown (label, decision, tool,
vendor, team) and its value: how many events there were and their token sums. A scope is what
a statistics query may be narrowed to: everything (``""``), or one value of one filter
(``"principal=alice"``, ``"decision=flag"``, …). So one query reads one scope's rows only,
about 25 per hour, whatever the traffic; narrowing by two filters at once, or by one the
roll-up does not hold (model, session, text…), reads the events table instead.

The loader keeps it in step inside its insert transaction, counting only the events that
insert really added (a replayed record is ignored by the insert, so it must not be counted
twice). ``purge`` of events recounts the hours it touched. A query reads the roll-up for the
whole hours inside its time range and the events table only for the partial hours at the
edges, so the figures are exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from proxy.store.models import EventRollupRow, EventRow

# Breakdown name -> events column. "decision" also gives the totals: every event has exactly one.
BREAKDOWNS = {"label": "use_label", "decision": "decision", "tool": "tool", "vendor": "vendor", "team": "team"}
# Filter field -> events column: a query narrowed by one of these reads that scope of the roll-up.
SCOPES = {
    "principal": "principal",
    "team": "team",
    "tool": "tool",
    "vendor": "vendor",
    "label": "use_label",
    "decision": "decision",
}
MEASURES = ("events", "input_tokens", "output_tokens")
NONE_VALUE = ""  # NULL in a breakdown: stored as "" so the key stays unique
_ROLLUP: Table = EventRollupRow.__table__  # type: ignore[assignment]
_EVENTS: Table = EventRow.__table__  # type: ignore[assignment]


def hour_of(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def scope_of(filters: dict[str, Any]) -> str | None:
    """The scope answering these filter values (None: the roll-up cannot answer them)."""
    chosen = {name: value for name, value in filters.items() if value is not None}
    if not chosen:
        return ""
    if len(chosen) > 1 or not set(chosen) <= set(SCOPES):
        return None
    ((name, value),) = chosen.items()
    return f"{name}={value}"


def add_events(conn: Connection, events: Iterable[dict[str, Any]]) -> None:
    """Count newly inserted event rows into their hours (one upsert per distinct key)."""
    sums: dict[tuple[str, datetime, str, str], list[int]] = {}
    for event in events:
        hour = hour_of(event["ts"])
        measures = (1, event.get("input_tokens") or 0, event.get("output_tokens") or 0)
        scopes = [""] + [f"{name}={event[column]}" for name, column in SCOPES.items() if event.get(column)]
        for scope in scopes:
            for breakdown, column in BREAKDOWNS.items():
                into = sums.setdefault((scope, hour, breakdown, event.get(column) or NONE_VALUE), [0, 0, 0])
                for i, value in enumerate(measures):
                    into[i] += value
    if not sums:
        return
    rows = [
        {"scope": k[0], "hour": k[1], "breakdown": k[2], "value": k[3], **dict(zip(MEASURES, m, strict=True))}
        for k, m in sums.items()
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_ROLLUP)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["scope", "hour", "breakdown", "value"],
            set_={name: _ROLLUP.c[name] + statement.excluded[name] for name in MEASURES},
        ),
        rows,
    )


def rebuild(conn: Connection, before: datetime | None = None) -> None:
    """Recount the hours up to the one holding ``before`` (every hour when None) from the events."""
    end = None if before is None else hour_of(before) + timedelta(hours=1)
    stale = delete(_ROLLUP)
    if end is not None:
        stale = stale.where(_ROLLUP.c.hour < end)
    conn.execute(stale)
    hour = _hour_column(conn.dialect.name)
    for scope_name in (None, *SCOPES):
        scope_column = None if scope_name is None else _EVENTS.c[SCOPES[scope_name]]
        scope = literal("") if scope_column is None else literal(f"{scope_name}=") + scope_column
        for breakdown, column in BREAKDOWNS.items():
            value = func.coalesce(_EVENTS.c[column], NONE_VALUE)
            query = select(
                scope,
                hour,
                literal(breakdown),
                value,
                func.count(),
                func.coalesce(func.sum(_EVENTS.c.input_tokens), 0),
                func.coalesce(func.sum(_EVENTS.c.output_tokens), 0),
            ).group_by(hour, value, *([] if scope_column is None else [scope_column]))
            if scope_column is not None:
                query = query.where(scope_column.is_not(None), scope_column != "")
            if end is not None:
                query = query.where(_EVENTS.c.ts < end)
            columns = ["scope", "hour", "breakdown", "value", *MEASURES]
            conn.execute(_ROLLUP.insert().from_select(columns, query))


def whole_hours(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The whole hours inside [since, until): the roll-up covers those; the events table the rest."""
    first = None if since is None else hour_of(since) + (timedelta(hours=1) if since != hour_of(since) else timedelta())
    end = None if until is None else hour_of(until)
    return first, end


def rollup_rows(
    conn: Connection, scope: str, first: datetime | None, end: datetime | None, bucket: str
) -> list[tuple[Any, ...]]:
    """``(breakdown, value, bucket key, events, input_tokens, output_tokens)`` of one scope."""
    key = bucket_column(conn.dialect.name, bucket, _ROLLUP.c.hour)
    query = (
        select(_ROLLUP.c.breakdown, _ROLLUP.c.value, key, *(func.sum(_ROLLUP.c[name]) for name in MEASURES))
        .where(_ROLLUP.c.scope == scope)
        .group_by(_ROLLUP.c.breakdown, _ROLLUP.c.value, key)
    )
    if first is not None:
        query = query.where(_ROLLUP.c.hour >= first)
    if end is not None:
        query = query.where(_ROLLUP.c.hour < end)
    return [(row[0], None if row[1] == NONE_VALUE else row[1], *row[2:]) for row in conn.execute(query)]


def bucket_column(dialect: str, bucket: str, ts: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    """The start of the hour or day of ``ts``, as ISO text (the same on both databases)."""
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(bucket, func.timezone("UTC", ts)), 'YYYY-MM-DD"T"HH24:00:00')
    pattern = "%Y-%m-%dT%H:00:00" if bucket == "hour" else "%Y-%m-%dT00:00:00"
    return func.strftime(pattern, ts)


def _hour_column(dialect: str) -> ColumnElement[Any]:
    """The hour of ``events.ts`` as the roll-up stores it (UTC)."""
    if dialect == "postgresql":
        return func.timezone("UTC", func.date_trunc("hour", func.timezone("UTC", _EVENTS.c.ts)))
    return func.strftime("%Y-%m-%d %H:00:00.000000", _EVENTS.c.ts)  # SQLAlchemy's SQLite datetime text


def principal_decisions(conn: Connection, first: datetime | None, end: datetime | None) -> list[tuple[str, str, int]]:
    """``(principal, decision, events)`` over the whole hours [first, end), from the roll-up."""
    # Every "principal=…" scope, as a range of the primary key's leading column (a LIKE would not
    # use the index on SQLite): ">" is the character after "=".
    query = (
        select(_ROLLUP.c.scope, _ROLLUP.c.value, func.sum(_ROLLUP.c.events))
        .where(_ROLLUP.c.scope >= "principal=", _ROLLUP.c.scope < "principal>", _ROLLUP.c.breakdown == "decision")
        .group_by(_ROLLUP.c.scope, _ROLLUP.c.value)
    )
    if first is not None:
        query = query.where(_ROLLUP.c.hour >= first)
    if end is not None:
        query = query.where(_ROLLUP.c.hour < end)
    return [(row[0].removeprefix("principal="), row[1], int(row[2])) for row in conn.execute(query)]
