"""Tamper with the database directly in SQL; verify must name the first broken record."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from proxy.provenance.canonical import CANONICAL_FIELDS, canonical_values
from proxy.provenance.chain import record_hash
from proxy.provenance.checkpoint import Checkpointer, verify_note
from proxy.provenance.signing_keys import Keyring, SigningKey
from proxy.provenance.verify import verify_database
from tests.support import provenance_fixtures
from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture, for the PostgreSQL runs)
from tests.support.provenance_fixtures import Store, make_event, open_store

# This module's fixtures (tests/support/provenance_fixtures.py says why they are assigned).
signing_key = provenance_fixtures.signing_key


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path, signing_key: SigningKey) -> Iterator[Store]:
    """Every tamper test runs against SQLite and a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'events.db'}"
    else:
        url = request.getfixturevalue("pg_server").new_database()
    opened = open_store(url, tmp_path, signing_key)
    yield opened
    opened.engine.dispose()


def seal_and_checkpoint(store: Store, batches: int = 3, per_batch: int = 10) -> None:
    for index in range(batches):
        store.record(per_batch, start=index * per_batch)
        assert store.checkpointer.checkpoint_now() is not None


def event_id_at(store: Store, seq: int) -> str:
    with store.engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT id FROM events WHERE seq = :s"), {"s": seq}).scalar_one())


def check(store: Store, state: Path | None = None, full: bool = False):  # type: ignore[no-untyped-def]
    return verify_database(store.engine, store.keyring(), state, full=full)


def test_untouched_database_verifies_clean(store: Store) -> None:
    seal_and_checkpoint(store)
    store.record(5, start=100)  # after the last checkpoint: chain only
    report = check(store)
    assert report.ok, report.finding
    assert report.records_checked == 35
    assert report.checkpoints_checked == 3
    assert report.verified_tree_size == 30


def test_edited_field_is_named(store: Store) -> None:
    seal_and_checkpoint(store)
    target = event_id_at(store, 17)
    store.execute("UPDATE events SET model = 'gpt-4o' WHERE seq = 17")
    finding = check(store).finding
    assert finding is not None
    assert (finding.kind, finding.seq, finding.event_id) == ("altered", 17, target)


def test_edited_boolean_and_timestamp_are_named(store: Store) -> None:
    seal_and_checkpoint(store)
    store.execute("UPDATE events SET output_truncated = :t WHERE seq = 4", t=True)
    store.execute("UPDATE events SET ts = :ts WHERE seq = 9", ts=datetime(2030, 1, 1, tzinfo=UTC))
    finding = check(store).finding
    assert finding is not None and (finding.kind, finding.seq) == ("altered", 4)


def test_deleted_row_is_named(store: Store) -> None:
    seal_and_checkpoint(store)
    store.execute("DELETE FROM events WHERE seq = 12")
    finding = check(store).finding
    assert finding is not None
    assert (finding.kind, finding.seq) == ("removed", 12)


def test_deleted_row_with_renumbering_is_named(store: Store) -> None:
    seal_and_checkpoint(store)
    follower = event_id_at(store, 13)
    store.execute("DELETE FROM events WHERE seq = 12")
    for seq in range(13, 31):
        store.execute("UPDATE events SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    finding = check(store).finding
    assert finding is not None
    assert (finding.kind, finding.seq, finding.event_id) == ("removed", 12, follower)


def test_reordered_rows_are_named(store: Store) -> None:
    seal_and_checkpoint(store)
    first, second = event_id_at(store, 8), event_id_at(store, 21)
    store.execute("UPDATE events SET seq = -1 WHERE seq = 8")
    store.execute("UPDATE events SET seq = 8 WHERE seq = 21")
    store.execute("UPDATE events SET seq = 21 WHERE seq = -1")
    finding = check(store).finding
    assert finding is not None
    assert (finding.kind, finding.seq, finding.event_id) == ("reordered", 8, second)
    assert first != second


def test_inserted_forged_row_is_named(store: Store) -> None:
    """The forger even computes a correct hash for the row it slips in at seq 6."""
    seal_and_checkpoint(store)
    for seq in range(30, 5, -1):
        store.execute("UPDATE events SET seq = :new WHERE seq = :old", new=seq + 1, old=seq)
    with store.engine.connect() as conn:
        prev = conn.execute(sa.text("SELECT record_hash FROM events WHERE seq = 5")).scalar_one()
    forged = make_event(999)
    values = [getattr(forged, name) for name in CANONICAL_FIELDS]
    with store.engine.begin() as conn:
        conn.execute(
            store.events.insert(),
            {
                **{name: getattr(forged, name) for name in CANONICAL_FIELDS},
                "scores": {},
                "rule_hits": [],
                "seq": 6,
                "prev_hash": prev,
                "record_hash": record_hash(prev, 6, canonical_values(values)),
            },
        )
    finding = check(store).finding
    assert finding is not None
    assert (finding.kind, finding.seq, finding.event_id) == ("inserted", 6, forged.id)


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(store: Store) -> None:
    """An attacker who edits a record and re-hashes the whole chain after it."""
    seal_and_checkpoint(store)
    store.execute("UPDATE events SET principal = 'someone-else' WHERE seq = 15")
    with store.engine.begin() as conn:
        rows: Sequence[Any] = conn.execute(
            sa.select(*[sa.column(n) for n in ("seq", *CANONICAL_FIELDS)])
            .select_from(sa.table("events"))
            .where(sa.column("seq") >= 15)
            .order_by(sa.column("seq"))
        ).all()
        prev = conn.execute(sa.text("SELECT record_hash FROM events WHERE seq = 14")).scalar_one()
        for row in rows:
            digest = record_hash(prev, row[0], canonical_values(row[1:]))
            conn.execute(
                sa.text("UPDATE events SET prev_hash = :p, record_hash = :h WHERE seq = :s"),
                {"p": prev, "h": digest, "s": row[0]},
            )
            prev = digest
    finding = check(store).finding
    assert finding is not None
    assert (finding.kind, finding.seq) == ("checkpoint_mismatch", 11)  # checkpoints at 10, 20, 30
    assert "11..20" in finding.detail


def test_unsealed_row_is_reported(store: Store) -> None:
    seal_and_checkpoint(store, batches=1)
    stray = make_event(500)
    with store.engine.begin() as conn:
        conn.execute(
            store.events.insert(),
            {**{name: getattr(stray, name) for name in CANONICAL_FIELDS}, "scores": {}, "rule_hits": []},
        )
    finding = check(store).finding
    assert finding is not None and (finding.kind, finding.event_id) == ("inserted", stray.id)


def test_tampered_checkpoint_signature_is_detected(store: Store) -> None:
    seal_and_checkpoint(store)
    with store.engine.connect() as conn:
        body = conn.execute(sa.text("SELECT body FROM checkpoints WHERE tree_size = 20")).scalar_one()
    sig_line = body.rstrip("\n").rsplit(" ", 1)
    blob = sig_line[1]
    tampered_blob = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
    store.execute("UPDATE checkpoints SET body = :b WHERE tree_size = 20", b=f"{sig_line[0]} {tampered_blob}\n")
    finding = check(store).finding
    assert finding is not None and finding.kind == "checkpoint_invalid"
    assert "size 20" in finding.detail


def test_checkpoint_root_column_edit_is_detected(store: Store) -> None:
    seal_and_checkpoint(store)
    store.execute("UPDATE checkpoints SET root_hash = :r WHERE tree_size = 10", r="0" * 64)
    finding = check(store).finding
    assert finding is not None and finding.kind == "checkpoint_invalid"


def test_truncated_log_is_detected(store: Store) -> None:
    seal_and_checkpoint(store)
    store.execute("DELETE FROM events WHERE seq > 25")
    finding = check(store).finding
    assert finding is not None and (finding.kind, finding.seq) == ("removed", 26)


def test_incremental_verify_resumes_from_last_checkpoint(store: Store, tmp_path: Path) -> None:
    state = tmp_path / "verify-state.json"
    seal_and_checkpoint(store)
    first = check(store, state)
    assert first.ok and first.resumed_after == 0 and first.records_checked == 30
    store.record(10, start=30)
    store.checkpointer.checkpoint_now()
    second = check(store, state)
    assert second.ok and second.resumed_after == 30 and second.records_checked == 10
    # an edit before the verified point is invisible to the incremental walk by design ...
    store.execute("UPDATE events SET model = 'x' WHERE seq = 3")
    assert check(store, state).ok
    # ... and found by a full one
    finding = check(store, state, full=True).finding
    assert finding is not None and (finding.kind, finding.seq) == ("altered", 3)


def test_incremental_verify_restarts_when_the_verified_head_changed(store: Store, tmp_path: Path) -> None:
    state = tmp_path / "verify-state.json"
    seal_and_checkpoint(store)
    assert check(store, state).ok
    store.execute("UPDATE events SET record_hash = :h WHERE seq = 30", h="f" * 64)
    report = check(store, state)
    assert report.resumed_after == 0 and report.notes
    assert report.finding is not None and report.finding.seq == 30


def test_checkpointer_recovers_its_frontier_after_restart(store: Store, tmp_path: Path) -> None:
    seal_and_checkpoint(store, batches=2)
    (store.checkpoint_dir / Checkpointer.FRONTIER_FILE).unlink()  # lost state: rebuilt from the DB
    restarted = Checkpointer(store.engine, store.key, store.checkpoint_dir)
    store.record(7, start=50)
    checkpoint = restarted.checkpoint_now()
    assert checkpoint is not None and checkpoint.tree_size == 27
    assert restarted.checkpoint_now() is None  # nothing new
    again = Checkpointer(store.engine, store.key, store.checkpoint_dir)  # from the saved frontier
    store.record(3, start=60)
    assert again.checkpoint_now() is not None
    assert check(store).ok
    published = sorted(store.checkpoint_dir.glob("checkpoint-*.txt"))
    assert [verify_note(p.read_text(), store.keyring()).tree_size for p in published] == [10, 20, 27, 30]


def test_checkpointer_stops_at_a_gap_and_refuses_a_broken_link(store: Store) -> None:
    store.record(5)
    store.execute("DELETE FROM events WHERE seq = 4")
    checkpoint = store.checkpointer.checkpoint_now()
    assert checkpoint is not None and checkpoint.tree_size == 3  # seq 4 may still be in flight
    store.execute("UPDATE events SET seq = 4 WHERE seq = 5")
    with pytest.raises(Exception, match="does not link"):
        store.checkpointer.checkpoint_now()


def test_chain_resumes_from_the_database_after_restart(store: Store) -> None:
    store.record(4)
    from proxy.provenance import last_sealed_in_database
    from proxy.provenance.chain import HashChain

    store.chain = HashChain(last_sealed_in_database(store.engine))
    store.record(4, start=4)
    assert check(store).ok


def test_checkpoints_by_rotated_keys_all_verify(store: Store, tmp_path: Path) -> None:
    from proxy.provenance.signing_keys import load_keyring, load_or_create_signing_key, rotate_signing_key

    key_file = tmp_path / "keys" / "signing-key.pem"
    seal_and_checkpoint(store, batches=1)
    old_kid, new_kid = rotate_signing_key(key_file)
    assert old_kid == store.key.key_id and new_kid != old_kid
    new_key = load_or_create_signing_key(key_file)
    rotated = Checkpointer(store.engine, new_key, store.checkpoint_dir)
    store.record(10, start=10)
    assert rotated.checkpoint_now() is not None
    with store.engine.connect() as conn:
        kids = [r[0] for r in conn.execute(sa.text("SELECT key_id FROM checkpoints ORDER BY tree_size"))]
    assert kids == [old_kid, new_kid]
    keyring = load_keyring(key_file)
    assert verify_database(store.engine, keyring).ok
    only_new = verify_database(store.engine, Keyring([new_key.public_key])).finding
    assert only_new is not None and only_new.kind == "checkpoint_invalid"


def test_checkpointer_wakes_once_per_n_sealed_events_while_the_database_lags(
    store: Store, signing_key: SigningKey
) -> None:
    """Sealed events reach the database later than they are sealed; a checkpointer that
    counted from its last checkpoint would try (and find nothing) on every event meanwhile."""
    attempts = 0

    class Counting(Checkpointer):
        def checkpoint_now(self) -> None:
            nonlocal attempts
            attempts += 1

    checkpointer = Counting(store.engine, signing_key, store.checkpoint_dir, every_events=10, every_s=3600)
    checkpointer.start()
    try:
        for seq in range(1, 101):  # nothing reaches the database: its frontier stays at 0
            checkpointer.notify_sealed(seq)
            time.sleep(0.002)  # long enough for a woken thread to run before the next event
    finally:
        checkpointer.stop()
    assert 5 <= attempts <= 11, f"{attempts} checkpoint attempts for 100 sealed events, every 10"


def test_checkpoint_during_a_database_outage_is_one_warning_not_a_traceback(
    tmp_path: Path, signing_key: SigningKey
) -> None:
    """The soak (bench/soak.py) found a traceback logged on every checkpoint attempt while PostgreSQL was down."""
    from structlog.testing import capture_logs

    from proxy.store.db import create_db_engine

    unreachable = create_db_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    checkpointer = Checkpointer(unreachable, signing_key, tmp_path / "checkpoints", every_events=10, every_s=3600)
    with capture_logs() as logs:
        checkpointer._checkpoint_logged()
    assert [(e["event"], e["log_level"]) for e in logs] == [("provenance.checkpoint_deferred", "warning")]
    assert "\n" not in logs[0]["error"] and "unable to open database file" in logs[0]["error"]
