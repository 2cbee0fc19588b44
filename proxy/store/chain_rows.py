"""Reads of the provenance chain's columns of ``events`` (``seq``, ``record_hash``, ``prev_hash``).

Callers name the content fields they want after those three (the provenance's
canonical fields), so the store need not know which fields are hashed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select

from proxy.store.db import Database
from proxy.store.models import EventRow

# Rows fetched per round trip when streaming the chain.
STREAM_BATCH = 5000
_EVENTS = EventRow.__table__
_LINK_COLUMNS = ("seq", "record_hash", "prev_hash")


def last_sealed(database: Database) -> tuple[int, str] | None:
    """``(seq, record_hash)`` of the highest sealed row, None when nothing is sealed."""
    with database.connect() as conn:
        row = conn.execute(
            select(_EVENTS.c.seq, _EVENTS.c.record_hash)
            .where(_EVENTS.c.seq.is_not(None))
            .order_by(_EVENTS.c.seq.desc())
            .limit(1)
        ).first()
    return (int(row[0]), str(row[1])) if row is not None else None


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
    """``(seq, record_hash, prev_hash)`` in seq order."""
    seq_column = _EVENTS.c.seq
    query = select(seq_column, _EVENTS.c.record_hash, _EVENTS.c.prev_hash).where(seq_column > after_seq)
    if up_to_seq is not None:
        query = query.where(seq_column <= up_to_seq)
    with database.connect() as conn:
        result = conn.execute(query.order_by(seq_column), execution_options={"yield_per": STREAM_BATCH})
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
    return None if value is None else str(value)


def chain_row_by_id(database: Database, fields: Sequence[str], event_id: str) -> Sequence[Any] | None:
    """``(seq, record_hash, prev_hash, *fields)`` of one event, None if there is none."""
    columns = [_EVENTS.c[name] for name in (*_LINK_COLUMNS, *fields)]
    with database.connect() as conn:
        return conn.execute(select(*columns).where(EventRow.id == event_id)).first()
