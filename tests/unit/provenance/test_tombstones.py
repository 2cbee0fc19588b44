"""A sealed record the database refuses leaves a tombstone, so the chain never breaks (issue 11, item 5).

Before: the row went to rejected.jsonl only; ``verify`` reported "removed" for ever after and the
checkpointer stopped at the hole, so nothing recorded later was ever covered by a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from proxy.provenance.verify import verify_database
from proxy.store.chain_rows import last_sealed
from proxy.store.inserts import REJECTED_FILE, EventInserter
from proxy.store.rows import event_row
from tests.support import provenance_fixtures
from tests.support.provenance_fixtures import Store, make_event

signing_key = provenance_fixtures.signing_key
store = provenance_fixtures.store


def _record_with_refusals(store: Store, spool: Path, refused: set[int], count: int = 6) -> list[str]:
    """Seal ``count`` events as the writer does and load them as the loader does; the database
    refuses those at the indexes in ``refused`` (a NOT NULL column left empty)."""
    events = [make_event(i) for i in range(count)]
    for index in refused:
        events[index].method = None  # type: ignore[assignment]  # what the database will refuse
    links = store.chain.seal(events)
    pairs = [(event_row(e, link), None) for e, link in zip(events, links, strict=True)]
    result = EventInserter(store.engine, spool).insert(pairs)
    assert result.rejected == len(refused)
    return [e.id for e in events]


def test_a_refused_record_keeps_the_chain_and_the_checkpoints_whole(store: Store, tmp_path: Path) -> None:
    ids = _record_with_refusals(store, tmp_path, refused={2, 5})  # one inside the chain, one at its head
    assert last_sealed(store.engine) is not None and last_sealed(store.engine)[0] == 6  # type: ignore[index]
    checkpoint = store.checkpointer.checkpoint_now()
    assert checkpoint is not None and checkpoint.tree_size == 6  # not stuck at the hole (2)
    report = verify_database(store.engine, store.keyring(), full=True)
    assert report.ok, report.finding
    assert report.last_seq == 6 and report.verified_tree_size == 6
    refused_notes = [note for note in report.notes if "refused by the database" in note]
    assert [ids[2] in refused_notes[0], ids[5] in refused_notes[1]] == [True, True]
    kept = [orjson.loads(line) for line in (tmp_path / REJECTED_FILE).read_bytes().splitlines()]
    assert len(kept) == 2  # the full records stay where an operator finds them
    # The next record after a restart takes the next position, not the tombstone's.
    more = _record_with_refusals(store, tmp_path, refused=set(), count=1)
    assert last_sealed(store.engine)[0] == 7 and more  # type: ignore[index]
    assert verify_database(store.engine, store.keyring(), full=True).ok


def test_a_forged_tombstone_is_found(store: Store, tmp_path: Path) -> None:
    _record_with_refusals(store, tmp_path, refused={3})
    store.execute("UPDATE rejected_records SET canonical = replace(canonical, 'anthropic', 'openai')")
    report = verify_database(store.engine, store.keyring(), full=True)
    assert report.finding is not None and report.finding.kind == "altered" and report.finding.seq == 4
    assert "tombstone" in report.finding.detail


def test_a_deleted_tombstone_is_a_removed_record(store: Store, tmp_path: Path) -> None:
    _record_with_refusals(store, tmp_path, refused={3})
    store.execute("DELETE FROM rejected_records")
    report = verify_database(store.engine, store.keyring(), full=True)
    assert report.finding is not None and report.finding.kind == "removed" and report.finding.seq == 4
