"""The loader process: replaced when it dies, gone when the proxy dies, at background priority."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from proxy.config import Settings
from proxy.store.writer import DurableRecorder
from tests.support import store_fixtures
from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture, for the PostgreSQL runs)
from tests.support.store_fixtures import make_event
from tests.support.store_helpers import event_ids, wait_until

# This module's fixtures (tests/support/store_fixtures.py says why they are assigned).
anyio_backend = store_fixtures.anyio_backend
database_url = store_fixtures.database_url
engine = store_fixtures.engine
settings = store_fixtures.settings

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[3]


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.extend(int(p) for p in f.read().split())
    return found


def loader_of(pid: int) -> int:
    loaders = [c for c in children(pid) if b"proxy.store.loader" in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(loaders) == 1, f"expected one loader process under {pid}, found {loaders}"
    return loaders[0]


def has_exited(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has exited; whoever adopted it may not reap it at once


async def test_a_killed_loader_is_replaced_and_nothing_is_lost(settings: Settings, engine: Engine) -> None:
    recorder = DurableRecorder(settings)
    await recorder.start()
    first = [make_event() for _ in range(40)]
    for e in first:
        await recorder.commit(e)
    victim = loader_of(os.getpid())
    os.kill(victim, signal.SIGKILL)
    second = [make_event() for _ in range(40)]
    for e in second:
        await recorder.commit(e)  # spooled meanwhile: the spool is the loader's queue
    expected = sorted(e.id for e in first + second)
    await wait_until(lambda: sorted(event_ids(engine)) == expected, timeout=20, what="a new loader loading everything")
    replacement = loader_of(os.getpid())
    assert replacement != victim
    await recorder.stop()
    assert sorted(event_ids(engine)) == expected
    assert has_exited(replacement)


@pytest.mark.parametrize(("priority", "policy", "nice"), [("idle", os.SCHED_IDLE, 0), ("low", os.SCHED_OTHER, 10)])
async def test_the_loader_runs_at_background_priority(
    settings: Settings, priority: str, policy: int, nice: int
) -> None:
    recorder = DurableRecorder(settings.model_copy(update={"loader_priority": priority}))
    await recorder.start()
    try:
        loader = loader_of(os.getpid())
        assert os.sched_getscheduler(loader) == policy
        own_nice = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, loader) == min(19, own_nice + nice)
    finally:
        await recorder.stop()


def test_the_loader_exits_when_the_proxy_is_killed(settings: Settings, engine: Engine) -> None:
    command = ["-m", "tests.support.recorder_child", settings.database_url, str(settings.spool_dir), "endless", "0"]
    child = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    try:
        assert child.stdout is not None
        acknowledged = [child.stdout.readline().strip() for _ in range(30)]
        loader = loader_of(child.pid)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not has_exited(loader):
        assert time.monotonic() < deadline, "the loader outlived the proxy that started it"
        time.sleep(0.05)
    assert all(acknowledged)
