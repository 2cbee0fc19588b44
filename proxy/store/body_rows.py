"""The stored bodies next to the digests their record sealed, for ``verify --full``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import zstandard
from sqlalchemy import select

from proxy.store.chain_rows import STREAM_BATCH
from proxy.store.db import Database
from proxy.store.models import EventBodyRow, EventRow
from proxy.store.rows import decompress

# Each stored body and the ``events`` column holding its digest (SHA-256 of the raw bytes / UTF-8 text).
BODY_DIGEST_COLUMNS = (
    ("request_body", "request_sha256"),
    ("instruction", "instruction_sha256"),
    ("completion_text", "completion_sha256"),
    ("thinking_text", "thinking_sha256"),
)


class StoredBodies(NamedTuple):
    seq: int
    event_id: str
    record_version: int | None
    # (column, stored bytes decompressed — None if they do not decompress —, sealed digest)
    bodies: list[tuple[str, bytes | None, str | None]]


def stream_stored_bodies(database: Database, after_seq: int) -> Iterator[StoredBodies]:
    """Every sealed event with a body row after ``after_seq``, in seq order."""
    events, bodies = EventRow.__table__, EventBodyRow.__table__
    columns = [bodies.c[body] for body, _ in BODY_DIGEST_COLUMNS] + [
        events.c[digest] for _, digest in BODY_DIGEST_COLUMNS
    ]
    query = (
        select(events.c.seq, events.c.id, events.c.record_version, *columns)
        .join(bodies, bodies.c.event_id == events.c.id)
        .where(events.c.seq > after_seq)
        .order_by(events.c.seq)
    )
    count = len(BODY_DIGEST_COLUMNS)
    with database.connect() as conn:
        result = conn.execute(query, execution_options={"yield_per": STREAM_BATCH})
        for partition in result.partitions():
            for row in partition:
                stored = row[3 : 3 + count]
                digests = row[3 + count :]
                kept = [
                    (name, _plain(value), digest)
                    for (name, _), value, digest in zip(BODY_DIGEST_COLUMNS, stored, digests, strict=True)
                    if value is not None
                ]
                yield StoredBodies(int(row[0]), str(row[1]), row[2], kept)


def _plain(value: bytes) -> bytes | None:
    try:
        return decompress(value)
    except zstandard.ZstdError:
        return None


def stored_texts(database: Database, event_id: str) -> dict[str, str]:
    """The instruction, completion and thinking texts kept for one event, by column (those kept).

    Raises ValueError for a stored text that does not decompress or is not UTF-8."""
    bodies = EventBodyRow.__table__
    names = ("instruction", "completion_text", "thinking_text")
    with database.connect() as conn:
        row = conn.execute(select(*(bodies.c[name] for name in names)).where(bodies.c.event_id == event_id)).first()
    texts: dict[str, str] = {}
    for name, value in zip(names, row or (), strict=False):
        if value is not None:
            plain = _plain(value)
            if plain is None:
                raise ValueError(f"the stored {name} does not decompress")
            texts[name] = plain.decode("utf-8")
    return texts
