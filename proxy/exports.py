"""Exported events as CSV, JSONL or Parquet: each a generator of byte chunks, one per batch of
rows, so an export of any size is written or sent as it is read (never built in memory)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson

FORMATS = ("csv", "jsonl", "parquet")
MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
Columns = list[tuple[str, str]]  # (name, kind): text, integer, real, boolean, time, json
Batches = Iterable[list[dict[str, Any]]]


def encoder(fmt: str) -> Callable[[Batches, Columns], Iterator[bytes]]:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return {"csv": csv_chunks, "jsonl": jsonl_chunks, "parquet": parquet_chunks}[fmt]


def csv_chunks(batches: Batches, columns: Columns) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([name for name, _ in columns])
    for batch in batches:
        writer.writerows([_cell(row[name], kind) for name, kind in columns] for row in batch)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def jsonl_chunks(batches: Batches, columns: Columns) -> Iterator[bytes]:
    names = [name for name, _ in columns]
    for batch in batches:
        yield b"".join(orjson.dumps({name: row[name] for name in names}) + b"\n" for row in batch)


def parquet_chunks(batches: Batches, columns: Columns) -> Iterator[bytes]:
    """Row group by row group: each batch is written and its bytes handed on before the next is read."""
    import pyarrow as pa  # the "export" extra: only Parquet exports need it
    import pyarrow.parquet as pq

    types = {"text": pa.string(), "json": pa.string(), "integer": pa.int64(), "real": pa.float64()}
    types |= {"boolean": pa.bool_(), "time": pa.timestamp("us", tz="UTC")}
    schema = pa.schema([(name, types[kind]) for name, kind in columns])
    sink = _DrainedSink()
    with pq.ParquetWriter(sink, schema) as writer:
        for batch in batches:
            data = {
                name: [_json(row[name]) if kind == "json" else row[name] for row in batch] for name, kind in columns
            }
            writer.write_table(pa.Table.from_pydict(data, schema=schema))
            yield sink.drain()
    yield sink.drain()


class _DrainedSink(io.RawIOBase):
    """A write-only file whose written bytes are taken away as they come (pyarrow only appends)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "json":
        return _json(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
