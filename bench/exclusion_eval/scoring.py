"""``run``: one in-memory index of every completion with thresholds off, one scan per document, raw pairs kept."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from proxy.exclusion.corpus import Document
from proxy.exclusion.extract import Unit, completion_units
from proxy.exclusion.fingerprint import Params, default_engine
from proxy.exclusion.index import LoadedIndex, fingerprinted, loaded_from_columns
from proxy.exclusion.scan import Scanner
from proxy.store.exclusion import SourceMeta


@dataclass(frozen=True, slots=True)
class Pair:
    document: int  # position in the documents list
    completion: str
    score: float
    matched: int


@dataclass(slots=True)
class ScanResult:
    completions: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    pairs: list[Pair]
    indexed: set[str]
    seconds: dict[str, float]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _units(completion: dict[str, Any]) -> list[Unit]:
    if completion["style"] == "chat":
        return completion_units(completion["text"])
    return [Unit(completion["language"], completion["text"])]


def build_index(completions: list[dict[str, Any]], params: Params) -> tuple[LoadedIndex, set[str]]:
    engine = default_engine()
    hashes: list[int] = []
    units: list[int] = []
    metas: list[SourceMeta] = []
    languages: list[str] = []
    indexed: set[str] = set()
    for completion in completions:
        source = fingerprinted(SourceMeta(completion["id"], "import"), _units(completion), params, engine)
        for language, fingerprints in source.units:
            hashes.extend(fingerprints)
            units.extend([len(metas)] * len(fingerprints))
            metas.append(source.meta)
            languages.append(language)
            if language != "text":  # a chat answer whose code block is too short is not findable in code
                indexed.add(completion["id"])
    sizes = np.bincount(np.array(units, dtype=np.int32), minlength=len(metas)).astype(np.int32)
    columns = np.array(hashes, dtype=np.int64), np.array(units, dtype=np.int32)
    return loaded_from_columns(params, *columns, sizes, metas, languages), indexed


def scan(folder: Path, params: Params, quick: bool) -> ScanResult:
    """Index with min_containment 0 and min_matched 1, so every shared fingerprint is a reported pair."""
    completions = read_jsonl(folder / "completions.jsonl")
    documents = read_jsonl(folder / "documents.jsonl")
    if quick:
        keep = {c["id"] for c in completions[::8]}
        completions = [c for c in completions if c["id"] in keep]
        documents = [d for d in documents if d["completion"] in keep or d["kind"] in ("negative", "boilerplate")][::2]
    started = time.perf_counter()
    index, indexed = build_index(completions, params)
    built = time.perf_counter()
    scanner = Scanner(index, default_engine())
    pairs = []
    for position, doc in enumerate(documents):
        document = Document(doc["key"], doc["text"].encode("utf-8", "surrogatepass"), doc["language"])
        for match in scanner.scan(document):
            pairs.append(Pair(position, match.source, match.score, match.matched))
    done = time.perf_counter()
    megabytes = sum(len(d["text"]) for d in documents) / 1e6
    seconds = {"index": built - started, "scan": done - built, "scanned_mb": megabytes}
    return ScanResult(completions, documents, pairs, indexed, seconds)
