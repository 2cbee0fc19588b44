"""Idempotent batch inserts of recorded events, shared by the loader process and the recorder's rescue path.

A spooled record can reach the database more than once (a replay after a crash
repeats what was loaded before it), so a repeated primary key is ignored. A row
the database refuses as invalid is kept in the spool directory's rejected file
instead of blocking everything behind it, and a sealed one leaves a tombstone in
``rejected_records`` (its chain position, hashes and canonical form), so the chain,
the checkpoints and ``verify`` go on through it instead of stopping at a hole.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import Connection, Engine, Insert, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from proxy.provenance.canonical import CANONICAL_FIELDS, canonical_values
from proxy.store import stats_rollup
from proxy.store.models import EventBodyRow, EventRow, RejectedRecordRow
from proxy.store.rows import Row, RowPair, record_json, split
from proxy.store.search import index_pairs

log = structlog.get_logger("provproxy.store")

REJECTED_FILE = "rejected.jsonl"


class DatabaseDown(Exception):
    """The database did not answer (as opposed to refusing a row)."""


@dataclass
class InsertResult:
    transactions: int
    rejected: int


class EventInserter:
    """Inserts row pairs in one transaction, setting aside rows the database refuses."""

    def __init__(self, engine: Engine, spool_dir: Path) -> None:
        self.engine = engine
        self.rejected_path = spool_dir / REJECTED_FILE

    def insert(self, pairs: Sequence[RowPair]) -> InsertResult:
        """Raises :class:`DatabaseDown` when the database is unavailable; nothing is lost then."""
        try:
            with self.engine.begin() as conn:
                insert_pairs(conn, pairs)
            return InsertResult(transactions=1, rejected=0)
        except SQLAlchemyError as exc:
            if not _is_invalid_data(exc):
                raise DatabaseDown(str(exc).splitlines()[0]) from exc
        return self._insert_one_by_one(pairs)

    def _insert_one_by_one(self, pairs: Sequence[RowPair]) -> InsertResult:
        rejected = 0
        for pair in pairs:
            try:
                with self.engine.begin() as conn:
                    insert_pairs(conn, [pair])
            except SQLAlchemyError as exc:
                if not _is_invalid_data(exc):
                    raise DatabaseDown(str(exc).splitlines()[0]) from exc
                self._reject(pair, exc)
                rejected += 1
        return InsertResult(transactions=len(pairs), rejected=rejected)

    def _reject(self, pair: RowPair, exc: Exception) -> None:
        """Keep a record the database will never take where an operator can find it (one JSON a line)."""
        fd = os.open(self.rejected_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, record_json(pair) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        error = str(exc).splitlines()[0]
        log.error("event refused by the database; kept in the rejected spool", error=error)
        tombstone = tombstone_row(pair[0], error)
        if tombstone is None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(_insert_ignoring_duplicates(conn.dialect.name, RejectedRecordRow.__table__), [tombstone])
        except SQLAlchemyError as tombstone_exc:
            if not _is_invalid_data(tombstone_exc):
                raise DatabaseDown(str(tombstone_exc).splitlines()[0]) from tombstone_exc
            log.error("tombstone refused too", seq=tombstone["seq"], error=str(tombstone_exc).splitlines()[0])

    def reachable(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def synced(self) -> bool:
        """True when what the database confirmed would survive a power cut (SQLite: WAL checkpointed)."""
        if self.engine.dialect.name != "sqlite":
            return True
        try:
            with self.engine.connect() as conn:
                busy, wal_frames, checkpointed = conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one()
        except SQLAlchemyError:
            return False
        return bool(busy == 0 and wal_frames == checkpointed)


def tombstone_row(event: Row, error: str) -> Row | None:
    """The ``rejected_records`` row standing in for a sealed event (None: it was never sealed)."""
    if event.get("seq") is None:
        return None
    canonical = canonical_values([event.get(name) for name in CANONICAL_FIELDS])
    return {
        "seq": event["seq"],
        "event_id": event["id"],
        "record_hash": event["record_hash"],
        "prev_hash": event["prev_hash"],
        "canonical": canonical.decode("utf-8"),
        "error": error[:1000],
        "rejected_at": datetime.now(UTC),
    }


def insert_pairs(conn: Connection, pairs: Sequence[RowPair]) -> None:
    """Plain Core ``executemany`` (no ORM objects), duplicates ignored: a replay may repeat rows."""
    events, bodies = split(pairs)
    index_pairs(conn, pairs)  # before the insert: it skips events already stored (replays)
    if events:
        statement = _insert_ignoring_duplicates(conn.dialect.name, EventRow.__table__).returning(EventRow.id)
        added = set(conn.execute(statement, events).scalars())  # a replayed row is not returned
        stats_rollup.add_events(conn, (event for event in events if event["id"] in added))
    if bodies:
        conn.execute(_insert_ignoring_duplicates(conn.dialect.name, EventBodyRow.__table__), bodies)


@functools.cache
def _insert_ignoring_duplicates(dialect: str, table: Table) -> Insert:
    """Built once per dialect and table (SQLAlchemy then reuses its compiled form).

    Only a repeated primary key is a duplicate (a replayed row). Any other conflict, e.g.
    a chain position already taken, is an error: the row goes to the rejected file,
    where it is counted and kept, instead of vanishing."""
    key = list(table.primary_key.columns)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)


def _is_invalid_data(exc: SQLAlchemyError) -> bool:
    """Errors a retry cannot fix (a bad row), as opposed to an unavailable database."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)
