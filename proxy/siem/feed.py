"""Delivery of the SIEM feed: a background thread that, for each sink, reads the next batch after
that sink's persisted cursors, hands it over, and moves the cursors only once the sink took it.
A batch holds blocked and flagged calls, triage verdicts and alerts (:mod:`proxy.alerts`).

A sink that fails (file system full, webhook down or answering 5xx) is retried with growing
pauses while the others go on; its cursor stays, so nothing is skipped, and a restart resumes
from the database. The
thread never touches the request path: the proxy only records, the feed reads what was recorded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
import structlog

from proxy.siem.loop import RetryLoop, Step
from proxy.siem.ocsf import alert_record, call_record, verdict_record
from proxy.store.db import Database
from proxy.store.siem_source import FeedBatch, mark_delivered, next_batch

log = structlog.get_logger(__name__)
BATCH = 500


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
    """POSTs the batch as JSON (an array unless ``body`` shapes it); any answer but 2xx is a failure
    to retry. Redirects are not followed: a webhook that moved is a configuration to fix."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        name: str = "webhook",
        body: Callable[[Sequence[dict[str, Any]]], Any] = list,
    ) -> None:
        self.url = url
        self.name = name
        self._body = body
        self._client = httpx.Client(timeout=timeout_s, headers=headers or {})

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        response = self._client.post(
            self.url, content=orjson.dumps(self._body(records)), headers={"content-type": "application/json"}
        )
        response.raise_for_status()

    def close(self) -> None:
        self._client.close()


def ocsf_records(batch: FeedBatch) -> list[dict[str, Any]]:
    return (
        [call_record(event) for event in batch.events]
        + [verdict_record(v) for v in batch.verdicts]
        + [alert_record(alert) for alert in batch.alerts]
    )


class SiemFeed:
    """The delivery loop, in a daemon thread: ``start()`` and ``stop()``."""

    def __init__(self, engine: Database, sinks: Sequence[Sink], poll_interval_s: float = 1.0) -> None:
        self._engine = engine
        steps = [Step(sink.name, self._step(sink), "siem.delivery_failed") for sink in sinks]
        self._loop = RetryLoop(steps, poll_interval_s, "siem-feed")

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        log.info("siem.feed_stopped", finished=self._loop.stop(timeout_s))

    def deliver_once(self, sink: Sink) -> int:
        """Deliver the next batch to ``sink``; returns how many records went out (0: nothing new)."""
        batch = next_batch(self._engine, sink.name, BATCH)
        if not batch:
            return 0
        records = ocsf_records(batch)
        sink.deliver(records)
        mark_delivered(self._engine, sink.name, batch)
        return len(records)

    def _step(self, sink: Sink) -> Callable[[], bool]:
        return lambda: self.deliver_once(sink) >= BATCH


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
