"""The one event filter, shared by ``provproxy events`` and the console API.

Pages are keyset pages over ``(ts, id)`` newest first: a cursor names the last
row shown, so rows inserted meanwhile never shift a later page (no row is
repeated or skipped, unlike ``OFFSET``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from proxy.store.models import EventRow
from proxy.store.search import matching

MAX_LIMIT = 10_000
QueryT = TypeVar("QueryT", bound=Select)


@dataclass(slots=True)
class EventFilter:
    principal: str | None = None  # the user
    team: str | None = None
    tool: str | None = None
    vendor: str | None = None
    model: str | None = None
    session: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    decision: str | None = None
    label: str | None = None
    policy_rule: str | None = None
    text: str | None = None  # full-text search over the instruction and the completion
    limit: int = 100
    offset: int = 0


# Filter field → column compared for equality.
EQUALS = {
    "principal": EventRow.principal,
    "team": EventRow.team,
    "tool": EventRow.tool,
    "vendor": EventRow.vendor,
    "model": EventRow.model,
    "session": EventRow.session_id,
    "outcome": EventRow.outcome,
    "decision": EventRow.decision,
    "label": EventRow.use_label,
    "policy_rule": EventRow.policy_rule,
}
EVENT_COLUMNS = [column.name for column in EventRow.__table__.columns]


class BadCursor(ValueError):
    """A cursor this module did not issue."""


def filtered(f: EventFilter, dialect: str, query: QueryT) -> QueryT:
    """``query`` narrowed by every filter set in ``f``."""
    for name, column in EQUALS.items():
        value = getattr(f, name)
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(EventRow.ts >= utc(f.since))
    if f.until is not None:
        query = query.where(EventRow.ts < utc(f.until))
    if f.text:
        query = query.where(matching(dialect, f.text))
    return query


def newest_first(f: EventFilter, dialect: str) -> Select[Any]:
    return filtered(f, dialect, select(EventRow)).order_by(EventRow.ts.desc(), EventRow.id.desc())


def page_events(session: Session, f: EventFilter, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One keyset page of events matching ``f`` after ``cursor``, and the cursor of the next page."""
    limit = max(1, min(f.limit, MAX_LIMIT))
    query = newest_first(f, _dialect(session))
    if cursor:
        ts, event_id = decode_cursor(cursor)
        query = query.where(or_(EventRow.ts < ts, and_(EventRow.ts == ts, EventRow.id < event_id)))
    rows = [event_dict(row) for row in session.scalars(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["ts"], rows[-1]["id"]) if more else None


def encode_cursor(ts: datetime, event_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([utc(ts).isoformat(), event_id])).decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        ts_text, event_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return utc(datetime.fromisoformat(ts_text)), str(event_id)
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        raise BadCursor("invalid cursor") from None


def event_dict(row: EventRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EVENT_COLUMNS}


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
