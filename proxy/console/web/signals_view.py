"""Distillation signals and alerts for the pages. Their tables are filled by the signal work (in
progress elsewhere): empty tables render as "none", and a database that cannot answer (a schema
not yet migrated) as "unavailable" rather than a broken page."""

from __future__ import annotations

from typing import Any

from proxy.store.errors import StoreError
from proxy.store.signal_views import list_alerts, principal_signals


def alerts_or_none(session: Any, limit: int = 10, principal: str | None = None) -> list[dict[str, Any]] | None:
    """Recent alerts, newest first (None: unavailable)."""
    try:
        return list_alerts(session, limit=limit, principal=principal)
    except StoreError:
        session.rollback()
        return None


def signals_or_none(session: Any, principal: str) -> list[dict[str, Any]] | None:
    """Every signal hit naming ``principal`` (None: unavailable)."""
    try:
        return principal_signals(session, principal)
    except StoreError:
        session.rollback()
        return None
