"""The spool's framing: what was appended reads back, and nothing else does (zero-filled or torn tails)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from proxy.store.spool import Position, Spool

SEGMENT_BYTES = 64 * 1024


def wait_for_spare(spool: Spool) -> None:
    deadline = time.monotonic() + 10
    while not (spool.directory / "next.spare").exists() or not spool._spare_ready.is_set():
        assert time.monotonic() < deadline, "the spare segment was never prepared"
        time.sleep(0.01)


def read_all(spool: Spool, segment: int) -> list[bytes]:
    return [payload for payload, _ in spool.read(segment)]


def test_records_read_back_across_zero_filled_segments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first spare is held back until segment 1 has its record: a spare ready before the
    # first append would take it (the race this test once lost on a loaded machine).
    first_append_done = threading.Event()
    write_spare = Spool._write_spare

    def spare_after_first_append(self: Spool) -> None:
        first_append_done.wait(10)
        write_spare(self)

    monkeypatch.setattr(Spool, "_write_spare", spare_after_first_append)
    spool = Spool(tmp_path, SEGMENT_BYTES)
    assert spool.open() == []
    assert spool.append([b"before the spare"]) == (Position(1, 0), Position(1, 8 + 16))
    first_append_done.set()
    wait_for_spare(spool)
    # Segment 1 was not zero-filled: the spool moves to the spare as soon as it is ready.
    first = [b"a" * 10, b"b" * 20_000]
    start, end = spool.append(first)
    assert start == Position(2, 0) and end == Position(2, 8 + 10 + 8 + 20_000)
    spool.append([b"c" * 50_000])  # crosses the segment size: the next batch starts segment 3
    wait_for_spare(spool)
    spool.append([b"d" * 100])
    assert spool.position.segment == 3

    # Segments 2 and 3 were zero-filled spares: full size on disk, yet only their records read back.
    assert os.path.getsize(spool.path(3)) == SEGMENT_BYTES
    assert read_all(spool, 1) == [b"before the spare"]
    assert read_all(spool, 2) == [*first, b"c" * 50_000]
    assert read_all(spool, 3) == [b"d" * 100]
    spool.close()
    assert spool.segments() == [1, 2, 3]
    assert not (tmp_path / "next.spare").exists()


def test_a_torn_tail_ends_the_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path, SEGMENT_BYTES)
    spool.open()
    _, end = spool.append([b"kept", b"also kept"])
    spool.close()
    with open(spool.path(1), "r+b") as f:  # a frame whose payload never fully reached the disk
        f.seek(end.offset)
        f.write(b"\x00\x00\x00\x10\x12\x34\x56\x78" + b"partial")
    assert read_all(spool, 1) == [b"kept", b"also kept"]


def test_reopening_starts_a_new_segment_and_reports_leftovers(tmp_path: Path) -> None:
    spool = Spool(tmp_path, SEGMENT_BYTES)
    spool.open()
    spool.append([b"from the first run"])
    wait_for_spare(spool)
    # killed: no close(); a half-prepared spare is discarded by the next run
    (tmp_path / "next.spare").write_bytes(b"\x00" * 100)

    again = Spool(tmp_path, SEGMENT_BYTES)
    assert again.open() == [1]
    assert again.position == Position(2, 0)
    assert read_all(again, 1) == [b"from the first run"]
    position = again.append([b"second run"])[0]
    assert read_all(again, position.segment) == [b"second run"]
    again.close()
    spool.close()
