from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from proxy.store.checkpoints import checkpoint_covering, checkpoints_after, insert_checkpoint, latest_checkpoint

TS = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def add(engine: Engine, tree_size: int) -> None:
    insert_checkpoint(
        engine,
        tree_size=tree_size,
        root_hash=f"{tree_size:064x}",
        ts=TS,
        key_id="k1",
        signature="sig",
        body=f"note {tree_size}",
    )


def test_no_checkpoints(engine: Engine) -> None:
    assert latest_checkpoint(engine) is None
    assert checkpoint_covering(engine, 1) is None
    assert checkpoints_after(engine, 0) == []


def test_checkpoints_by_tree_size(engine: Engine) -> None:
    for size in (10, 30, 20):
        add(engine, size)
    latest = latest_checkpoint(engine)
    assert latest is not None and latest.tree_size == 30 and latest.body == "note 30"
    assert latest.ts == TS and isinstance(latest.id, int)
    assert [row.tree_size for row in checkpoints_after(engine, 10)] == [20, 30]
    covering = checkpoint_covering(engine, 15)
    assert covering is not None and covering.tree_size == 30  # the latest that includes it
    assert checkpoint_covering(engine, 31) is None
