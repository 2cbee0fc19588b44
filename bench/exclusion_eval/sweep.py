"""``sweep``: the fingerprint parameters (k, w, shortest indexed unit) against recall and negatives.

Each setting gets its own index and scan; the match thresholds for it are chosen on the tune
split by :func:`~bench.exclusion_eval.report.choose`, and the held-out split is shown at that pair.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.exclusion_eval.report import LONG_FIELD, arrays, breakdown, choose, grid, summary
from bench.exclusion_eval.scoring import scan
from proxy.exclusion.fingerprint import Params


def _setting(folder: Path, params: Params) -> dict[str, Any]:
    result = scan(folder, params, quick=False)
    a = arrays(result)
    best = choose(grid(a, "tune"))
    if best is None:
        return {"k": params.k_code, "w": params.w_code, "min_unit": params.min_unit_fingerprints, "chosen": None}
    c, m = best["min_containment"], int(best["min_matched"])
    out: dict[str, Any] = {"k": params.k_code, "w": params.w_code, "min_unit": params.min_unit_fingerprints}
    out["chosen"] = (c, m)
    for split in ("tune", "heldout"):
        recall = breakdown(result, a, split, c, m)["recall"]
        out[split] = {
            **summary(a, split, c, m),
            "worst_edit": min((v[0], k) for k, v in recall["edit"].items()),
            "worst_edit_long": min((v[0], k) for k, v in recall[LONG_FIELD].items()),
        }
    return out


def sweep(folder: Path, ks: list[int], ws: list[int], min_units: list[int], path: Path) -> list[dict[str, Any]]:
    rows = []
    base = Params(min_containment=0.0, min_matched=1)
    for k, w, u in itertools.product(ks, ws, min_units):
        row = _setting(folder, replace(base, k_code=k, w_code=w, min_unit_fingerprints=u))
        rows.append(row)
        print(_line(row), flush=True)
    path.write_text(json.dumps(rows, indent=1))
    return rows


def _line(row: dict[str, Any]) -> str:
    head = f"k={row['k']:>2} w={row['w']:>2} min_unit={row['min_unit']:>2}"
    if row["chosen"] is None:
        return f"{head}  no threshold pair meets the constraints on tune"
    parts = [f"{head}  thresholds {row['chosen'][0]:.2f}/{row['chosen'][1]:>2}"]
    for split in ("tune", "heldout"):
        s = row[split]
        parts.append(
            f"{split}: recall {s['recall_all']:.3f} worst {s['worst_edit'][1]} {s['worst_edit'][0]:.3f} "
            f"(10+ lines: {s['worst_edit_long'][1]} {s['worst_edit_long'][0]:.3f}) "
            f"neg {s['negatives_flagged_share']:.4f} near {s['nearmiss_flagged']} prec {s['pair_precision']:.3f}"
        )
    return "  ".join(parts)
