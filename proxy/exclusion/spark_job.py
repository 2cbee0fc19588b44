"""The exclusion scan as a PySpark job: corpus Parquet in, matches Parquet out, the same matcher as the CLI.

    python -m proxy.exclusion.spark_job --index DIR --public-key KEY.pem \\
        --corpus 'shards/*.parquet' --output matches.parquet [--master local[4]]

The driver verifies the signed export once; each executor loads the index once
per Python worker and scans its partitions with :class:`~proxy.exclusion.scan.Scanner`.
Corpus rows need a text column (``text``, ``content`` or ``code``) and may have
``id``/``path``/``key``: the same as ``provproxy exclude scan`` reads from Parquet.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from proxy.exclusion.corpus import Skipped, row_document
from proxy.exclusion.export import load_export, verify_manifest
from proxy.exclusion.fingerprint import default_engine
from proxy.exclusion.scan import Scanner
from proxy.provenance.signing_keys import Keyring

MATCH_SCHEMA = (
    "path string, source string, score double, spans array<array<int>>, kind string, tool string, "
    "principal string, ts string, matched_fingerprints int"
)


@cache
def _scanner(index_dir: str, public_pem: bytes) -> Scanner:
    return Scanner(load_export(Path(index_dir), Keyring.from_pem(public_pem)), default_engine())


def scan_partition(rows: Iterator[Any], index_dir: str, public_pem: bytes) -> Iterator[dict[str, Any]]:
    scanner = _scanner(index_dir, public_pem)
    for number, row in enumerate(rows):
        document = row_document(row.asDict(), f"row {number}")
        if isinstance(document, Skipped):
            continue
        for match in scanner.scan(document):
            yield match.record()


def run(spark: Any, index_dir: Path, public_pem: bytes, corpus: str, output: str) -> None:
    verify_manifest(index_dir, Keyring.from_pem(public_pem))  # refuse a tampered index before any work
    frame = spark.read.parquet(corpus)
    index, pem = str(index_dir.resolve()), public_pem
    matches = frame.rdd.mapPartitions(lambda rows: scan_partition(rows, index, pem))
    spark.createDataFrame(matches, MATCH_SCHEMA).write.mode("overwrite").parquet(output)


def main(argv: list[str] | None = None) -> None:
    from pyspark.sql import SparkSession

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, type=Path, help="exported index directory")
    parser.add_argument("--public-key", required=True, type=Path, help="PEM from `provproxy keys public`")
    parser.add_argument("--corpus", required=True, help="corpus Parquet file(s) or directory")
    parser.add_argument("--output", required=True, help="where to write the matches (Parquet)")
    parser.add_argument("--master", default=None, help="Spark master, e.g. local[4] (default: spark-submit's)")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this package and its dependencies
    builder = SparkSession.builder.appName("provproxy-exclude")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        run(spark, args.index, args.public_key.read_bytes(), args.corpus, args.output)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
