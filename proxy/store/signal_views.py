"""Reads of the distillation signals and alerts, for the console API and pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from proxy.store.signal_models import AlertRow, SignalHitRow

HIT_FIELDS = ("id", "signal", "scope_kind", "scope", "window_start", "window_end", "score", "principals", "event_ids")
ALERT_FIELDS = (
    "id",
    "rule",
    "signal",
    "scope_kind",
    "scope",
    "score",
    "threshold",
    "hit_id",
    "principals",
    "event_ids",
    "summary",
    "created_at",
    "acknowledged_at",
    "acknowledged_by",
)


def _hit(row: SignalHitRow) -> dict[str, Any]:
    return {**{name: getattr(row, name) for name in HIT_FIELDS}, "detail": row.detail, "updated_at": row.updated_at}


def _alert(row: AlertRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ALERT_FIELDS}


def principal_signals(session: Session, principal: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every signal hit that names ``principal``: their own, and the groups they are part of
    (a group hit lists its principals; the scan over group hits is bounded by ``since``)."""
    own = select(SignalHitRow).where(SignalHitRow.scope_kind == "principal", SignalHitRow.scope == principal)
    groups = select(SignalHitRow).where(SignalHitRow.scope_kind == "group")
    if since is not None:
        own = own.where(SignalHitRow.updated_at >= since)
        groups = groups.where(SignalHitRow.updated_at >= since)
    hits = list(session.scalars(own)) + [row for row in session.scalars(groups) if principal in row.principals]
    hits.sort(key=lambda row: (row.score, row.updated_at), reverse=True)
    return [_hit(row) for row in hits]


def recent_signals(session: Session, limit: int = 50, signal: str | None = None) -> list[dict[str, Any]]:
    """The most recently updated hits, newest first."""
    query = select(SignalHitRow).order_by(SignalHitRow.updated_at.desc(), SignalHitRow.id.desc()).limit(limit)
    if signal is not None:
        query = query.where(SignalHitRow.signal == signal)
    return [_hit(row) for row in session.scalars(query)]


def signal_hit(session: Session, hit_id: int) -> dict[str, Any] | None:
    row = session.get(SignalHitRow, hit_id)
    return None if row is None else _hit(row)


def list_alerts(
    session: Session, limit: int = 100, open_only: bool = False, principal: str | None = None
) -> list[dict[str, Any]]:
    """Alerts, newest first; ``open_only``: not yet acknowledged; ``principal``: those naming them."""
    query = select(AlertRow).order_by(AlertRow.created_at.desc(), AlertRow.id.desc())
    if open_only:
        query = query.where(AlertRow.acknowledged_at.is_(None))
    if principal is not None:
        query = query.where(
            or_(AlertRow.scope == principal, AlertRow.scope_kind == "group")
        )  # group membership is checked below
    rows = [row for row in session.scalars(query.limit(limit * 4 if principal else limit))]
    if principal is not None:
        rows = [row for row in rows if row.scope == principal or principal in row.principals][:limit]
    return [_alert(row) for row in rows]
