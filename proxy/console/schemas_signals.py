"""Response shapes of the signals and alerts routes (``routes_signals``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

ScopeKind = Literal["principal", "team", "group"]


class SignalHitOut(BaseModel):
    id: int
    signal: str
    scope_kind: str
    scope: str
    window_start: datetime
    window_end: datetime
    score: float
    principals: list[str]
    event_ids: list[str]
    detail: dict[str, Any]
    updated_at: datetime


class PrincipalSignalsOut(BaseModel):
    principal: str
    signals: list[SignalHitOut]


class AlertOut(BaseModel):
    id: int
    rule: str
    signal: str
    scope_kind: str
    scope: str
    score: float
    threshold: float
    hit_id: int
    principals: list[str]
    event_ids: list[str]
    summary: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
