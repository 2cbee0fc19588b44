from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table

from proxy.events import Event, new_event_id
from proxy.store.chain_rows import (
    chain_row_by_id,
    first_unsealed,
    last_sealed,
    record_hash_at,
    stream_chain_rows,
    stream_record_hashes,
)
from proxy.store.models import EventRow
from proxy.store.rows import event_row

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def digest(seq: int) -> str:
    return f"{seq:064x}"


def insert(engine: Engine, seqs: list[int | None]) -> list[Event]:
    """Events at T0 + i seconds, sealed at the given seq (None: unsealed), linked by fake hashes."""
    events = [
        Event(id=new_event_id(), ts=T0 + timedelta(seconds=i), method="POST", path="/v1/messages", status=200 + i)
        for i in range(len(seqs))
    ]
    rows = [
        event_row(event, None if seq is None else (seq, digest(seq), digest(seq - 1)))
        for event, seq in zip(events, seqs, strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(cast(Table, EventRow.__table__).insert(), rows)
    return events


def test_an_empty_store_has_no_head(engine: Engine) -> None:
    assert last_sealed(engine) is None
    assert first_unsealed(engine) == (0, None)
    assert list(stream_record_hashes(engine, 0)) == []


def test_the_head_is_the_highest_sealed_row(engine: Engine) -> None:
    insert(engine, [2, 3, 1, None])
    assert last_sealed(engine) == (3, digest(3))
    assert record_hash_at(engine, 2) == digest(2)
    assert record_hash_at(engine, 9) is None


def test_record_hashes_stream_in_seq_order_within_bounds(engine: Engine) -> None:
    insert(engine, [3, 1, 4, 2, 5])
    assert [seq for seq, _, _ in stream_record_hashes(engine, 0)] == [1, 2, 3, 4, 5]
    assert list(stream_record_hashes(engine, 1, up_to_seq=3)) == [
        (2, digest(2), digest(1)),
        (3, digest(3), digest(2)),
    ]


def test_chain_rows_carry_the_fields_asked_for(engine: Engine) -> None:
    events = insert(engine, [1, 2, 3])
    rows = list(stream_chain_rows(engine, ("id", "status"), after_seq=1))
    assert [tuple(row) for row in rows] == [
        (2, digest(2), digest(1), events[1].id, 201),
        (3, digest(3), digest(2), events[2].id, 202),
    ]
    one = chain_row_by_id(engine, ("status",), events[0].id)
    assert one is not None and tuple(one) == (1, digest(1), digest(0), 200)
    assert chain_row_by_id(engine, ("status",), "no-such-id") is None


def test_unsealed_rows_are_counted_and_the_oldest_named(engine: Engine) -> None:
    events = insert(engine, [1, None, None])
    assert first_unsealed(engine) == (2, events[1].id)
