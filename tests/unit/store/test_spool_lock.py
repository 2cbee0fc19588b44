"""The spool lock: one process per spool, re-entrant inside that process, gone when it dies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.store.spool_lock import SpoolInUse, SpoolLock

HOLD = """
import sys, time
from pathlib import Path
from proxy.store.spool_lock import SpoolLock
SpoolLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_reentrant_within_a_process_until_the_last_holder_releases(tmp_path: Path) -> None:
    serve, writer = SpoolLock(tmp_path), SpoolLock(tmp_path)
    serve.acquire()
    writer.acquire()  # the writer of the same process: not refused
    writer.release()
    probe = subprocess.run([sys.executable, "-c", _try_lock(tmp_path)], capture_output=True, text=True)
    assert probe.stdout.strip() == "refused"  # still held by ``serve``
    serve.release()
    probe = subprocess.run([sys.executable, "-c", _try_lock(tmp_path)], capture_output=True, text=True)
    assert probe.stdout.strip() == "taken"


def test_another_process_is_refused_by_name_and_a_dead_one_never_blocks(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SpoolInUse, match=f"pid {holder.pid}"):
            SpoolLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = SpoolLock(tmp_path)
    lock.acquire()  # the kernel dropped the dead holder's lock
    lock.release()


def _try_lock(directory: Path) -> str:
    return (
        "from pathlib import Path\n"
        "from proxy.store.spool_lock import SpoolInUse, SpoolLock\n"
        "try:\n"
        f"    SpoolLock(Path({str(directory)!r})).acquire()\n"
        "    print('taken')\n"
        "except SpoolInUse:\n"
        "    print('refused')\n"
    )
