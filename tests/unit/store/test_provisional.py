"""Provisional records through the real recorder and loader (issue 11, item 8): the loader never
inserts one, keeps its spool segment until the call's event arrives, and a stop ends calls still
in flight as "outcome_unknown"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from proxy.store.writer import DurableRecorder
from tests.support.store_fixtures import make_event, make_settings
from tests.support.store_helpers import event_ids, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def segments(spool_dir: Path) -> list[int]:
    return sorted(int(p.stem) for p in spool_dir.glob("*.spool"))


def outcome_of(engine: Engine, event_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT outcome FROM events WHERE id = :id"), {"id": event_id}).scalar()


async def test_a_provisional_record_keeps_its_segment_until_its_event_arrives(engine: Engine, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    recorder = DurableRecorder(make_settings(str(engine.url), spool_dir, spool_segment_bytes=8 * 1024))
    await recorder.start()
    try:
        in_flight = make_event()
        recorder.provisional(in_flight)
        held = segments(spool_dir)[-1]
        others = [make_event(completion_text="x" * 200) for _ in range(300)]
        for event in others:
            await recorder.commit(event)
        expected = {e.id for e in others}
        await wait_until(lambda: expected <= set(event_ids(engine)), timeout=20, what="the other events loaded")
        assert segments(spool_dir)[-1] > held  # the spool moved on: the loader may delete the held segment
        await wait_until(lambda: recorder.stats.spool_backlog_bytes == 0, timeout=10, what="everything confirmed")
        await asyncio.sleep(0.3)  # the loader deletes confirmed segments right after confirming them
        assert held in segments(spool_dir), "the provisional record's segment was deleted before its call ended"
        assert in_flight.id not in event_ids(engine), "a provisional record was inserted as an event"

        await recorder.commit(in_flight)
        await wait_until(lambda: outcome_of(engine, in_flight.id) == "completed", timeout=10, what="the event")
        await wait_until(lambda: held not in segments(spool_dir), timeout=10, what="the segment to go")
    finally:
        await recorder.stop()


async def test_calls_still_in_flight_at_stop_are_recorded_with_outcome_unknown(engine: Engine, tmp_path: Path) -> None:
    recorder = DurableRecorder(make_settings(str(engine.url), tmp_path / "spool"))
    await recorder.start()
    ended, unfinished = make_event(), make_event()
    recorder.provisional(ended)
    recorder.provisional(unfinished)
    await recorder.commit(ended)
    await recorder.stop()
    assert outcome_of(engine, ended.id) == "completed"
    assert outcome_of(engine, unfinished.id) == "outcome_unknown"
    assert sorted(event_ids(engine)) == sorted([ended.id, unfinished.id])
