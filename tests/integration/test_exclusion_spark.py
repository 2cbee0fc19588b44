"""The PySpark job on ``local[2]`` finds exactly what ``provproxy exclude scan`` finds on the same Parquet."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.test_exclusion_cli import LRU, provproxy
from tests.support.fixtures_proxy import ProxyFactory
from tests.unit.exclusion.helpers import rewrite_python, sample

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a JRE (.ci/run installs one)")


def test_spark_job_on_local_2_equals_the_cli(
    start_proxy: ProxyFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import SparkSession

    from proxy.exclusion.spark_job import run

    proxy = start_proxy()
    imported = tmp_path / "old.jsonl"
    imported.write_text(json.dumps({"id": "legacy-1", "text": "Try this:\n\n```python\n" + LRU + "```\n"}) + "\n")
    assert provproxy(proxy, "exclude", "import", str(imported)).returncode == 0
    export, public = tmp_path / "index", tmp_path / "public.pem"
    assert provproxy(proxy, "exclude", "export", "-o", str(export)).returncode == 0
    public.write_text(provproxy(proxy, "keys", "public").stdout)

    host = sample("near_miss_cache.py")
    rows = [
        {"id": f"doc-{i}", "path": f"src/m{i}.py", "text": text}
        for i, text in enumerate(
            [host, host + "\n" + rewrite_python(LRU, rename=True), sample("debounce.js"), LRU, "plain words " * 50]
        )
    ]
    corpus = tmp_path / "corpus.parquet"
    pq.write_table(pa.Table.from_pylist(rows), corpus)
    cli = provproxy(
        proxy, "exclude", "scan", "--json", "--index", str(export), "--public-key", str(public), str(corpus)
    )
    assert cli.returncode == 1, cli.stderr
    expected = [json.loads(line) for line in cli.stdout.splitlines()]

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the workers run this virtualenv's Python
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    try:
        run(spark, export, public.read_bytes(), str(corpus), str(tmp_path / "matches"))
        found = [row.asDict() for row in spark.read.parquet(str(tmp_path / "matches")).collect()]
    finally:
        spark.stop()
    for match in found:
        match["spans"] = [list(span) for span in match["spans"]]
    assert sorted(found, key=json.dumps) == sorted(expected, key=json.dumps)
    assert {m["path"] for m in found} == {"doc-1", "doc-3"}
