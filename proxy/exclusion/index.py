"""Building the fingerprint index (from the event store, or from imported JSONL) and loading it for matching.

Indexing is incremental and resumable: it reads recorded outputs after the last
chain position it committed, and commits each batch of fingerprints together
with that position. The parameters the index was built with are stored with it:
an index is never extended or matched with different ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from proxy.exclusion.extract import Unit, completion_units, tool_call_units
from proxy.exclusion.fingerprint import Engine, Params, unit_fingerprints
from proxy.exclusion.matcher import IndexArrays
from proxy.store.exclusion import (
    LAST_SEQ,
    PARAMS,
    Database,
    IndexedSource,
    SourceMeta,
    StoredIndex,
    load_index,
    read_state,
    recorded_outputs_after,
    store_sources,
)


class ExclusionIndexError(Exception):
    """The index cannot be built or used as asked (bad input, mismatched parameters, empty)."""


@dataclass(slots=True)
class IndexReport:
    sources: int = 0
    units: int = 0
    fingerprints: int = 0
    last_seq: int = 0


def params_of(database: Database, requested: Params) -> Params:
    """The parameters stored with the index, or ``requested`` for a new index."""
    stored = read_state(database).get(PARAMS)
    return requested if stored is None else Params(**json.loads(stored))


def fingerprinted(meta: SourceMeta, units: Iterable[Unit], params: Params, engine: Engine) -> IndexedSource:
    """A source's units with enough fingerprints to be matched (short snippets are left out)."""
    kept: list[tuple[str, list[int]]] = []
    seen: set[bytes] = set()
    for unit in units:
        hashes = unit_fingerprints(unit.text, unit.language, params, engine)
        key = hashes.tobytes()
        if len(hashes) >= params.min_unit_fingerprints and key not in seen:
            seen.add(key)
            kept.append((unit.language, hashes.view(np.int64).tolist()))
    return IndexedSource(meta, kept)


def index_events(
    database: Database,
    params: Params,
    engine: Engine,
    batch: int = 500,
    progress: Callable[[IndexReport], None] | None = None,
) -> IndexReport:
    """Fingerprint every recorded output after the last indexed chain position."""
    params = params_of(database, params)
    state = read_state(database)
    report = IndexReport(last_seq=int(state.get(LAST_SEQ, "0")))
    for outputs in recorded_outputs_after(database, report.last_seq, batch):
        sources = []
        for output in outputs:
            units = [*completion_units(output.completion_text), *tool_call_units(output.tool_calls)]
            meta = SourceMeta(output.event_id, "event", output.tool, output.principal, output.ts)
            source = fingerprinted(meta, units, params, engine)
            if source.units:
                sources.append(source)
        report.last_seq = outputs[-1].seq
        _store(database, sources, params, report, {LAST_SEQ: str(report.last_seq)})
        if progress is not None:
            progress(report)
    return report


def import_jsonl(database: Database, path: Path, params: Params, engine: Engine, batch: int = 1000) -> IndexReport:
    """Index completions recorded elsewhere: JSONL lines ``{"id": ..., "text": ...}`` (optional
    ``tool``, ``principal``); the id is what matches report."""
    params = params_of(database, params)
    report = IndexReport(last_seq=int(read_state(database).get(LAST_SEQ, "0")))
    pending: list[IndexedSource] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = _record(line, path, number)
            meta = SourceMeta(str(record["id"]), "import", record.get("tool"), record.get("principal"))
            source = fingerprinted(meta, completion_units(record["text"]), params, engine)
            if source.units:
                pending.append(source)
            if len(pending) >= batch:
                _store(database, pending, params, report, {})
                pending = []
    _store(database, pending, params, report, {})
    return report


def _record(line: bytes, path: Path, number: int) -> dict[str, str]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ExclusionIndexError(f"{path}:{number}: not JSON ({exc})") from None
    if not isinstance(record, dict) or "id" not in record or not isinstance(record.get("text"), str):
        raise ExclusionIndexError(f'{path}:{number}: expected {{"id": ..., "text": "..."}}')
    return record


def _store(
    database: Database, sources: list[IndexedSource], params: Params, report: IndexReport, state: dict[str, str]
) -> None:
    state = {**state, PARAMS: json.dumps(asdict(params), sort_keys=True)}
    report.fingerprints += store_sources(database, sources, state)
    report.sources += len(sources)
    report.units += sum(len(source.units) for source in sources)


@dataclass(frozen=True, slots=True)
class LoadedIndex:
    """The index in memory: matcher arrays over units 0..n-1, and what each unit came from."""

    params: Params
    arrays: IndexArrays
    unit_sources: list[SourceMeta]
    unit_languages: list[str]
    columns: tuple[np.ndarray, np.ndarray]  # every fingerprint (int64) and its unit, boilerplate included

    @property
    def empty(self) -> bool:
        return not self.unit_sources


def loaded_from_columns(
    params: Params,
    hashes: np.ndarray,
    unit_of_hash: np.ndarray,
    unit_sizes: np.ndarray,
    unit_sources: list[SourceMeta],
    unit_languages: list[str],
) -> LoadedIndex:
    arrays = IndexArrays.build(
        hashes.astype(np.int64).view(np.uint64), unit_of_hash.astype(np.int32), unit_sizes, params.max_postings
    )
    return LoadedIndex(params, arrays, unit_sources, unit_languages, (hashes.astype(np.int64), unit_of_hash))


def load_from_database(database: Database) -> LoadedIndex:
    stored: StoredIndex = load_index(database)
    params = params_of(database, Params())
    position = {unit_id: i for i, unit_id in enumerate(stored.unit_ids)}
    units = np.array([position[unit] for unit in stored.fingerprint_units], dtype=np.int32)
    return loaded_from_columns(
        params,
        np.array(stored.fingerprint_hashes, dtype=np.int64),
        units,
        np.array(stored.unit_sizes, dtype=np.int32),
        [stored.sources[source] for source in stored.unit_sources],
        stored.unit_languages,
    )
