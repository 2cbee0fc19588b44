"""Tables of the distillation signals and the alerts raised on them (migration ``0008``).

A *signal hit* is one signal's finding for one scope over one window — a principal's prompt
sweep this day, a template spread over several people — with its score and the events behind
it; the signal engine (:mod:`proxy.signals`) upserts it as traffic arrives. An *alert* is a hit
that crossed a rule's threshold (:mod:`proxy.alerts`), raised once per cooldown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from proxy.store.models import Base

SCOPE_KINDS = ("principal", "team", "group")  # group: several principals acting together


class SignalHitRow(Base):
    __tablename__ = "signal_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signal: Mapped[str] = mapped_column(String(32))
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(255))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    score: Mapped[float] = mapped_column(Float)
    principals: Mapped[list[Any]]  # every principal involved (one for a per-person signal)
    event_ids: Mapped[list[Any]]  # the evidence, newest last, capped by the engine
    detail: Mapped[dict[str, Any]]  # what the signal measured, in its own words (counts, baselines…)
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("signal", "scope_kind", "scope", "window_start", name="uq_signal_hits_window"),
        Index("ix_signal_hits_scope", "scope_kind", "scope", "updated_at"),
        Index("ix_signal_hits_updated", "updated_at", "id"),
    )


class AlertRow(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(255))
    signal: Mapped[str] = mapped_column(String(32))
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(255))
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    hit_id: Mapped[int] = mapped_column(Integer)
    principals: Mapped[list[Any]]
    event_ids: Mapped[list[Any]]
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        Index("ix_alerts_scope_rule", "rule", "scope_kind", "scope", "created_at"),
        Index("ix_alerts_created", "created_at", "id"),
    )
