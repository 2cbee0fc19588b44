"""Events matching a filter, streamed oldest first in batches, for exports: never all in memory.

Columns are described by kind (text, integer, real, boolean, time, json) so writers outside the
store can type their output without knowing the schema's SQL types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, func, select
from sqlalchemy.orm import Session

from proxy.store.event_query import EventFilter, filtered
from proxy.store.models import EventBodyRow, EventRow, UTCDateTime
from proxy.store.rows import decompress

BATCH = 1000
BODY_TEXT = ("instruction", "completion_text", "thinking_text", "request_body")


def _kind(column: Any) -> str:
    sql_type = column.type
    if isinstance(sql_type, UTCDateTime):
        return "time"
    if isinstance(sql_type, JSON):
        return "json"
    if isinstance(sql_type, Boolean):
        return "boolean"
    if isinstance(sql_type, Integer):  # BigInteger included
        return "integer"
    if isinstance(sql_type, Float):
        return "real"
    return "text"


EVENT_KINDS = [(column.name, _kind(column)) for column in EventRow.__table__.columns]


def export_columns(bodies: bool) -> list[tuple[str, str]]:
    """``(name, kind)`` of every exported column, in order."""
    return EVENT_KINDS + ([(name, "text") for name in BODY_TEXT] + [("tool_calls", "json")] if bodies else [])


def count_matching(session: Session, f: EventFilter) -> int:
    """How many events an export of ``f`` will write (for a progress bar)."""
    dialect = session.get_bind().dialect.name
    return int(session.scalar(filtered(f, dialect, select(func.count()).select_from(EventRow))) or 0)


def export_batches(session: Session, f: EventFilter, bodies: bool) -> Iterator[list[dict[str, Any]]]:
    """Lists of at most BATCH events matching ``f`` (its limit ignored), oldest first."""
    dialect = session.get_bind().dialect.name
    query = filtered(f, dialect, select(EventRow, EventBodyRow) if bodies else select(EventRow))
    if bodies:
        query = query.outerjoin(EventBodyRow, EventBodyRow.event_id == EventRow.id)
    result = session.execute(query.order_by(EventRow.ts, EventRow.id)).yield_per(BATCH)
    for partition in result.partitions():
        yield [_row(found, bodies) for found in partition]


def _row(found: Any, bodies: bool) -> dict[str, Any]:
    event = found[0]
    row = {name: getattr(event, name) for name, _ in EVENT_KINDS}
    if bodies:
        body = found[1]
        for name in BODY_TEXT:
            raw = None if body is None else decompress(getattr(body, name))
            row[name] = None if raw is None else raw.decode("utf-8", errors="replace")
        row["tool_calls"] = None if body is None else body.tool_calls
    return row
