"""The alerts table as the alert evaluator and its deliveries use it.

The evaluator reads signal hits changed after its cursor (``updated_at``, ``id``) and raises
alerts in **one transaction** that also moves the cursor: a crash leaves both as they were, so a
hit is never judged twice or skipped. The cursor's row is locked (``FOR UPDATE`` on PostgreSQL;
SQLite has one writer at a time anyway), so two evaluators on one database take turns instead of
raising the same alert twice. The alerts already raised are the cooldown's memory, so it holds
across restarts. Delivery cursors (one per sink, on the alert ``id``) live in the same table as
the SIEM feed's; ids are assigned under that lock, so they are committed in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from proxy.store.cursors import advance_position, read_position
from proxy.store.db import Database
from proxy.store.models import EventRow, SettingRow
from proxy.store.signal_models import AlertRow, SignalHitRow
from proxy.store.signal_views import ALERT_FIELDS

HITS_CURSOR_KEY = "alerts_hits_cursor"
DELIVERY_CURSOR_PREFIX = "alerts_delivered_id:"  # + the sink's name
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Hit:
    """A signal hit as the rules see it."""

    id: int
    signal: str
    scope_kind: str
    scope: str
    score: float
    principals: list[Any]
    event_ids: list[Any]
    detail: dict[str, Any]
    window_start: datetime
    window_end: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewAlert:
    rule: str
    hit: Hit
    threshold: float
    summary: str


class Ledger:
    """What a judge may ask and do inside the evaluator's transaction."""

    def __init__(self, session: Session, now: datetime) -> None:
        self._session = session
        self.now = now
        self.raised: list[int] = []

    def last_raised(self, rule: str, scope_kind: str, scope: str) -> datetime | None:
        """When the newest alert of ``rule`` on this scope was raised (this transaction's included)."""
        query = (
            select(AlertRow.created_at)
            .where(AlertRow.rule == rule, AlertRow.scope_kind == scope_kind, AlertRow.scope == scope)
            .order_by(AlertRow.created_at.desc())
            .limit(1)
        )
        return self._session.scalars(query).first()

    def tools(self, event_ids: Iterable[Any]) -> set[str]:
        """The tools the calls ``event_ids`` were made with."""
        ids = [str(event_id) for event_id in event_ids]
        if not ids:
            return set()
        rows = self._session.scalars(select(EventRow.tool).where(EventRow.id.in_(ids)).distinct())
        return {tool for tool in rows if tool}

    def raise_alert(self, alert: NewAlert) -> None:
        hit = alert.hit
        row = AlertRow(
            rule=alert.rule,
            signal=hit.signal,
            scope_kind=hit.scope_kind,
            scope=hit.scope,
            score=hit.score,
            threshold=alert.threshold,
            hit_id=hit.id,
            principals=list(hit.principals),
            event_ids=list(hit.event_ids),
            summary=alert.summary,
            created_at=self.now,
        )
        self._session.add(row)
        self._session.flush()  # its id, and visible to last_raised for the next hit
        self.raised.append(row.id)


Judge = Callable[[Hit, Ledger], None]


def evaluate_hits(engine: Database, judge: Judge, limit: int = 500) -> tuple[int, list[int]]:
    """Show ``judge`` the next ``limit`` hits after the cursor; returns (hits read, alert ids raised)."""
    _ensure_row(engine, HITS_CURSOR_KEY, _format_hits_cursor(_EPOCH, 0))
    with Session(engine) as session, session.begin():
        cursor = session.scalars(select(SettingRow).where(SettingRow.key == HITS_CURSOR_KEY).with_for_update()).one()
        after_ts, after_id = _parse_hits_cursor(cursor.value)
        hits = session.scalars(
            select(SignalHitRow)
            .where(
                or_(
                    SignalHitRow.updated_at > after_ts,
                    and_(SignalHitRow.updated_at == after_ts, SignalHitRow.id > after_id),
                )
            )
            .order_by(SignalHitRow.updated_at, SignalHitRow.id)
            .limit(limit)
        ).all()
        ledger = Ledger(session, datetime.now(UTC))
        for row in hits:
            judge(_hit(row), ledger)
        if hits:
            cursor.value = _format_hits_cursor(hits[-1].updated_at, hits[-1].id)
    return len(hits), ledger.raised


def alert_dicts(session: Session, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Alerts raised after ``after_id``, oldest first (what a delivery sends next)."""
    rows = session.scalars(select(AlertRow).where(AlertRow.id > after_id).order_by(AlertRow.id).limit(limit))
    return [{name: getattr(row, name) for name in ALERT_FIELDS} for row in rows]


def next_alerts(engine: Database, sink: str, limit: int) -> list[dict[str, Any]]:
    """The alerts ``sink`` has not taken yet, oldest first."""
    with Session(engine) as session:
        return alert_dicts(session, read_position(session, DELIVERY_CURSOR_PREFIX + sink), limit)


def mark_alerts_delivered(engine: Database, sink: str, last_id: int) -> None:
    """Move the cursor of ``sink`` to ``last_id`` (only ever forward)."""
    with Session(engine) as session:
        advance_position(session, DELIVERY_CURSOR_PREFIX + sink, last_id)
        session.commit()


def acknowledge(session: Session, alert_id: int, actor: str) -> dict[str, Any] | None:
    """Mark an alert seen by ``actor``; the first acknowledgement stays (a second, even a
    concurrent one, changes nothing). None: no such alert."""
    session.execute(
        update(AlertRow)
        .where(AlertRow.id == alert_id, AlertRow.acknowledged_at.is_(None))
        .values(acknowledged_at=datetime.now(UTC), acknowledged_by=actor)
    )
    session.commit()
    row = session.get(AlertRow, alert_id)
    return None if row is None else {name: getattr(row, name) for name in ALERT_FIELDS}


def _hit(row: SignalHitRow) -> Hit:
    return Hit(
        id=row.id,
        signal=row.signal,
        scope_kind=row.scope_kind,
        scope=row.scope,
        score=row.score,
        principals=list(row.principals or []),
        event_ids=list(row.event_ids or []),
        detail=dict(row.detail or {}),
        window_start=row.window_start,
        window_end=row.window_end,
        updated_at=row.updated_at,
    )


def _ensure_row(engine: Database, key: str, value: str) -> None:
    with Session(engine) as session:
        if session.get(SettingRow, key) is not None:
            return
        session.add(SettingRow(key=key, value=value))
        try:
            session.commit()
        except IntegrityError:  # another evaluator created it first
            session.rollback()


def _format_hits_cursor(updated_at: datetime, hit_id: int) -> str:
    return f"{updated_at.astimezone(UTC).isoformat()}|{hit_id}"


def _parse_hits_cursor(value: str) -> tuple[datetime, int]:
    moment, _, hit_id = value.partition("|")
    return datetime.fromisoformat(moment), int(hit_id)
