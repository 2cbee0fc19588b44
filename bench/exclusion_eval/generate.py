"""``generate``: download the pinned packages and write the dataset (deterministic given the seed)."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.exclusion_eval import negatives
from bench.exclusion_eval.dataset import (
    Completion,
    Doc,
    as_record,
    assign_roles,
    choose_completions,
    host_pools,
    positive_docs,
)
from bench.exclusion_eval.formatters import tool_versions
from bench.exclusion_eval.snippets import package_snippets
from bench.exclusion_eval.sources import download, load_packages


def _write_jsonl(path: Path, items: list[Completion] | list[Doc]) -> None:
    with path.open("w") as out:
        for item in items:
            out.write(json.dumps(as_record(item)) + "\n")


def generate(out: Path, seed: int, completions: int) -> dict[str, Any]:
    started = time.perf_counter()
    failures = download(out)
    rng = random.Random(seed)
    packages = load_packages(out, seed)
    roles = assign_roles(packages, rng)
    snippets = package_snippets(packages)
    print(f"{len(packages)} packages, {len(snippets)} snippets ({time.perf_counter() - started:.0f} s)", flush=True)
    chosen = choose_completions(snippets, roles, completions, rng)
    hosts = host_pools(packages, roles, "host")
    negative_files = host_pools(packages, roles, "negative")
    positives, drops = positive_docs(chosen, hosts, out / "tools", rng)
    print(f"{len(chosen)} completions, {len(positives)} positive documents", flush=True)
    pairs = negatives.near_miss_pairs(snippets, roles, rng)
    near_sources, near_docs = negatives.near_miss_docs(pairs, roles, negative_files, rng)
    per_language = max(20, completions // 12)
    unrelated = negatives.unrelated_docs(negative_files, per_language, rng)
    boiler = negatives.boilerplate_docs(packages, roles, snippets, max(10, per_language // 4), rng)
    documents = positives + near_docs + unrelated + boiler
    folder = out / "dataset"
    folder.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / "completions.jsonl", chosen + near_sources)
    _write_jsonl(folder / "documents.jsonl", documents)
    meta = {
        "seed": seed,
        "completions_requested": completions,
        "download_failures": failures,
        "packages": {p.name: {"version": p.version, **asdict(roles[p.name]), "files": len(p.files)} for p in packages},
        "snippets": dict(Counter(f"{s.language}/{s.bucket}" for s in snippets)),
        "completions": dict(Counter(f"{c.language}/{c.style}" for c in chosen)),
        "documents": dict(Counter(f"{d.kind}/{d.language}" for d in documents)),
        "edit_drops": dict(drops),
        "tools": tool_versions(out / "tools"),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta
