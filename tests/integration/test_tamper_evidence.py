"""Issue 11, integrity of the record, end to end: traffic through a real proxy, then each
tampering, and ``provproxy verify`` names it; nothing the client saw complete is missing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from proxy.provenance.canonical import CANONICAL_FIELDS, canonical_values
from proxy.provenance.chain import GENESIS_HASH, record_hash
from proxy.store.chain_rows import stream_chain_rows
from proxy.store.db import create_db_engine
from proxy.store.rows import compress
from tests.integration.conftest import (
    CALL_KINDS,
    ONE_PER_ENDPOINT,
    CallResult,
    Database,
    call,
    wait_for,
)
from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess

OVERSIZED_MODEL = "claude-sonnet-4-5\x00" + "x" * 300  # NUL byte, longer than the column


def run_traffic(proxy: ProxyProcess, rounds: int = 3) -> list[CallResult]:
    results = []
    with httpx.Client(timeout=30.0) as client:
        for _ in range(rounds):
            results += [call(client, proxy.url, kind) for kind in ONE_PER_ENDPOINT]
        anthropic = CALL_KINDS[0]
        response = client.post(
            proxy.url + anthropic.path,
            headers=anthropic.headers,
            json={**anthropic.body("an oversized model name"), "model": OVERSIZED_MODEL},
        )
        results.append(
            CallResult(
                "oversized", response.status_code, response.headers.get("x-provenance-id"), True, None, response.content
            )
        )
    assert all(r.status == 200 and r.ended and r.event_id for r in results), results
    return results


def verify(proxy: ProxyProcess, database_url: str, checkpoints: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "proxy",
            "verify",
            "--full",
            "--database-url",
            database_url,
            "--checkpoints",
            str(checkpoints),
        ],
        cwd=proxy.workdir,
        env=proxy.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def stored_ids(database_url: str) -> set[str]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.exec_driver_sql("SELECT id FROM events")}
    finally:
        engine.dispose()


def copy_of(db_path: Path, name: str) -> tuple[Path, str]:
    copy = db_path.with_name(name)
    shutil.copy(db_path, copy)
    return copy, f"sqlite:///{copy}"


def rewrite_chain(path: Path, url: str) -> None:
    """Edit a record, delete the checkpoint rows, recompute every link with the project's own function."""
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET principal = 'someone-else' WHERE seq = 2")
    conn.execute("DELETE FROM checkpoints")
    conn.commit()
    engine = create_db_engine(url)
    rows = list(stream_chain_rows(engine, CANONICAL_FIELDS, 0))
    engine.dispose()
    prev = GENESIS_HASH
    for row in rows:
        digest = record_hash(prev, row[0], canonical_values(row[3:]))
        conn.execute("UPDATE events SET record_hash = ?, prev_hash = ? WHERE seq = ?", (digest, prev, row[0]))
        prev = digest
    conn.commit()
    conn.close()


def test_each_tampering_is_named_by_verify(start_proxy: ProxyFactory, tmp_path: Path) -> None:
    proxy = start_proxy(checkpoint_every_events="4", checkpoint_every_s="0.2")
    results = run_traffic(proxy)
    proxy.stop()  # the last checkpoint is signed and published at shutdown
    db_path = tmp_path / "provproxy.db"
    checkpoints = tmp_path / "checkpoints"
    assert sorted(checkpoints.glob("checkpoint-*.txt"))
    assert {r.event_id for r in results} <= stored_ids(proxy.database_url), "a completed call is missing"
    clean = verify(proxy, proxy.database_url, checkpoints)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    # 1. a rewritten chain with its checkpoint rows deleted
    path, url = copy_of(db_path, "rewritten.db")
    rewrite_chain(path, url)
    result = verify(proxy, url, checkpoints)
    assert result.returncode == 1, result.stdout
    assert "TAMPERED checkpoint_mismatch" in result.stdout and "published checkpoint-" in result.stdout

    # 2. a replaced body
    path, url = copy_of(db_path, "replaced.db")
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE event_bodies SET completion_text = ? WHERE event_id = ?",
        (compress("something else"), results[1].event_id),
    )
    conn.commit()
    conn.close()
    result = verify(proxy, url, checkpoints)
    assert result.returncode == 1, result.stdout
    assert "TAMPERED altered" in result.stdout and "completion_text" in result.stdout

    # 3. a deleted database file (recreated empty): 0 records but checkpoints exist
    path, url = copy_of(db_path, "deleted.db")
    path.unlink()
    subprocess.run(
        [sys.executable, "-m", "proxy", "migrate", "--database-url", url],
        cwd=proxy.workdir,
        env=proxy.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    result = verify(proxy, url, checkpoints)
    assert result.returncode == 1, result.stdout
    assert "TAMPERED removed" in result.stdout and "0 records but signed published checkpoint-" in result.stdout


def test_database_file_deleted_mid_run_keeps_every_later_call(start_proxy: ProxyFactory, tmp_path: Path) -> None:
    proxy = start_proxy(checkpoint_every_events="4", checkpoint_every_s="0.2")
    before = run_traffic(proxy, rounds=1)
    wait_for(lambda: {r.event_id for r in before} <= stored_ids(proxy.database_url), "the first calls stored")
    for path in tmp_path.glob("provproxy.db*"):
        path.unlink()
    after = run_traffic(proxy, rounds=2)
    proxy.stop()
    restarted = start_proxy()  # serve migrates the recreated file; the kept spool is loaded into it
    everything = {r.event_id for r in before + after}
    # The spool still held the calls loaded into the deleted file: the live database gets them all.
    wait_for(lambda: everything <= stored_ids(restarted.database_url), "every acknowledged call in the live database")
    restarted.stop()
    result = verify(restarted, restarted.database_url, tmp_path / "checkpoints")
    assert result.returncode == 0, result.stdout + result.stderr


def test_oversized_fields_are_recorded_and_verify(start_proxy: ProxyFactory, database: Database) -> None:
    proxy = start_proxy(database_url=database.url)
    results = run_traffic(proxy, rounds=1)
    wait_for(lambda: {r.event_id for r in results} <= stored_ids(database.url), "every call stored")
    proxy.stop()
    result = verify(proxy, database.url, proxy.workdir / "checkpoints")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (proxy.workdir / "spool" / "rejected.jsonl").exists()
