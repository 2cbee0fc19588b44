"""Recall and precision of exclusion scanning on a generated benchmark of real open-source code.

    python bench/eval_exclusion.py generate [--seed 1] [--completions 2400]
    python bench/eval_exclusion.py run [--quick] [--k-code K] [--w-code W]
    python bench/eval_exclusion.py sweep [--k-code 12,14,16,20] [--w-code 4,6,8,10] [--min-unit 4,6,10]

``generate`` downloads the pinned packages (bench/exclusion_eval/manifest.json) and writes
bench/results/exclusion_eval/dataset/; ``run`` indexes every completion once, scans every
document once with thresholds off, and reports recall/precision for any threshold pair, with
thresholds chosen on the tune split and reported on the held-out split. See
bench/exclusion_eval/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.exclusion_eval.generate import generate
from bench.exclusion_eval.report import report
from bench.exclusion_eval.scoring import scan
from bench.exclusion_eval.sweep import sweep
from proxy.exclusion.fingerprint import Params

OUT = Path(__file__).resolve().parent / "results" / "exclusion_eval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="download the pinned packages and build the dataset")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--completions", type=int, default=2400)
    gen.add_argument("--quick", action="store_true", help="a small dataset (300 completions)")
    run = commands.add_parser("run", help="index, scan, report")
    run.add_argument("--quick", action="store_true", help="an eighth of the completions, half the documents")
    run.add_argument("--k-code", type=int)
    run.add_argument("--w-code", type=int)
    run.add_argument("--min-unit", type=int, help="fewest fingerprints a unit needs to be indexed")
    sweep_parser = commands.add_parser("sweep", help="fingerprint parameters against recall and negatives")
    sweep_parser.add_argument("--k-code", default="12,14,16,20")
    sweep_parser.add_argument("--w-code", default="4,6,8,10")
    sweep_parser.add_argument("--min-unit", default="4,6,10")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.command == "generate":
        meta = generate(OUT, args.seed, 300 if args.quick else args.completions)
        print(f"dataset: {meta['documents']}\ndropped edits: {meta['edit_drops']}")
    elif args.command == "sweep":
        ks, ws, units = ([int(v) for v in text.split(",")] for text in (args.k_code, args.w_code, args.min_unit))
        sweep(OUT / "dataset", ks, ws, units, OUT / "sweep.json")
    else:
        params = Params(min_containment=0.0, min_matched=1)
        if args.k_code:
            params = replace(params, k_code=args.k_code)
        if args.w_code:
            params = replace(params, w_code=args.w_code)
        if args.min_unit:
            params = replace(params, min_unit_fingerprints=args.min_unit)
        result = scan(OUT / "dataset", params, args.quick)
        report(result, params, OUT / "report.json")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
