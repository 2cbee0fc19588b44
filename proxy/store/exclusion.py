"""Every SQL statement of the training-set exclusion: recorded outputs to index, and the index itself.

Fingerprints are uint64; the database stores them as signed BIGINT (the same
64 bits), converted by the caller. A batch of sources, their units and their
fingerprints is written in one transaction with the indexer's progress, so an
interrupted ``exclude index`` resumes where its last batch committed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from proxy.store.models import Base, CheckpointRow, EventBodyRow, EventRow
from proxy.store.rows import decompress

# What the exclusion code holds to reach the database (it never imports SQLAlchemy itself).
Database = Engine
LAST_SEQ = "last_seq"
PARAMS = "params"


class ExclusionSourceRow(Base):
    __tablename__ = "exclusion_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    tool: Mapped[str | None] = mapped_column(String(64))
    principal: Mapped[str | None] = mapped_column(String(255))
    ts: Mapped[datetime | None]


class ExclusionUnitRow(Base):
    __tablename__ = "exclusion_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("exclusion_sources.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    fingerprints: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_exclusion_units_source", "source_id"),)


class ExclusionFingerprintRow(Base):
    __tablename__ = "exclusion_fingerprints"

    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("exclusion_units.id", ondelete="CASCADE"), primary_key=True)


class ExclusionStateRow(Base):
    __tablename__ = "exclusion_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class RecordedOutput:
    """One recorded call's vendor output, as the indexer reads it."""

    seq: int
    event_id: str
    tool: str | None
    principal: str | None
    ts: datetime
    completion_text: str | None
    tool_calls: list[dict[str, Any]] | None


@dataclass(frozen=True, slots=True)
class SourceMeta:
    source: str
    kind: str
    tool: str | None = None
    principal: str | None = None
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class IndexedSource:
    """A source and its units' fingerprints (signed 64-bit), ready to store."""

    meta: SourceMeta
    units: list[tuple[str, list[int]]]  # (language, fingerprints)


def recorded_outputs_after(engine: Engine, after_seq: int, batch: int) -> Iterator[list[RecordedOutput]]:
    """Recorded outputs with a body, by chain position, ``batch`` at a time (keyset pages)."""
    query = (
        select(
            EventRow.seq,
            EventRow.id,
            EventRow.tool,
            EventRow.principal,
            EventRow.ts,
            EventBodyRow.completion_text,
            EventBodyRow.tool_calls,
        )
        .join(EventBodyRow, EventBodyRow.event_id == EventRow.id)
        .where(EventRow.seq.is_not(None))
        .order_by(EventRow.seq)
        .limit(batch)
    )
    last = after_seq
    while True:
        with Session(engine) as session:
            rows = session.execute(query.where(EventRow.seq > last)).all()
        if not rows:
            return
        yield [
            RecordedOutput(row.seq, row.id, row.tool, row.principal, row.ts, _text(row.completion_text), row.tool_calls)
            for row in rows
        ]
        last = rows[-1].seq


def _text(data: bytes | None) -> str | None:
    raw = decompress(data)
    return None if raw is None else raw.decode("utf-8", errors="replace")


def last_event_seq(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.max(EventRow.seq))) or 0)


def latest_checkpoint(engine: Engine, up_to_seq: int) -> tuple[int, str, str] | None:
    """``(tree_size, root_hash, key_id)`` of the newest checkpoint within ``up_to_seq`` records."""
    with Session(engine) as session:
        row = session.scalars(
            select(CheckpointRow)
            .where(CheckpointRow.tree_size <= up_to_seq)
            .order_by(CheckpointRow.tree_size.desc())
            .limit(1)
        ).first()
    return None if row is None else (row.tree_size, row.root_hash, row.key_id)


def read_state(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {row.key: row.value for row in session.scalars(select(ExclusionStateRow))}


def store_sources(engine: Engine, sources: Sequence[IndexedSource], state: dict[str, str]) -> int:
    """Insert ``sources`` (a source already indexed is replaced) and ``state``, in one transaction.

    Returns how many fingerprint rows were written."""
    written = 0
    with Session(engine) as session, session.begin():
        names = [source.meta.source for source in sources]
        if names:
            session.execute(delete(ExclusionSourceRow).where(ExclusionSourceRow.source.in_(names)))
        for source in sources:
            meta = source.meta
            source_id = session.scalar(
                insert(ExclusionSourceRow)
                .values(source=meta.source, kind=meta.kind, tool=meta.tool, principal=meta.principal, ts=meta.ts)
                .returning(ExclusionSourceRow.id)
            )
            for language, fingerprints in source.units:
                unit_id = session.scalar(
                    insert(ExclusionUnitRow)
                    .values(source_id=source_id, language=language, fingerprints=len(fingerprints))
                    .returning(ExclusionUnitRow.id)
                )
                rows = [{"hash": value, "unit_id": unit_id} for value in fingerprints]
                if rows:
                    session.execute(insert(ExclusionFingerprintRow), rows)
                written += len(rows)
        for key, value in state.items():
            session.merge(ExclusionStateRow(key=key, value=value))
    return written


@dataclass(frozen=True, slots=True)
class StoredIndex:
    """The whole index as columns: units numbered by row id, fingerprints signed 64-bit."""

    fingerprint_hashes: list[int]
    fingerprint_units: list[int]
    unit_ids: list[int]
    unit_sources: list[int]
    unit_languages: list[str]
    unit_sizes: list[int]
    sources: dict[int, SourceMeta]


def load_index(engine: Engine) -> StoredIndex:
    with Session(engine) as session:
        fingerprints = session.execute(select(ExclusionFingerprintRow.hash, ExclusionFingerprintRow.unit_id)).all()
        units = session.execute(
            select(
                ExclusionUnitRow.id,
                ExclusionUnitRow.source_id,
                ExclusionUnitRow.language,
                ExclusionUnitRow.fingerprints,
            ).order_by(ExclusionUnitRow.id)
        ).all()
        sources = {
            row.id: SourceMeta(row.source, row.kind, row.tool, row.principal, row.ts)
            for row in session.scalars(select(ExclusionSourceRow))
        }
    return StoredIndex(
        [row[0] for row in fingerprints],
        [row[1] for row in fingerprints],
        [row[0] for row in units],
        [row[1] for row in units],
        [row[2] for row in units],
        [row[3] for row in units],
        sources,
    )
