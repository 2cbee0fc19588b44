"""Reads of the provenance chain's columns of ``events`` (``seq``, ``record_hash``, ``prev_hash``).

Callers name the content fields they want after those three (the provenance's
canonical fields), so the store need not know which fields are hashed. A chain
position can also be held by a tombstone (``rejected_records``: a sealed record the
database refused), which the reads of positions and hashes include.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import func, select, union_all

from proxy.store.db import Database
from proxy.store.models import EventRow, RejectedRecordRow

# Rows fetched per round trip when streaming the chain.
STREAM_BATCH = 5000
_EVENTS = EventRow.__table__
_STONES = RejectedRecordRow.__table__
_LINK_COLUMNS = ("seq", "record_hash", "prev_hash")


def last_sealed(database: Database) -> tuple[int, str] | None:
    """``(seq, record_hash)`` of the highest sealed position (an event or a tombstone), None when
    nothing is sealed."""
    highest = None
    with database.connect() as conn:
        for table in (_EVENTS, _STONES):
            row = conn.execute(
                select(table.c.seq, table.c.record_hash)
                .where(table.c.seq.is_not(None))
                .order_by(table.c.seq.desc())
                .limit(1)
            ).first()
            if row is not None and (highest is None or int(row[0]) > highest[0]):
                highest = (int(row[0]), str(row[1]))
    return highest


def stream_chain_rows(database: Database, fields: Sequence[str], after_seq: int) -> Iterator[Sequence[Any]]:
    """Rows ``(seq, record_hash, prev_hash, *fields)`` with seq > after_seq, in seq order,
    streamed in batches (server-side cursor on PostgreSQL).

    Values come as the driver returns them, without SQLAlchemy's type processing
    (the verify hot path): ``ts`` may be SQLite text, booleans 0/1."""
    columns = [_EVENTS.c[name] for name in (*_LINK_COLUMNS, *fields)]
    query = select(*columns).where(EventRow.seq > int(after_seq)).order_by(EventRow.seq)
    with database.connect() as conn:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        # Per statement: Connection.execution_options() would change the connection itself.
        result = conn.exec_driver_sql(sql, execution_options={"stream_results": True, "yield_per": STREAM_BATCH})
        for partition in result.partitions():
            yield from partition


def stream_record_hashes(
    database: Database, after_seq: int, up_to_seq: int | None = None
) -> Iterator[tuple[int, str, str]]:
    """``(seq, record_hash, prev_hash)`` of every position, tombstones included, in seq order."""
    parts = []
    for table in (_EVENTS, _STONES):
        part = select(table.c.seq, table.c.record_hash, table.c.prev_hash).where(table.c.seq > after_seq)
        if up_to_seq is not None:
            part = part.where(table.c.seq <= up_to_seq)
        parts.append(part)
    positions = union_all(*parts).subquery()
    query = select(positions.c.seq, positions.c.record_hash, positions.c.prev_hash).order_by(positions.c.seq)
    with database.connect() as conn:
        result = conn.execute(query, execution_options={"yield_per": STREAM_BATCH})
        for partition in result.partitions():
            for seq, digest, prev in partition:
                yield int(seq), str(digest), str(prev)


def first_unsealed(database: Database) -> tuple[int, str | None]:
    """How many rows have no chain position, and the id of one of them."""
    unsealed = EventRow.seq.is_(None)
    with database.connect() as conn:
        count = conn.execute(select(func.count()).select_from(_EVENTS).where(unsealed)).scalar_one()
        first = conn.execute(select(EventRow.id).where(unsealed).order_by(EventRow.ts).limit(1)).scalar()
    return int(count), None if first is None else str(first)


def record_hash_at(database: Database, seq: int) -> str | None:
    with database.connect() as conn:
        value = conn.execute(select(EventRow.record_hash).where(EventRow.seq == seq)).scalar_one_or_none()
        if value is None:
            value = conn.execute(select(_STONES.c.record_hash).where(_STONES.c.seq == seq)).scalar_one_or_none()
    return None if value is None else str(value)


class Tombstone(NamedTuple):
    seq: int
    event_id: str
    record_hash: str
    prev_hash: str
    canonical: bytes
    error: str


def tombstones_after(database: Database, after_seq: int) -> dict[int, Tombstone]:
    """The tombstones after ``after_seq``, by seq (few: each is a record the database refused)."""
    columns = (_STONES.c[name] for name in Tombstone._fields)
    with database.connect() as conn:
        rows = conn.execute(select(*columns).where(_STONES.c.seq > after_seq)).all()
    return {
        int(seq): Tombstone(int(seq), str(event_id), str(digest), str(prev), str(canonical).encode(), str(error))
        for seq, event_id, digest, prev, canonical, error in rows
    }


def chain_row_by_id(database: Database, fields: Sequence[str], event_id: str) -> Sequence[Any] | None:
    """``(seq, record_hash, prev_hash, *fields)`` of one event, None if there is none."""
    columns = [_EVENTS.c[name] for name in (*_LINK_COLUMNS, *fields)]
    with database.connect() as conn:
        return conn.execute(select(*columns).where(EventRow.id == event_id)).first()
