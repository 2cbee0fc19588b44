"""SQLAlchemy models of the event store (the schema itself lives in ``migrations/``).

``events`` holds one row per call with every scalar field of
:class:`proxy.events.Event`; the bodies go to ``event_bodies`` under the
retention setting. ``seq``/``record_hash``/``prev_hash``/``signature`` are the
provenance chain's columns, filled by the :class:`proxy.hooks.Chainer`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# The security team's questions: who / which session / which use / what decision ... over time.
INDEXED_WITH_TS = ("principal", "session_id", "use_label", "decision", "tool", "vendor", "team", "outcome")
# Event fields that are not columns of ``events`` (stored in ``event_bodies``).
BODY_FIELDS = ("request_body", "instruction", "completion_text", "thinking_text", "tool_calls")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store only takes timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7 text
    ts: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    vendor: Mapped[str | None] = mapped_column(String(32))
    endpoint: Mapped[str | None] = mapped_column(String(64))
    principal: Mapped[str | None] = mapped_column(String(255))
    principal_kind: Mapped[str | None] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(255))
    tool: Mapped[str | None] = mapped_column(String(64))
    tool_version: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(255))
    side_call: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(255))
    stream: Mapped[bool] = mapped_column(Boolean)
    turn_count: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    use_label: Mapped[str | None] = mapped_column(String(64))
    scores: Mapped[dict[str, Any]]
    rule_hits: Mapped[list[Any]]
    policy_rule: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[int | None] = mapped_column(Integer)
    upstream_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    vendor_request_id: Mapped[str | None] = mapped_column(String(255))
    response_id: Mapped[str | None] = mapped_column(String(255))
    response_model: Mapped[str | None] = mapped_column(String(255))
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cache_read_tokens: Mapped[int | None] = mapped_column(Integer)
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    response_sha256: Mapped[str | None] = mapped_column(String(64))
    output_truncated: Mapped[bool] = mapped_column(Boolean)
    instruction_sha256: Mapped[str | None] = mapped_column(String(64))
    completion_sha256: Mapped[str | None] = mapped_column(String(64))
    thinking_sha256: Mapped[str | None] = mapped_column(String(64))
    record_version: Mapped[int | None] = mapped_column(Integer)  # NULL: sealed before version 2
    # provenance chain
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    record_hash: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_events_ts", "ts"),
        *(Index(f"ix_events_{column}_ts", column, "ts") for column in INDEXED_WITH_TS),
    )


class EventBodyRow(Base):
    __tablename__ = "event_bodies"

    event_id: Mapped[str] = mapped_column(String(36), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    # zstd-compressed; request_body holds the raw bytes the client sent.
    request_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    instruction: Mapped[bytes | None] = mapped_column(LargeBinary)
    completion_text: Mapped[bytes | None] = mapped_column(LargeBinary)
    thinking_text: Mapped[bytes | None] = mapped_column(LargeBinary)
    tool_calls: Mapped[list[Any] | None]
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC-SHA256(salt, key), hex
    key_prefix: Mapped[str] = mapped_column(String(16))  # shown in listings; never the whole key
    user: Mapped[str] = mapped_column(String(255))
    team: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class CheckpointRow(Base):
    """Signed tree heads of the provenance chain (filled by the provenance module)."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)


class EventRollupRow(Base):
    """Event counts and token sums per UTC hour, scope ("" or one filter value, "principal=alice")
    and breakdown value (:mod:`proxy.store.stats_rollup`); a NULL value is stored as ""."""

    __tablename__ = "event_rollup"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    breakdown: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)

    # Covers the console's "most active people": one breakdown across every principal scope,
    # without reading the other breakdowns' rows of each hour (migration 0008).
    __table_args__ = (Index("ix_event_rollup_breakdown_scope", "breakdown", "scope", "hour", "value", "events"),)


class RejectedRecordRow(Base):
    """A tombstone: a sealed record the database refused to store as an event.

    It keeps the record's place in the chain (seq, hashes) and the canonical form its hash was
    computed over, so the chain, the checkpoints and ``verify`` go on through it, and says why.
    The full record is also in the spool's ``rejected.jsonl``."""

    __tablename__ = "rejected_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36))
    record_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    canonical: Mapped[str] = mapped_column(Text)  # the sealed canonical JSON (ASCII: storable anywhere)
    error: Mapped[str] = mapped_column(Text)
    rejected_at: Mapped[datetime]


class SettingRow(Base):
    """Generated, shared secrets (the key salt when none is configured): every replica reads the same."""

    __tablename__ = "settings_kv"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
