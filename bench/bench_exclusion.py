"""Exclusion speed: index build rate, bytes per completion, scan MB/s per core as the index grows.

    python bench/bench_exclusion.py [--sizes 1000,100000] [--corpus DIR]

Completions are functions cut from the Python and JavaScript sources installed
in this virtualenv (real code; no download); the scanned corpus is the same
kind of source text. Single process, median of 3. This measures speed only:
recall and precision need the edit-applying generator, which is not built yet.
"""

from __future__ import annotations

import argparse
import glob
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from proxy.exclusion.corpus import Document
from proxy.exclusion.extract import Unit
from proxy.exclusion.fingerprint import Params, default_engine
from proxy.exclusion.index import fingerprinted, loaded_from_columns
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


def _completions(sources: list[tuple[str, str]], count: int) -> list[Unit]:
    """Chunks of 30-60 lines of real code, cycling over the sources (repeats get a marker line)."""
    chunks: list[Unit] = []
    for path, text in sources:
        lines = text.splitlines()
        for start in range(0, max(len(lines) - 30, 1), 45):
            chunks.append(Unit(language_for_path(path), "\n".join(lines[start : start + 45])))
    out = []
    for i in range(count):
        unit = chunks[i % len(chunks)]
        suffix = "" if i < len(chunks) else f"\nvalue_{i} = compute_{i}(item_{i}, {i})\n" * 12
        out.append(Unit(unit.language, unit.text + suffix))
    return out


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
        started = time.perf_counter()
        indexed = [fingerprinted(SourceMeta(f"c{i}", "import"), [u], params, engine) for i, u in enumerate(completions)]
        build_s = time.perf_counter() - started
        hashes: list[int] = []
        units: list[int] = []
        metas: list[SourceMeta] = []
        languages: list[str] = []
        for source in indexed:
            for language, fingerprints in source.units:
                hashes.extend(fingerprints)
                units.extend([len(metas)] * len(fingerprints))
                metas.append(source.meta)
                languages.append(language)
        sizes = np.bincount(np.array(units, dtype=np.int32), minlength=len(metas)).astype(np.int32)
        index = loaded_from_columns(params, np.array(hashes, dtype=np.int64), np.array(units), sizes, metas, languages)
        scanner = Scanner(index, engine)
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            flagged = sum(bool(scanner.scan(document)) for document in kept)
            timings.append(time.perf_counter() - started)
        median = statistics.median(timings)
        print(
            f"index {size:>9,} completions: build {size / build_s:,.0f} completions/s (fingerprinting), "
            f"{len(hashes) / max(len(metas), 1):.1f} fingerprints/unit = {8 * len(hashes) / size:.0f} B/completion "
            f"(raw hashes), scan {corpus_bytes / 1e6 / median:.1f} MB/s (median of 3), {flagged} files flagged"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
