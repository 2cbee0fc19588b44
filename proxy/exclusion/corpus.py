"""The documents of a corpus: files of a folder or git checkout, JSONL lines, Parquet rows.

Documents that cannot be scanned (binary, too large, not UTF-8, unreadable) are
yielded as :class:`Skipped` with the reason, so a scan reports them and goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from proxy.exclusion.languages import guess_language, language_for_path

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
_TEXT_KEYS = ("text", "content", "code")
_KEY_KEYS = ("id", "path", "key")


@dataclass(frozen=True, slots=True)
class Document:
    key: str  # path relative to the scanned root, or the row's key
    data: bytes
    language: str


@dataclass(frozen=True, slots=True)
class Skipped:
    key: str
    reason: str


def documents(target: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> Iterator[Document | Skipped]:
    if target.is_dir():
        yield from _folder(target, max_bytes)
    elif target.suffix == ".jsonl":
        yield from _jsonl(target)
    elif target.suffix == ".parquet":
        yield from _parquet(target)
    else:
        yield _file(target, target.name, max_bytes)


def _folder(root: Path, max_bytes: int) -> Iterator[Document | Skipped]:
    for relative in _tracked_files(root) or _walk(root):
        path = root / relative
        if path.suffix in (".jsonl", ".parquet") and path.is_file():
            for document in documents(path, max_bytes):
                yield _prefixed(document, relative)
        else:
            yield _file(path, relative, max_bytes)


def _prefixed(document: Document | Skipped, prefix: str) -> Document | Skipped:
    if isinstance(document, Skipped):
        return Skipped(f"{prefix}:{document.key}", document.reason)
    return Document(f"{prefix}:{document.key}", document.data, document.language)


def _tracked_files(root: Path) -> list[str]:
    """A git checkout's tracked files (what a training set takes from it), else nothing."""
    if not (root / ".git").exists():
        return []
    result = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=False, timeout=120)
    return (
        [name for name in result.stdout.decode("utf-8", "surrogateescape").split("\0") if name]
        if not result.returncode
        else []
    )


def _walk(root: Path) -> Iterator[str]:
    for directory, subdirectories, files in os.walk(root, onerror=None):
        subdirectories[:] = sorted(d for d in subdirectories if d != ".git")
        for name in sorted(files):
            yield os.path.relpath(os.path.join(directory, name), root)


def _file(path: Path, key: str, max_bytes: int) -> Document | Skipped:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(key, f"too large ({size:,} bytes > {max_bytes:,})")
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(key, f"unreadable ({exc.strerror or exc})")
    return _checked(key, data, language_for_path(key))


def _checked(key: str, data: bytes, language: str | None) -> Document | Skipped:
    if b"\0" in data[:8192]:
        return Skipped(key, "binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(key, f"not UTF-8 (byte {exc.start})")
    return Document(key, data, language or guess_language(text))


def _jsonl(path: Path) -> Iterator[Document | Skipped]:
    try:
        lines = path.open("rb")
    except OSError as exc:
        yield Skipped(str(path.name), f"unreadable ({exc.strerror or exc})")
        return
    with lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                yield Skipped(f"line {number}", "not JSON")
                continue
            yield row_document(record if isinstance(record, dict) else {}, f"line {number}")


def row_document(record: dict[str, object], fallback_key: str) -> Document | Skipped:
    key = next((str(record[k]) for k in _KEY_KEYS if record.get(k) is not None), fallback_key)
    text = next((record[k] for k in _TEXT_KEYS if isinstance(record.get(k), str)), None)
    if not isinstance(text, str):
        return Skipped(key, f"no text field ({', '.join(_TEXT_KEYS)})")
    language = language_for_path(str(record["path"])) if isinstance(record.get("path"), str) else None
    return _checked(key, text.encode("utf-8", "surrogatepass"), None if language == "text" else language)


def _parquet(path: Path) -> Iterator[Document | Skipped]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        yield Skipped(path.name, f"unreadable Parquet ({exc})")
        return
    row = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            row += 1
            yield row_document(record, f"row {row}")
