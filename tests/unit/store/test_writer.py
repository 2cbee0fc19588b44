from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from proxy.config import Settings
from proxy.events import Event
from proxy.store.inserts import REJECTED_FILE
from proxy.store.queries import get_event
from proxy.store.writer import DurableRecorder, NotDurable
from tests.support import store_fixtures
from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture, for the PostgreSQL runs)
from tests.support.store_fixtures import make_event, make_settings
from tests.support.store_helpers import database_outage, event_ids, wait_until

# This module's fixtures (tests/support/store_fixtures.py says why they are assigned).
anyio_backend = store_fixtures.anyio_backend
database_url = store_fixtures.database_url
engine = store_fixtures.engine
settings = store_fixtures.settings

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[3]


def spool_segments(settings: Settings) -> list[Path]:
    return sorted(Path(settings.spool_dir).glob("*.spool"))


async def test_batches_inserts_and_leaves_no_spool(settings: Settings, engine: Engine) -> None:
    recorder = DurableRecorder(settings)
    await recorder.start()
    submitted = [make_event() for _ in range(1200)]
    for e in submitted:
        recorder.submit(e)
    await recorder.stop()

    assert sorted(event_ids(engine)) == sorted(e.id for e in submitted)
    transactions = recorder.stats.load_transactions
    assert 0 < transactions < 100, f"{transactions} transactions for 1200 events: not batched"
    assert recorder.stats.events_spooled == recorder.stats.events_written == 1200
    assert spool_segments(settings) == []


async def test_commit_returns_once_the_event_is_durable(settings: Settings, engine: Engine) -> None:
    recorder = DurableRecorder(settings)
    await recorder.start()
    e = make_event()
    await recorder.commit(e)
    assert recorder.stats.events_spooled == 1
    await wait_until(lambda: event_ids(engine) == [e.id], what="the event in the database")
    await recorder.stop()


async def test_fsync_durability_waits_for_a_sync_covering_the_event(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    # A sync interval far longer than the test: only "fsync" mode's own sync can answer in time.
    settings = make_settings(database_url, tmp_path / "spool", durability="fsync", spool_sync_interval_ms=60_000)
    recorder = DurableRecorder(settings)
    await recorder.start()
    e = make_event()
    syncs_before = recorder.stats.spool_syncs
    await recorder.commit(e)
    assert recorder.stats.spool_syncs > syncs_before
    await wait_until(lambda: event_ids(engine) == [e.id], what="the event in the database")
    await recorder.stop()


async def test_outage_spools_then_replays_exactly_once(
    settings: Settings, engine: Engine, database_url: str, request: pytest.FixtureRequest
) -> None:
    recorder = DurableRecorder(settings)
    await recorder.start()
    before = [make_event() for _ in range(20)]
    for e in before:
        await recorder.commit(e)
    await wait_until(lambda: recorder.stats.events_written == len(before), what="the first events loaded")
    assert recorder.stats.db_up
    with database_outage(database_url, request):
        during = [make_event(stream=True) for _ in range(60)]
        await recorder.commit(during[0])
        await wait_until(lambda: not recorder.stats.db_up, what="the writer noticing the outage")
        for e in during[1:]:
            await recorder.commit(e)  # acknowledged: spooled, although the database is down
        assert recorder.can_record()
        await wait_until(lambda: recorder.stats.spool_backlog_bytes > 0, what="the backlog gauge")
    after = [make_event() for _ in range(20)]
    for e in after:
        await recorder.commit(e)
    expected = sorted(e.id for e in before + during + after)
    await wait_until(lambda: len(event_ids(engine)) == len(expected), what="the replay")
    await wait_until(lambda: recorder.stats.spool_backlog_bytes == 0, what="the backlog gauge back at 0")
    await recorder.stop()

    assert sorted(event_ids(engine)) == expected
    assert recorder.stats.spool_replayed >= len(during)
    assert recorder.stats.db_up
    assert spool_segments(settings) == []


def _run_child(database_url: str, spool_dir: Path, mode: str, count: int, wait_for: int) -> list[str]:
    """Start the recorder child, collect ``wait_for`` acknowledged ids (or all until done), kill -9 it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.recorder_child", database_url, str(spool_dir), mode, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    acknowledged: list[str] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "done" or len(acknowledged) >= wait_for:
                break
            acknowledged.append(line.strip())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return acknowledged


async def test_kill_9_while_database_is_down_loses_nothing(
    settings: Settings, engine: Engine, database_url: str, request: pytest.FixtureRequest
) -> None:
    n = 150
    with database_outage(database_url, request):
        acknowledged = _run_child(database_url, Path(settings.spool_dir), "exact", n, wait_for=n + 1)
    assert len(acknowledged) == n
    assert spool_segments(settings), "the killed process left its spool behind"

    recorder = DurableRecorder(settings)
    await recorder.start()  # replays the leftovers before returning
    assert sorted(event_ids(engine)) == sorted(acknowledged)
    await recorder.stop()
    assert recorder.stats.spool_replayed == n
    assert spool_segments(settings) == []


async def test_kill_9_mid_run_keeps_every_acknowledged_event(settings: Settings, engine: Engine) -> None:
    acknowledged = _run_child(str(engine.url.render_as_string(False)), Path(settings.spool_dir), "endless", 0, 300)
    recorder = DurableRecorder(settings)
    await recorder.start()
    await recorder.stop()
    stored = event_ids(engine)
    assert len(stored) == len(set(stored))
    assert set(acknowledged) <= set(stored)


async def test_fail_closed_when_neither_spool_nor_database_is_available(
    tmp_path: Path, database_url: str, engine: Engine, request: pytest.FixtureRequest
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("the spool cannot be created here")
    settings = make_settings(database_url, blocker / "spool", fail_closed=True)
    recorder = DurableRecorder(settings)
    await recorder.start()
    assert not recorder.stats.spool_ok
    assert recorder.can_record(), "the database alone still makes events durable"
    direct = make_event()
    await recorder.commit(direct)

    held = make_event()
    with database_outage(database_url, request):
        with pytest.raises(NotDurable):
            await recorder.commit(held)
        assert not recorder.can_record()
    await wait_until(recorder.can_record, what="recovery once the database is back")
    await wait_until(lambda: held.id in event_ids(engine), what="the held event to be stored")
    await recorder.stop()
    assert sorted(event_ids(engine)) == sorted([direct.id, held.id])


@pytest.mark.parametrize("retention", ["full", "completion-only", "metadata-only"])
async def test_body_retention(retention: str, database_url: str, engine: Engine, tmp_path: Path) -> None:
    recorder = DurableRecorder(make_settings(database_url, tmp_path / "spool", retention=retention))
    await recorder.start()
    e = make_event(
        request_body=b'{"messages":[{"role":"user","content":"write a parser"}]}',
        instruction="write a parser",
        completion_text="def parse(): ...",
        thinking_text="the user wants a parser",
        tool_calls=[{"name": "Write", "input": {"path": "p.py"}}],
    )
    await recorder.commit(e)
    await recorder.stop()
    with Session(engine) as session:
        stored = get_event(session, e.id)
    assert stored is not None
    body = stored["body"]
    if retention == "metadata-only":
        assert body is None
        return
    assert body["completion_text"] == "def parse(): ..."
    assert body["thinking_text"] == "the user wants a parser"
    assert body["instruction"] == "write a parser"
    assert body["tool_calls"] == [{"name": "Write", "input": {"path": "p.py"}}]
    expected_request = '{"messages":[{"role":"user","content":"write a parser"}]}' if retention == "full" else None
    assert body["request_body"] == expected_request


class CountingChainer:
    def __init__(self) -> None:
        self.sealed: list[str] = []

    def seal(self, events: Sequence[Event]) -> list[tuple[int, str, str]]:
        links = []
        for _ in events:
            previous = self.sealed[-1] if self.sealed else "0" * 64
            self.sealed.append(f"{len(self.sealed) + 1:064d}")
            links.append((len(self.sealed), self.sealed[-1], previous))
        return links


async def test_chainer_seals_in_submission_order(settings: Settings, engine: Engine) -> None:
    chainer = CountingChainer()
    recorder = DurableRecorder(settings, chainer=chainer)
    await recorder.start()
    submitted = [make_event() for _ in range(50)]
    for e in submitted:
        recorder.submit(e)
    await recorder.stop()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, seq, record_hash, prev_hash FROM events ORDER BY seq")).all()
    assert [row.id for row in rows] == [e.id for e in submitted]
    assert [row.seq for row in rows] == list(range(1, 51))
    assert all(rows[i].prev_hash == rows[i - 1].record_hash for i in range(1, 50))


async def test_a_row_the_database_refuses_is_set_aside_not_lost(settings: Settings, engine: Engine) -> None:
    recorder = DurableRecorder(settings)
    await recorder.start()
    good = [make_event(), make_event()]
    bad = make_event()
    bad.ts = bad.ts.replace(tzinfo=None)  # the store refuses naive times
    for e in (good[0], bad, good[1]):
        recorder.submit(e)
    await recorder.stop()
    assert sorted(event_ids(engine)) == sorted(e.id for e in good)
    assert recorder.stats.events_rejected == 1
    rejected = (Path(settings.spool_dir) / REJECTED_FILE).read_text()
    assert bad.id in rejected and rejected.count("\n") == 1


async def test_a_taken_chain_position_is_rejected_not_skipped(settings: Settings, engine: Engine) -> None:
    first, second = make_event(), make_event()
    for e in (first, second):
        recorder = DurableRecorder(settings, chainer=CountingChainer())  # both seal their event as seq 1
        await recorder.start()
        await recorder.commit(e)
        await recorder.stop()
    assert event_ids(engine) == [first.id]
    assert recorder.stats.events_rejected == 1
    assert second.id in (Path(settings.spool_dir) / REJECTED_FILE).read_text()


async def test_the_chain_head_outlives_the_spool_segments_it_came_from(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """Once everything is in the database the spool is emptied; a restart that finds the
    database unreachable must still continue the chain after the last sealed event."""
    recorder = DurableRecorder(settings, chainer=CountingChainer())
    await recorder.start()
    for e in [make_event() for _ in range(30)]:
        recorder.submit(e)
    await recorder.stop()
    assert spool_segments(settings) == []
    with engine.connect() as conn:
        last = conn.execute(text("SELECT seq, record_hash FROM events ORDER BY seq DESC LIMIT 1")).one()
    unreachable = make_settings(f"sqlite:///{tmp_path / 'missing' / 'gone.db'}", Path(settings.spool_dir))
    restarted = DurableRecorder(unreachable)
    assert restarted.spooled_chain_head() == (last.seq, last.record_hash) == (30, last.record_hash)
