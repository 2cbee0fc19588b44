"""Item 4 of issue 11: the SQLite file deleted while the proxy runs. The loader notices that its
database is no longer the one it opened and keeps the spool until the rows are in the live one."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade
from proxy.store.writer import DurableRecorder
from tests.support.store_fixtures import make_event, make_settings
from tests.support.store_helpers import event_ids, wait_until

pytestmark = pytest.mark.anyio


async def test_events_after_the_database_file_is_deleted_reach_the_recreated_database(tmp_path: Path) -> None:
    db_path = tmp_path / "events.db"
    url = f"sqlite:///{db_path}"
    upgrade(url)
    settings = make_settings(url, tmp_path / "spool")
    engine = create_db_engine(url)

    recorder = DurableRecorder(settings)
    await recorder.start()
    before = [make_event() for _ in range(10)]
    for event in before:
        await recorder.commit(event)
    await wait_until(lambda: len(event_ids(engine)) == 10, what="the first events loaded")
    engine.dispose()

    for path in tmp_path.glob("events.db*"):  # what `rm provproxy.db*` does
        path.unlink()
    after = [make_event() for _ in range(10)]
    for event in after:
        await recorder.commit(event)
    await wait_until(lambda: not recorder.stats.db_up, what="the loader to notice the database is gone")
    await recorder.stop()
    assert list((tmp_path / "spool").glob("*.spool")), "spool deleted although its rows are in no live database"

    # The operator recreates the database (serve migrates on start); the spool is loaded into it.
    for path in tmp_path.glob("events.db*"):
        path.unlink()
    upgrade(url)
    recorder = DurableRecorder(settings)
    await recorder.start()
    engine = create_db_engine(url)
    await wait_until(lambda: len(event_ids(engine)) == 20, what="the spooled events in the new database")
    await recorder.stop()
    assert sorted(event_ids(engine)) == sorted(e.id for e in before + after)
    engine.dispose()
