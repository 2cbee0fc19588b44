"""Tables of the signal engine's incremental state (migration ``0008``), so that a restart resumes
where the engine stopped without rescanning the events.

``signal_instructions``: one row per distinct instruction (``instruction_sha256``) a principal sent
in a UTC day — the prompt-sweep, reasoning, dataset, evasion and coordination signals count these,
not calls (an agent loop re-sends its instruction on every call). It keeps the instruction's
template cluster and its MinHash (so the LSH index is rebuilt on start), the flags the engine found
on it, how many calls carried it and the first of them (the evidence).

``signal_state``: small per-signal, per-scope, per-window state (the inter-arrival statistics of the
non-interactive-traffic signal), as JSON.

The engine's cursor (the last ``events.seq`` it processed) lives in ``settings_kv`` and moves in the
same transaction as these rows and the hits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from proxy.store.models import Base


class SignalInstructionRow(Base):
    __tablename__ = "signal_instructions"

    day: Mapped[datetime] = mapped_column(primary_key=True)  # UTC midnight: loads and prunes go by day
    principal: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha: Mapped[str] = mapped_column(String(64), primary_key=True)  # the event's instruction_sha256
    cluster: Mapped[str] = mapped_column(String(64))  # the template it belongs to (the sha itself without text)
    flags: Mapped[int] = mapped_column(Integer)  # proxy.signals.records flag bits
    calls: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(36))  # the first call that carried it
    ts: Mapped[datetime]
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: no text kept (metadata-only) or too short


class SignalStateRow(Base):
    __tablename__ = "signal_state"

    signal: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    data: Mapped[dict[str, Any]]
