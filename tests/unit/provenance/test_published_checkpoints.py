"""Item 2 of issue 11: a chain rewritten with the project's own functions, and the database's
checkpoint rows deleted, is caught by the signed checkpoint files published outside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from proxy.provenance.canonical import CANONICAL_FIELDS, canonical_values
from proxy.provenance.chain import GENESIS_HASH, record_hash
from proxy.provenance.signing_keys import SigningKey, load_or_create_signing_key
from proxy.provenance.verify import verify_database
from proxy.store.chain_rows import stream_chain_rows
from tests.support.provenance_fixtures import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    key: SigningKey = load_or_create_signing_key(tmp_path / "keys" / "signing-key.pem")
    opened = open_store(f"sqlite:///{tmp_path / 'events.db'}", tmp_path, key)
    opened.record(30)
    assert opened.checkpointer.checkpoint_now() is not None  # checkpoint-000000000030.txt
    opened.record(5, start=30)
    yield opened
    opened.engine.dispose()


def rewrite_chain(store: Store) -> None:
    """What an attacker with the database and the source does: recompute every link."""
    rows = list(stream_chain_rows(store.engine, CANONICAL_FIELDS, 0))
    prev = GENESIS_HASH
    for row in rows:
        digest = record_hash(prev, row[0], canonical_values(row[3:]))
        store.execute("UPDATE events SET record_hash = :h, prev_hash = :p WHERE seq = :s", h=digest, p=prev, s=row[0])
        prev = digest


def test_rewritten_chain_without_checkpoint_rows_is_caught_by_published_files(store: Store) -> None:
    store.execute("UPDATE events SET model = 'rewritten' WHERE seq = 3")
    store.execute("DELETE FROM checkpoints")
    rewrite_chain(store)
    # The database alone is consistent again: that is the attack.
    assert verify_database(store.engine, store.keyring(), full=True).ok

    report = verify_database(store.engine, store.keyring(), full=True, published_dir=store.checkpoint_dir)
    assert report.finding is not None
    assert report.finding.kind == "checkpoint_mismatch"
    assert "checkpoint-000000000030.txt" in report.finding.detail
    assert report.published_size == 30


def test_database_behind_the_newest_published_checkpoint_is_reported(store: Store) -> None:
    store.execute("DELETE FROM events WHERE seq > 20")
    store.execute("DELETE FROM checkpoints")
    report = verify_database(store.engine, store.keyring(), full=True, published_dir=store.checkpoint_dir)
    assert report.finding is not None and report.finding.kind == "removed"
    assert "log ends at seq 20, behind signed published checkpoint-000000000030.txt" in report.finding.detail


def test_empty_database_with_published_checkpoints_is_tampering(store: Store) -> None:
    store.execute("DELETE FROM events")
    store.execute("DELETE FROM checkpoints")
    report = verify_database(store.engine, store.keyring(), full=True, published_dir=store.checkpoint_dir)
    assert report.finding is not None and report.finding.kind == "removed"
    assert report.finding.detail.startswith("0 records but signed published checkpoint-000000000030.txt covers 30")


def test_forged_published_checkpoint_is_invalid(store: Store) -> None:
    forged = store.checkpoint_dir / "checkpoint-000000000035.txt"
    forged.write_text((store.checkpoint_dir / "checkpoint-000000000030.txt").read_text().replace("\n30\n", "\n35\n"))
    report = verify_database(store.engine, store.keyring(), full=True, published_dir=store.checkpoint_dir)
    assert report.finding is not None and report.finding.kind == "checkpoint_invalid"
    assert "checkpoint-000000000035.txt" in report.finding.detail


def test_clean_chain_says_how_far_trust_reaches(store: Store) -> None:
    report = verify_database(store.engine, store.keyring(), full=True, published_dir=store.checkpoint_dir)
    assert report.ok, report.finding
    assert report.verified_tree_size == 30
    assert "trust reaches seq 30 (signed checkpoints agree with the records up to it); seq 31..35" in " ".join(
        report.notes
    )
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 35
