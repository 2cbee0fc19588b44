"""The append-only local spool: the write-ahead log every event goes through.

A spool is a directory of numbered segment files. Each record is framed as
``length (4 bytes, big-endian) | crc32 (4 bytes) | payload``; a torn or corrupt
frame ends the readable part of a segment (only the tail can be torn: after a
failed write the spool moves on to a new segment). One ``append`` writes a
whole batch with a single ``write`` and a single ``fsync`` (group commit).
Only the writer's spool thread appends; the loader thread reads frames that
are already durable, and deletes segments the database has confirmed.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

_HEADER = struct.Struct(">II")
_SUFFIX = ".spool"
MAX_RECORD_BYTES = 256 * 1024 * 1024


class Position(NamedTuple):
    """A point in the spool: segment number and byte offset within it."""

    segment: int
    offset: int


class Spool:
    def __init__(self, directory: Path, segment_bytes: int) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._fd: int | None = None
        self._segment = 0
        self._size = 0

    def open(self) -> list[int]:
        """Create the directory and a fresh segment; return the segments left by an earlier run."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        leftovers = self.segments()
        self._segment = leftovers[-1] if leftovers else 0
        self._start_segment()
        return leftovers

    @property
    def position(self) -> Position:
        return Position(self._segment, self._size)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SUFFIX}"

    def append(self, payloads: Sequence[bytes]) -> tuple[Position, Position]:
        """Write the records and fsync once; return (start, end) positions. Raises OSError."""
        if self._fd is None or self._size >= self.segment_bytes:
            self._start_segment()
        assert self._fd is not None
        frames = b"".join(_HEADER.pack(len(p), zlib.crc32(p)) + p for p in payloads)
        start = self.position
        try:
            written = os.write(self._fd, frames)
            if written != len(frames):
                raise OSError(f"short write to spool ({written} of {len(frames)} bytes)")
            os.fsync(self._fd)
        except OSError:
            self._abandon_segment(start.offset)
            raise
        self._size += len(frames)
        return start, self.position

    def ensure_open(self) -> None:
        """Start a new segment if the last write failed (a probe: raises OSError if still broken)."""
        if self._fd is None:
            self._start_segment()

    def read(self, segment: int, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int]]:
        """Yield ``(payload, offset after it)`` for the intact records of ``segment`` in [start, end)."""
        with open(self.path(segment), "rb") as f:
            f.seek(start)
            offset = start
            while end is None or offset < end:
                header = f.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    return
                length, crc = _HEADER.unpack(header)
                if length > MAX_RECORD_BYTES:
                    return
                payload = f.read(length)
                if len(payload) < length or zlib.crc32(payload) != crc:
                    return  # torn tail: the write that produced it was never acknowledged
                offset += _HEADER.size + length
                yield payload, offset

    def remove(self, segment: int) -> None:
        self.path(segment).unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _start_segment(self) -> None:
        self.close()
        self._segment += 1
        self._size = 0
        fd = os.open(self.path(self._segment), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            # The new file's directory entry must survive a power cut too.
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def _abandon_segment(self, good_size: int) -> None:
        """After a failed write: cut the torn tail if possible, and write the next batch elsewhere."""
        assert self._fd is not None
        with contextlib.suppress(OSError):  # if it stays, readers stop at the torn frame anyway
            os.ftruncate(self._fd, good_size)
        self.close()
