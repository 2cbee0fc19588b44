"""The SIEM feed on a real SQLite file: per-sink cursors that survive a new feed (a restart), a
failing sink retried without holding back the others, and the OCSF shape of what is sent."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from proxy.siem.feed import JsonlSink, SiemFeed
from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade
from proxy.store.triage import add_verdict
from tests.unit.stored_events import event_row

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'siem.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


class Flaky:
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.records: list[dict[str, Any]] = []

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("webhook down")
        self.records.extend(records)


def _store(engine: Engine, seq: int, decision: str) -> str:
    row = event_row(seq, T0, decision)
    with Session(engine) as session:
        session.add(row)
        session.commit()
        return row.id


def _uids(records: Sequence[dict[str, Any]]) -> list[str]:
    return [r["metadata"]["uid"] for r in records]


def test_each_sink_gets_every_block_flag_and_verdict_once_in_order(engine: Engine, tmp_path: Path) -> None:
    blocked = _store(engine, 1, "block")
    _store(engine, 2, "allow")  # allowed calls are not sent
    flagged = _store(engine, 3, "flag")
    with Session(engine) as session:
        add_verdict(session, flagged, "benign", "fine", "bob")
    file_sink, flaky = JsonlSink(tmp_path / "siem.jsonl"), Flaky(failures=1)
    feed = SiemFeed(engine, [file_sink, flaky])
    assert feed.deliver_once(file_sink) == 3
    with pytest.raises(ConnectionError):
        feed.deliver_once(flaky)
    assert feed.deliver_once(flaky) == 3  # retried from its own cursor; the file sink was not held back
    assert feed.deliver_once(file_sink) == 0
    later = _store(engine, 4, "block")
    restarted = SiemFeed(engine, [file_sink, flaky])  # a new process: cursors come from the database
    assert restarted.deliver_once(file_sink) == 1 and restarted.deliver_once(flaky) == 1
    expected = [f"call:{blocked}", f"call:{flagged}", "verdict:1", f"call:{later}"]
    lines = [orjson.loads(line) for line in (tmp_path / "siem.jsonl").read_bytes().splitlines()]
    assert _uids(lines) == expected and _uids(flaky.records) == expected
    call = lines[0]
    assert (call["class_uid"], call["category_uid"], call["activity_id"], call["type_uid"]) == (6003, 6, 1, 600301)
    assert call["time"] == int((T0 + timedelta(seconds=1)).timestamp() * 1000)
    assert (call["disposition_id"], call["status_id"], call["severity_id"]) == (2, 2, 4)
    assert call["actor"]["user"] == {"name": "alice", "groups": [{"name": "ml"}]}
    assert call["src_endpoint"] == {"ip": "10.0.0.7"} and call["api"]["service"] == {"name": "anthropic"}
    verdict = lines[2]
    assert (verdict["activity_id"], verdict["type_uid"]) == (3, 600303)
    assert verdict["resources"][0]["uid"] == flagged and verdict["unmapped"]["verdict"] == "benign"


def test_the_thread_retries_a_failing_sink_until_it_takes_the_batch(engine: Engine) -> None:
    _store(engine, 1, "block")
    flaky = Flaky(failures=2)
    feed = SiemFeed(engine, [flaky], poll_interval_s=0.01)
    feed.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not flaky.records and datetime.now(UTC) < deadline:
            time.sleep(0.01)
    finally:
        feed.stop()
    assert flaky.failures == 0 and len(flaky.records) == 1
