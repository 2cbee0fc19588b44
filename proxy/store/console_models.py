"""Tables of the security team's console: admin tokens, the access log, triage verdicts.

The full-text index (``event_search``) is not modelled here: it is an FTS5
virtual table on SQLite and a tsvector table on PostgreSQL, created by the
``0005_console`` migration and spoken to only by :mod:`proxy.store.search`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from proxy.store.models import Base

SEARCH_TABLE = "event_search"


class AdminTokenRow(Base):
    __tablename__ = "admin_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC-SHA256(salt, token), hex
    token_prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AccessLogRow(Base):
    """Every body read and every change made through the console, hash-chained like the events."""

    __tablename__ = "access_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC text: hashed exactly as stored
    actor: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    record_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))


class TriageVerdictRow(Base):
    """A verdict on a flagged call; appended, never overwriting the event's own decision."""

    __tablename__ = "triage_verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    verdict: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    ts: Mapped[datetime]

    __table_args__ = (Index("ix_triage_verdicts_event_id", "event_id", "id"),)
