"""A proxy stand-in for the kill -9 tests: records events with ``commit()`` and prints each
acknowledged id, then (``exact`` mode) says ``done`` and waits to be killed.

    python -m tests.support.recorder_child DATABASE_URL SPOOL_DIR exact N
    python -m tests.support.recorder_child DATABASE_URL SPOOL_DIR endless 0
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

from proxy.store.writer import DurableRecorder
from tests.support.store_fixtures import make_event, make_settings


async def main(database_url: str, spool_dir: str, mode: str, count: int) -> None:
    recorder = DurableRecorder(make_settings(database_url, Path(spool_dir)))
    await recorder.start()

    async def one() -> None:
        event = make_event(completion_text="partial answer " * 20)
        await recorder.commit(event)
        print(event.id, flush=True)

    waves = range(0, count, 10) if mode == "exact" else itertools.count()
    for start in waves:
        await asyncio.gather(*(one() for _ in range(min(10, count - start) if mode == "exact" else 10)))
    print("done", flush=True)
    await asyncio.Event().wait()  # killed here, never stopped cleanly


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
