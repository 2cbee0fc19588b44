"""Reads and writes of the store's ``events`` and ``checkpoints`` tables.

The tables are reflected by name and columns are addressed by name, so this
works against whatever migration created them (SQLite or PostgreSQL) as long
as the columns the provenance needs exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from proxy.events import new_event_id
from proxy.provenance.canonical import CANONICAL_FIELDS

CHAIN_COLUMNS: tuple[str, ...] = ("seq", "record_hash", "prev_hash", *CANONICAL_FIELDS)
STREAM_BATCH = 5000


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    id: Any
    tree_size: int
    root_hash: str
    ts: datetime
    key_id: str
    signature: str
    body: str


@dataclass(frozen=True, slots=True)
class ProvenanceTables:
    events: sa.Table
    checkpoints: sa.Table

    @classmethod
    def reflect(cls, engine: Engine) -> ProvenanceTables:
        metadata = sa.MetaData()
        return cls(
            sa.Table("events", metadata, autoload_with=engine),
            sa.Table("checkpoints", metadata, autoload_with=engine),
        )

    # --- events -----------------------------------------------------------------

    def last_sealed(self, conn: Connection) -> tuple[int, str] | None:
        events = self.events
        row = conn.execute(
            sa.select(events.c.seq, events.c.record_hash)
            .where(events.c.seq.is_not(None))
            .order_by(events.c.seq.desc())
            .limit(1)
        ).first()
        return (int(row[0]), str(row[1])) if row is not None else None

    def stream_chain_rows(self, conn: Connection, after_seq: int) -> Iterator[Sequence[Any]]:
        """Rows ``(seq, record_hash, prev_hash, *canonical fields)`` with seq > after_seq,
        in seq order, streamed in batches (server-side cursor on PostgreSQL).

        Values come as the driver returns them, without SQLAlchemy's type processing
        (the verify hot path): ``ts`` may be SQLite text, booleans 0/1."""
        columns = [self.events.c[name] for name in CHAIN_COLUMNS]
        query = sa.select(*columns).where(self.events.c.seq > int(after_seq)).order_by(self.events.c.seq)
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        # Per statement: Connection.execution_options() would change the connection itself.
        result = conn.exec_driver_sql(sql, execution_options={"stream_results": True, "yield_per": STREAM_BATCH})
        for partition in result.partitions():
            yield from partition

    def stream_record_hashes(
        self, conn: Connection, after_seq: int, up_to_seq: int | None = None
    ) -> Iterator[tuple[int, str, str]]:
        """``(seq, record_hash, prev_hash)`` in seq order."""
        events = self.events
        query = sa.select(events.c.seq, events.c.record_hash, events.c.prev_hash).where(events.c.seq > after_seq)
        if up_to_seq is not None:
            query = query.where(events.c.seq <= up_to_seq)
        result = conn.execute(query.order_by(events.c.seq), execution_options={"yield_per": STREAM_BATCH})
        for partition in result.partitions():
            for seq, digest, prev in partition:
                yield int(seq), str(digest), str(prev)

    def first_unsealed(self, conn: Connection) -> tuple[int, str | None]:
        """How many rows have no chain position, and the id of one of them."""
        events = self.events
        unsealed = events.c.seq.is_(None)
        count = conn.execute(sa.select(sa.func.count()).select_from(events).where(unsealed)).scalar_one()
        first = conn.execute(sa.select(events.c.id).where(unsealed).order_by(events.c.ts).limit(1)).scalar()
        return int(count), None if first is None else str(first)

    def record_hash_at(self, conn: Connection, seq: int) -> str | None:
        value = conn.execute(sa.select(self.events.c.record_hash).where(self.events.c.seq == seq)).scalar_one_or_none()
        return None if value is None else str(value)

    def chain_row_by_id(self, conn: Connection, event_id: str) -> Sequence[Any] | None:
        columns = [self.events.c[name] for name in CHAIN_COLUMNS]
        return conn.execute(sa.select(*columns).where(self.events.c.id == event_id)).first()

    # --- checkpoints ------------------------------------------------------------

    def _checkpoint_query(self) -> sa.Select[Any]:
        c = self.checkpoints.c
        return sa.select(c.id, c.tree_size, c.root_hash, c.ts, c.key_id, c.signature, c.body)

    def checkpoints_after(self, conn: Connection, tree_size: int) -> list[CheckpointRow]:
        c = self.checkpoints.c
        rows = conn.execute(self._checkpoint_query().where(c.tree_size > tree_size).order_by(c.tree_size, c.id))
        return [CheckpointRow(*row) for row in rows]

    def latest_checkpoint(self, conn: Connection) -> CheckpointRow | None:
        c = self.checkpoints.c
        row = conn.execute(self._checkpoint_query().order_by(c.tree_size.desc()).limit(1)).first()
        return CheckpointRow(*row) if row is not None else None

    def checkpoint_covering(self, conn: Connection, seq: int) -> CheckpointRow | None:
        """The latest checkpoint whose tree includes record ``seq``."""
        c = self.checkpoints.c
        row = conn.execute(
            self._checkpoint_query().where(c.tree_size >= seq).order_by(c.tree_size.desc()).limit(1)
        ).first()
        return CheckpointRow(*row) if row is not None else None

    def insert_checkpoint(
        self,
        conn: Connection,
        *,
        tree_size: int,
        root_hash: str,
        ts: datetime,
        key_id: str,
        signature: str,
        body: str,
    ) -> None:
        values: dict[str, Any] = {
            "tree_size": tree_size,
            "root_hash": root_hash,
            "ts": ts,
            "key_id": key_id,
            "signature": signature,
            "body": body,
        }
        id_column = self.checkpoints.c.id
        if not _is_integer_autoincrement(id_column):
            values["id"] = new_event_id()
        conn.execute(self.checkpoints.insert().values(**values))


def _is_integer_autoincrement(column: sa.Column[Any]) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False
