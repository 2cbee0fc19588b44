"""Delivery of the SIEM feed: a background thread that, for each sink, reads the next batch after
that sink's persisted cursor, hands it over, and moves the cursor only once the sink took it.

A sink that fails (file system full, webhook down or answering 5xx) is retried with growing
pauses while the others go on; its cursor stays, so nothing is skipped, and a restart resumes
from the database. The
thread never touches the request path: the proxy only records, the feed reads what was recorded.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
import structlog

from proxy.siem.ocsf import call_record, verdict_record
from proxy.store.db import Database
from proxy.store.siem_source import FeedBatch, mark_delivered, next_batch

log = structlog.get_logger(__name__)
BATCH = 500
MAX_PAUSE_S = 60.0


class Sink(Protocol):
    name: str  # names the sink's cursor: keep it stable across restarts

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        """Take every record or raise."""


class JsonlSink:
    """Appends one record per line to a file that SIEM forwarders tail; synced before the cursor moves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = "file"

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        data = b"".join(orjson.dumps(record) + b"\n" for record in records)
        with self.path.open("ab") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())


class WebhookSink:
    """POSTs the batch as a JSON array; any answer but 2xx is a failure to retry."""

    def __init__(self, url: str, timeout_s: float = 10.0, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.name = "webhook"
        self._client = httpx.Client(timeout=timeout_s, headers=headers or {})

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        response = self._client.post(
            self.url, content=orjson.dumps(list(records)), headers={"content-type": "application/json"}
        )
        response.raise_for_status()

    def close(self) -> None:
        self._client.close()


def ocsf_records(batch: FeedBatch) -> list[dict[str, Any]]:
    return [call_record(event) for event in batch.events] + [verdict_record(v) for v in batch.verdicts]


class SiemFeed:
    """The delivery loop, in a daemon thread: ``start()`` and ``stop()``."""

    def __init__(self, engine: Database, sinks: Sequence[Sink], poll_interval_s: float = 1.0) -> None:
        self._engine = engine
        self._sinks = list(sinks)
        self._poll = poll_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="siem-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        log.info("siem.feed_stopped", finished=not self._thread.is_alive())

    def deliver_once(self, sink: Sink) -> int:
        """Deliver the next batch to ``sink``; returns how many records went out (0: nothing new)."""
        batch = next_batch(self._engine, sink.name, BATCH)
        if not batch:
            return 0
        sink.deliver(ocsf_records(batch))
        mark_delivered(self._engine, sink.name, batch)
        return len(batch.events) + len(batch.verdicts)

    def _run(self) -> None:
        retry_at = dict.fromkeys((sink.name for sink in self._sinks), 0.0)
        pauses = dict.fromkeys(retry_at, self._poll)
        while not self._stop.is_set():
            busy = False
            for sink in self._sinks:
                if time.monotonic() < retry_at[sink.name]:
                    continue
                try:
                    busy |= self.deliver_once(sink) >= BATCH
                except Exception as exc:  # any failure: keep this sink's cursor, try it again later
                    pause = pauses[sink.name]
                    log.warning("siem.delivery_failed", sink=sink.name, error=str(exc), retry_in_s=pause)
                    retry_at[sink.name] = time.monotonic() + pause
                    pauses[sink.name] = min(pause * 2, MAX_PAUSE_S)
                else:
                    pauses[sink.name] = self._poll
            if not busy:
                self._stop.wait(self._poll)


def feed_from_settings(
    engine: Database, siem_file: Path | None, webhook_url: str | None, poll_interval_s: float
) -> SiemFeed | None:
    """The feed for the configured sinks, or None when no sink is configured."""
    sinks: list[Sink] = []
    if siem_file is not None:
        sinks.append(JsonlSink(siem_file))
    if webhook_url:
        sinks.append(WebhookSink(webhook_url))
    return SiemFeed(engine, sinks, poll_interval_s) if sinks else None
