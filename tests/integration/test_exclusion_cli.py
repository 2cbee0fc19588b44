"""End to end: a completion recorded through the proxy from a real SDK call is found by
``provproxy exclude scan`` after reformatting, renaming and splicing; the export and the
pre-commit check work from files alone; bad input gets a clear message, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess
from tests.unit.exclusion.helpers import rewrite_python, sample

LRU = sample("lru_cache.py")


def provproxy(proxy: ProxyProcess, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        cwd=cwd or proxy.workdir,
        env=proxy.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _record_write_call(proxy: ProxyProcess) -> str:
    """Claude's ``Write`` tool call carrying the sample file, through the proxy from the real SDK."""
    arguments = json.dumps({"file_path": "cache.py", "content": LRU})
    client = anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-exclusion-test")
    response = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": f"write the cache [[fake:tool_call tool=Write args='{arguments}']]"}],
    )
    event_id = response.headers["x-provenance-id"]
    event = proxy.event(event_id)
    assert event["body"]["tool_calls"][0]["name"] == "Write"
    return event_id


@pytest.fixture
def recorded(start_proxy: ProxyFactory) -> tuple[ProxyProcess, str]:
    proxy = start_proxy()
    event_id = _record_write_call(proxy)
    indexed = provproxy(proxy, "exclude", "index")
    assert indexed.returncode == 0, indexed.stderr
    return proxy, event_id


def _corpus(root: Path) -> Path:
    corpus = root / "corpus"
    (corpus / "pkg").mkdir(parents=True)
    host = sample("near_miss_cache.py").splitlines()
    derived = rewrite_python(LRU, rename=True, strip=True)  # reformatted, renamed, docstrings gone
    (corpus / "pkg" / "spliced.py").write_text("\n".join([*host[:20], derived, *host[20:]]) + "\n")
    (corpus / "unrelated.py").write_text(sample("near_miss_cache.py"))
    return corpus


def test_a_recorded_completion_is_found_after_reformat_rename_and_splice(recorded: tuple[ProxyProcess, str]) -> None:
    proxy, event_id = recorded
    result = provproxy(proxy, "exclude", "scan", "--json", str(_corpus(proxy.workdir)))
    assert result.returncode == 1, result.stderr
    matches = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(m["path"], m["source"]) for m in matches] == [("pkg/spliced.py", event_id)]
    match = matches[0]
    assert match["score"] >= 0.8 and match["kind"] == "event"
    first, last = match["spans"][0][0], match["spans"][-1][1]
    splice_end = 20 + len(rewrite_python(LRU, rename=True, strip=True).splitlines())
    # The spliced lines, give or take the few lines a k-gram reaches across the splice's edges.
    assert 21 <= first <= 27 and splice_end - 3 <= last <= splice_end + 6
    assert match["ts"] and "principal" in match and "tool" in match


def test_indexing_is_incremental(recorded: tuple[ProxyProcess, str]) -> None:
    proxy, _ = recorded
    again = provproxy(proxy, "exclude", "index")
    assert again.returncode == 0 and "indexed 0 sources" in again.stdout + again.stderr


def test_the_signed_export_scans_like_the_database_and_refuses_tampering(recorded: tuple[ProxyProcess, str]) -> None:
    proxy, _ = recorded
    export = proxy.workdir / "export"
    assert provproxy(proxy, "exclude", "export", "-o", str(export)).returncode == 0
    public = proxy.workdir / "public.pem"
    public.write_text(provproxy(proxy, "keys", "public").stdout)
    corpus = _corpus(proxy.workdir)
    from_db = provproxy(proxy, "exclude", "scan", "--json", str(corpus)).stdout
    args = ("exclude", "scan", "--json", "--index", str(export), "--public-key", str(public), str(corpus))
    from_export = provproxy(proxy, *args)
    assert from_export.returncode == 1 and from_export.stdout == from_db
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["counts"]["sources"] == 1 and manifest["params"]["k_code"] > 0

    manifest["params"]["min_containment"] = 0.99  # loosen nothing, change anything: the signature breaks
    (export / "manifest.json").write_text(json.dumps(manifest))
    refused = provproxy(proxy, *args)
    assert refused.returncode == 2 and "signature does not verify" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_tampered_fingerprint_file_is_refused(recorded: tuple[ProxyProcess, str]) -> None:
    proxy, _ = recorded
    export = proxy.workdir / "export"
    assert provproxy(proxy, "exclude", "export", "-o", str(export)).returncode == 0
    with (export / "fingerprints.parquet").open("ab") as file:
        file.write(b"\0")
    refused = provproxy(proxy, "exclude", "scan", "--index", str(export), str(proxy.workdir))
    assert refused.returncode == 2 and "fingerprints.parquet does not match" in refused.stderr


def test_bad_input_gets_a_clear_message(recorded: tuple[ProxyProcess, str], tmp_path: Path) -> None:
    proxy, _ = recorded
    corpus = tmp_path / "bad"
    corpus.mkdir()
    (corpus / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    (corpus / "latin1.py").write_bytes("caf\xe9 = 1\n".encode("latin-1"))
    (corpus / "huge.py").write_text("x = 1\n" * 200_000)
    locked = corpus / "locked.py"
    locked.write_text("y = 2\n")
    locked.chmod(0)
    result = provproxy(proxy, "exclude", "scan", "--max-bytes", "1000000", str(corpus))
    locked.chmod(0o600)
    assert result.returncode == 0, result.stderr
    assert "skipped blob.bin: binary" in result.stderr
    assert "skipped latin1.py: not UTF-8" in result.stderr
    assert "skipped huge.py: too large" in result.stderr
    if os.geteuid() != 0:  # root reads any file
        assert "skipped locked.py: unreadable" in result.stderr
    missing = provproxy(proxy, "exclude", "scan", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    for finished in (result, missing):
        assert "Traceback" not in finished.stderr


def test_an_empty_index_is_an_error_not_a_clean_scan(start_proxy: ProxyFactory, tmp_path: Path) -> None:
    proxy = start_proxy()
    result = provproxy(proxy, "exclude", "scan", str(tmp_path))
    assert result.returncode == 2 and "the index is empty" in result.stderr and "Traceback" not in result.stderr
