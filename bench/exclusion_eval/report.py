"""Post-hoc scoring of the raw pairs at any (min_containment, min_matched): recall, negatives, precision, grid."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.exclusion_eval.audit import code_lines, verified_copy
from bench.exclusion_eval.dataset import EDITS
from bench.exclusion_eval.scoring import ScanResult
from proxy.exclusion.fingerprint import Params

CONTAINMENTS = [round(0.05 * i, 2) for i in range(1, 19)]
MATCHED = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20]
MAX_NEGATIVE_SHARE = 0.01
LONG_ENOUGH = 10  # code lines of a completion in a document: fewer is a short snippet, which the issue wants left alone
LONG_FIELD = f"edit|{LONG_ENOUGH}+ code lines in the document"
RECALL_FIELDS = ("edit", "language", "bucket", "code-lines", "style", "edit|indexed", LONG_FIELD)
AUDIT_SCORE, AUDIT_MATCHED = 0.25, 3  # pairs below are not audited: counted as false (conservative)
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Arrays:
    doc: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    matched: npt.NDArray[np.int64]
    correct: Bools
    true_pair: npt.NDArray[np.int64]  # per document: its true pair's index, -1 if none (or not found at all)
    kind: npt.NDArray[np.str_]
    split: npt.NDArray[np.str_]
    indexed: Bools  # per document: its completion made it into the index (long enough)
    copy: Bools  # per pair: not the dataset's pair, but the document verifiably holds that code (audit.py)
    source: Bools  # per pair: a near-miss document paired with its own near-miss source
    edit: npt.NDArray[np.str_]  # per document: its edit ("" when not a positive)
    long: Bools  # per document: it holds LONG_ENOUGH or more code lines of its completion


def _snippet(completion: str) -> str:
    return completion.split("-", 1)[1]


def arrays(result: ScanResult) -> Arrays:
    docs = result.documents
    # c-<snippet> and n-<snippet> (a near-miss source) hold the same snippet: either is a correct pair.
    truth = [_snippet(d["completion"]) if d["kind"] == "positive" else None for d in docs]
    near = [_snippet(d["completion"]) if d["kind"] == "nearmiss" else None for d in docs]
    code = {c["id"]: c["code"] for c in result.completions}
    true_pair = np.full(len(docs), -1, dtype=np.int64)
    correct = np.zeros(len(result.pairs), dtype=bool)
    copy = np.zeros(len(result.pairs), dtype=bool)
    source = np.zeros(len(result.pairs), dtype=bool)
    for i, pair in enumerate(result.pairs):
        doc = docs[pair.document]
        if truth[pair.document] == _snippet(pair.completion):
            correct[i] = True
            true_pair[pair.document] = i
        elif near[pair.document] == _snippet(pair.completion):
            source[i] = True
        elif pair.score >= AUDIT_SCORE and pair.matched >= AUDIT_MATCHED:
            copy[i] = verified_copy(code[pair.completion], doc["text"], doc["language"])
    return Arrays(
        np.array([p.document for p in result.pairs], dtype=np.int64),
        np.array([p.score for p in result.pairs], dtype=np.float64),
        np.array([p.matched for p in result.pairs], dtype=np.int64),
        correct,
        true_pair,
        np.array([d["kind"] for d in docs]),
        np.array([d["split"] for d in docs]),
        np.array([d["completion"] in result.indexed for d in docs], dtype=bool),
        copy,
        source,
        np.array([d["edit"] or "" for d in docs]),
        np.array([_long_enough(d, code) for d in docs], dtype=bool),
    )


def _long_enough(doc: dict[str, Any], code: dict[str, str]) -> bool:
    if doc["kind"] != "positive":
        return False
    lines = code_lines(code[doc["completion"]], doc["language"])
    return ((lines + 1) // 2 if doc["edit"] in ("half", "all") else lines) >= LONG_ENOUGH


def _flagged(a: Arrays, containment: float, matched: int) -> Bools:
    """The product's rule (``Params.matches``) at these thresholds; the found-whole part at its defaults."""
    whole = Params()
    return ((a.score >= containment - 1e-12) & (a.matched >= matched)) | (
        (a.score >= whole.whole_containment - 1e-12) & (a.matched >= whole.min_matched_whole)
    )


def summary(a: Arrays, split: str, containment: float, matched: int) -> dict[str, float]:
    flagged = _flagged(a, containment, matched)
    in_split = a.split == split
    wrongly = np.zeros(len(a.kind), dtype=bool)  # a document flagged for code it does not hold
    wrongly[a.doc[flagged & ~a.copy & ~a.correct]] = True
    positive = in_split & (a.kind == "positive")
    found = positive & (a.true_pair >= 0)
    found[found] = flagged[a.true_pair[found]]
    negative = in_split & np.isin(a.kind, ["negative", "boilerplate"])
    pair_in = flagged & in_split[a.doc]
    copies = np.zeros(len(a.kind), dtype=bool)
    copies[a.doc[flagged & a.copy]] = True
    long = positive & a.long
    per_edit = [
        found[long & (a.edit == e)].sum() / (long & (a.edit == e)).sum() for e in EDITS if (a.edit[long] == e).any()
    ]
    return {
        "recall_long": float(found[long].sum() / max(long.sum(), 1)),
        "recall_long_worst_edit": float(min(per_edit, default=0.0)),
        "recall_all": float(found.sum() / max(positive.sum(), 1)),
        "positives": int(positive.sum()),
        "recall_indexed": float(found.sum() / max((positive & a.indexed).sum(), 1)),
        "positives_indexed": int((positive & a.indexed).sum()),
        "negatives_flagged_share": float(wrongly[negative].sum() / max(negative.sum(), 1)),
        "negatives": int(negative.sum()),
        "negatives_holding_verified_copies": int((copies & negative).sum()),
        "nearmiss_flagged": int((pair_in & a.source).sum()),
        "nearmisses": int((in_split & (a.kind == "nearmiss")).sum()),
        "pair_precision": float((a.correct | a.copy)[pair_in].sum() / max(pair_in.sum(), 1)),
        "flagged_pairs": int(pair_in.sum()),
        "verified_copy_pairs": int((pair_in & a.copy).sum()),
    }


def breakdown(result: ScanResult, a: Arrays, split: str, containment: float, matched: int) -> dict[str, Any]:
    """Recall per edit type, language, length bucket and completion style; negatives per kind and language."""
    flagged = _flagged(a, containment, matched)
    by_id = {c["id"]: c for c in result.completions}
    fields = RECALL_FIELDS
    hits: dict[str, Counter[str]] = {field: Counter() for field in fields}
    totals: dict[str, Counter[str]] = {key: Counter() for key in hits}
    doc_flagged = set(a.doc[flagged & ~a.copy & ~a.correct].tolist())  # for code it does not hold
    negatives: Counter[str] = Counter()
    negative_totals: Counter[str] = Counter()
    for i, doc in enumerate(result.documents):
        if doc["split"] != split:
            continue
        if doc["kind"] != "positive":
            key = f"{doc['kind']}/{doc['language']}"
            negative_totals[key] += 1
            negatives[key] += i in doc_flagged
            continue
        completion = by_id[doc["completion"]]
        found = a.true_pair[i] >= 0 and bool(flagged[a.true_pair[i]])
        for field, value in (("edit", doc["edit"]), ("language", doc["language"]), ("bucket", completion["bucket"])):
            totals[field][value] += 1
            hits[field][value] += found
        totals["style"][completion["style"]] += 1
        hits["style"][completion["style"]] += found
        lines = code_lines(completion["code"], completion["language"])
        totals["code-lines"][_lines_bucket(lines)] += 1
        hits["code-lines"][_lines_bucket(lines)] += found
        in_document = (lines + 1) // 2 if doc["edit"] in ("half", "all") else lines
        if in_document >= LONG_ENOUGH:
            totals[LONG_FIELD][doc["edit"]] += 1
            hits[LONG_FIELD][doc["edit"]] += found
        if a.indexed[i]:
            totals["edit|indexed"][doc["edit"]] += 1
            hits["edit|indexed"][doc["edit"]] += found
    recall = {f: {k: [hits[f][k] / n, n] for k, n in sorted(totals[f].items())} for f in totals}
    flagged_negatives = {k: [negatives[k], n] for k, n in sorted(negative_totals.items())}
    return {"recall": recall, "negatives_flagged": flagged_negatives}


def _lines_bucket(lines: int) -> str:
    for low, high in ((0, 5), (6, 9), (10, 14), (15, 24), (25, 49)):
        if lines <= high:
            return f"{low:02d}-{high:02d}"
    return "50+"


def grid(a: Arrays, split: str) -> list[dict[str, float]]:
    return [{"min_containment": c, "min_matched": m, **summary(a, split, c, m)} for c in CONTAINMENTS for m in MATCHED]


def choose(points: list[dict[str, float]]) -> dict[str, float] | None:
    """The highest recall on the worst edit type (documents holding 10+ code lines of the completion),
    with negatives ≤ 1 % and no near-miss flagged (the issue's goals); ties: overall recall on such
    documents, pair precision, stricter thresholds. Pair precision is reported, not constrained: pairs of
    sibling functions that normalise alike (same shape, other names) count against it."""
    ok = [p for p in points if p["negatives_flagged_share"] <= MAX_NEGATIVE_SHARE and p["nearmiss_flagged"] == 0]
    key = lambda p: (  # noqa: E731
        p["recall_long_worst_edit"],
        p["recall_long"],
        p["pair_precision"],
        p["min_containment"],
        p["min_matched"],
    )
    return max(ok, key=key) if ok else None


def false_pairs(result: ScanResult, a: Arrays, containment: float, matched: int, limit: int = 25) -> list[Any]:
    wrong = np.flatnonzero(_flagged(a, containment, matched) & ~a.correct)
    wrong = wrong[np.argsort(-a.score[wrong])][:limit]
    return [
        {
            "document": result.documents[a.doc[i]]["key"],
            "completion": result.pairs[i].completion,
            "score": round(float(a.score[i]), 3),
            "matched": int(a.matched[i]),
        }
        for i in wrong
    ]


def _columns(result: ScanResult, a: Arrays, chosen: tuple[float, int]) -> dict[str, dict[str, Any]]:
    defaults = Params()
    settings = {"default": (defaults.min_containment, defaults.min_matched), "chosen": chosen}
    columns = {}
    for split in ("tune", "heldout"):
        for name, (c, m) in settings.items():
            columns[f"{split}@{name}"] = {
                "thresholds": {"min_containment": c, "min_matched": m},
                **summary(a, split, c, m),
                **breakdown(result, a, split, c, m),
                "false_pairs": false_pairs(result, a, c, m),
            }
    return columns


def _rows(columns: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = [
        ("min_containment / min_matched", [f"{c['thresholds']['min_containment']} / {c['thresholds']['min_matched']}"
                                           for c in columns.values()]),
    ]  # fmt: skip

    def cell(value: list[float]) -> str:
        return f"{value[0]:.3f} ({value[1]})"

    for field in RECALL_FIELDS:
        keys = sorted({k for c in columns.values() for k in c["recall"][field]}, key=lambda k: (k not in EDITS, k))
        for key in keys:
            rows.append(
                (f"recall {field}={key}", [cell(c["recall"][field].get(key, [0.0, 0])) for c in columns.values()])
            )
    rows.append(("recall (all positives)", [f"{c['recall_all']:.3f} ({c['positives']})" for c in columns.values()]))
    rows.append(
        (f"recall (documents with {LONG_ENOUGH}+ code lines)", [f"{c['recall_long']:.3f}" for c in columns.values()])
    )
    rows.append(("  its worst edit type", [f"{c['recall_long_worst_edit']:.3f}" for c in columns.values()]))
    rows.append(("recall (indexed completions)", [f"{c['recall_indexed']:.3f} ({c['positives_indexed']})"
                                                  for c in columns.values()]))  # fmt: skip
    rows.append(("negatives flagged (share)", [f"{c['negatives_flagged_share']:.4f} of {c['negatives']}"
                                               for c in columns.values()]))  # fmt: skip
    for key in sorted({k for c in columns.values() for k in c["negatives_flagged"]}):
        counts = [c["negatives_flagged"].get(key, [0, 0]) for c in columns.values()]
        rows.append((f"  flagged {key}", [f"{flagged} / {total}" for flagged, total in counts]))
    rows.append(("  negatives holding a verified copy", [f"{c['negatives_holding_verified_copies']}"
                                                        for c in columns.values()]))  # fmt: skip
    rows.append(("near-misses flagged", [f"{c['nearmiss_flagged']} of {c['nearmisses']}" for c in columns.values()]))
    rows.append(
        ("pair precision", [f"{c['pair_precision']:.4f} ({c['flagged_pairs']} pairs)" for c in columns.values()])
    )
    rows.append(("  of which verified copies", [f"{c['verified_copy_pairs']}" for c in columns.values()]))
    return rows


def print_table(columns: dict[str, dict[str, Any]]) -> None:
    rows = _rows(columns)
    width = max(len(label) for label, _ in rows) + 2
    cells = [max(len(name), *(len(values[i]) for _, values in rows)) + 2 for i, name in enumerate(columns)]
    print("".ljust(width) + "".join(name.rjust(w) for name, w in zip(columns, cells, strict=True)))
    for label, values in rows:
        print(label.ljust(width) + "".join(v.rjust(w) for v, w in zip(values, cells, strict=True)))


def report(result: ScanResult, params: Params, path: Path) -> dict[str, Any]:
    a = arrays(result)
    points = grid(a, "tune")
    best = choose(points)
    chosen = (best["min_containment"], int(best["min_matched"])) if best else (Params().min_containment, 6)
    columns = _columns(result, a, chosen)
    not_indexed = [c["id"] for c in result.completions if c["id"] not in result.indexed]
    print_table(columns)
    print(f"\nchosen on tune: {best if best else 'no threshold pair meets the constraints (defaults shown)'}")
    print(f"completions {len(result.completions)} ({len(not_indexed)} too short to be indexed); documents "
          f"{len(result.documents)}, {result.seconds['scanned_mb']:.1f} MB; index {result.seconds['index']:.1f} s, "
          f"scan {result.seconds['scan']:.1f} s")  # fmt: skip
    out = {
        "params": asdict(params),
        "chosen_on_tune": best,
        "columns": columns,
        "tune_grid": points,
        "heldout_grid": grid(a, "heldout"),
        "completions": len(result.completions),
        "not_indexed": not_indexed,
        "documents": dict(Counter(f"{d['split']}/{d['kind']}" for d in result.documents)),
        "seconds": result.seconds,
    }
    path.write_text(json.dumps(out, indent=1))
    print(f"report: {path}")
    return out
