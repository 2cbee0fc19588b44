"""The write path's counters, as ``/metrics`` shows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WriterStats:
    """Counters for ``/metrics``. Each is written by one thread at a time."""

    events_spooled: int = 0  # written to the spool (every event, normally)
    events_written: int = 0  # inserted into the database (new or replayed; duplicates ignored)
    spool_replayed: int = 0  # of those, read back from the spool after an outage or a restart
    spool_syncs: int = 0  # fdatasyncs of the spool (each covers every event written before it)
    events_rejected: int = 0  # refused by the database as invalid; kept in rejected.jsonl
    events_dropped: int = 0  # lost: the spool and the database both failed for too long
    load_transactions: int = 0  # database transactions the loader needed for them
    spool_backlog_bytes: int = 0  # about how much of the spool the loader has yet to load
    db_up: bool = False
    spool_ok: bool = False
