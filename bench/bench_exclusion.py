"""Exclusion speed: index build rate, bytes per completion, scan MB/s per core as the index grows.

    python bench/bench_exclusion.py [--sizes 1000,100000] [--corpus DIR]

Completions are functions cut from the Python and JavaScript sources installed
in this virtualenv (real code; no download); the scanned corpus is the same
kind of source text. Single process, median of 3. This measures speed only:
recall and precision are measured by ``bench/eval_exclusion.py``.
"""

from __future__ import annotations

import argparse
import glob
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from proxy.exclusion.corpus import Document
from proxy.exclusion.extract import Unit
from proxy.exclusion.fingerprint import Engine, Params, default_engine, document_kgrams
from proxy.exclusion.index import LoadedIndex, fingerprinted, loaded_from_columns
from proxy.exclusion.languages import language_for_path
from proxy.exclusion.scan import Scanner
from proxy.store.exclusion import SourceMeta


def _sources(root: str, limit_bytes: int) -> list[tuple[str, str]]:
    found, total = [], 0
    for path in sorted(glob.glob(f"{root}/**/*.py", recursive=True) + glob.glob(f"{root}/**/*.js", recursive=True)):
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError):
            continue
        found.append((path, text))
        total += len(text)
        if total >= limit_bytes:
            break
    return found


def _completions(sources: list[tuple[str, str]], count: int) -> Iterator[Unit]:
    """Chunks of 45 lines of real code, cycling over the sources (repeats reordered)."""
    chunks: list[Unit] = []
    for path, text in sources:
        lines = text.splitlines()
        for start in range(0, max(len(lines) - 30, 1), 45):
            chunks.append(Unit(language_for_path(path), "\n".join(lines[start : start + 45])))
    for i in range(count):
        unit = chunks[i % len(chunks)]
        yield unit if i < len(chunks) else Unit(unit.language, _reordered(unit.text, random.Random(i)))


def _reordered(text: str, rng: random.Random) -> str:
    """Real lines of code in another order, three at a time: a distinct completion (identifiers are
    abstracted, so appending renamed lines would make every repeat share them as boilerplate)."""
    lines = text.splitlines()
    blocks = [lines[start : start + 3] for start in range(0, len(lines), 3)]
    rng.shuffle(blocks)
    return "\n".join(line for block in blocks for line in block)


def _build(completions: Iterator[Unit], params: Params, engine: Engine) -> tuple[LoadedIndex, float]:
    """The loaded index of these completions as ``provproxy exclude scan`` holds it, and the seconds
    spent fingerprinting (the arrays are built with numpy so that a million completions fit)."""
    metas: list[SourceMeta] = []
    languages: list[str] = []
    columns: list[np.ndarray] = []
    fingerprinting = 0.0
    for i, unit in enumerate(completions):
        started = time.perf_counter()
        source = fingerprinted(SourceMeta(f"c{i}", "import"), [unit], params, engine)
        fingerprinting += time.perf_counter() - started
        for language, fingerprints in source.units:
            columns.append(np.array(fingerprints, dtype=np.int64))
            metas.append(source.meta)
            languages.append(language)
    sizes = np.array([len(column) for column in columns], dtype=np.int32)
    units = np.repeat(np.arange(len(columns), dtype=np.int32), sizes)
    hashes = np.concatenate(columns) if columns else np.empty(0, dtype=np.int64)
    return loaded_from_columns(params, hashes, units, sizes, metas, languages), fingerprinting


def _ceiling(kept: list[Document], params: Params, engine: Engine) -> float:
    """Seconds to tokenise and hash the corpus with no index at all: what scanning costs before any lookup."""
    started = time.perf_counter()
    for document in kept:
        document_kgrams(document.data, document.language, params, engine)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--root", default=f"{sys.prefix}/lib/python3.11/site-packages")
    parser.add_argument("--corpus-mb", type=float, default=20.0)
    args = parser.parse_args()
    engine, params = default_engine(), Params()
    sources = _sources(args.root, int(200e6))
    corpus = [Document(path, text.encode(), language_for_path(path)) for path, text in sources[-3000:]]
    corpus_bytes = 0
    kept = []
    for document in corpus:
        kept.append(document)
        corpus_bytes += len(document.data)
        if corpus_bytes >= args.corpus_mb * 1e6:
            break
    print(f"engine {engine.name}; corpus {corpus_bytes / 1e6:.1f} MB in {len(kept)} files")
    for size in (int(s) for s in args.sizes.split(",")):
        completions = _completions(sources[:-3000], size)  # disjoint from the scanned corpus
        index, build_s = _build(completions, params, engine)
        fingerprints = len(index.columns[0])
        scanner = Scanner(index, engine)
        timings, ceilings = [], []
        for _ in range(3):
            ceilings.append(_ceiling(kept, params, engine))
            started = time.perf_counter()
            flagged = sum(bool(scanner.scan(document)) for document in kept)
            timings.append(time.perf_counter() - started)
        median, ceiling = statistics.median(timings), statistics.median(ceilings)
        print(
            f"index {size:>9,} completions: build {size / build_s:,.0f} completions/s (fingerprinting), "
            f"{fingerprints / max(len(index.unit_sources), 1):.1f} fingerprints/unit = "
            f"{8 * fingerprints / size:.0f} B/completion (raw hashes); "
            f"scan {corpus_bytes / 1e6 / median:.1f} MB/s (median of 3; tokenising and hashing alone "
            f"{corpus_bytes / 1e6 / ceiling:.1f} MB/s in the same run), {flagged} files flagged"
        )
        del index, scanner


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
