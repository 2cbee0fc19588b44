"""Reads and writes of ``checkpoints``: the provenance's signed Merkle tree heads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from proxy.store.db import Database
from proxy.store.models import CheckpointRow


def checkpoints_after(database: Database, tree_size: int) -> list[CheckpointRow]:
    """Every checkpoint over more than ``tree_size`` records, smallest first."""
    query = (
        select(CheckpointRow)
        .where(CheckpointRow.tree_size > tree_size)
        .order_by(CheckpointRow.tree_size, CheckpointRow.id)
    )
    with Session(database) as session:
        return list(session.scalars(query))


def latest_checkpoint(database: Database) -> CheckpointRow | None:
    query = select(CheckpointRow).order_by(CheckpointRow.tree_size.desc()).limit(1)
    with Session(database) as session:
        return session.scalars(query).first()


def checkpoint_covering(database: Database, seq: int) -> CheckpointRow | None:
    """The latest checkpoint whose tree includes record ``seq``."""
    query = (
        select(CheckpointRow).where(CheckpointRow.tree_size >= seq).order_by(CheckpointRow.tree_size.desc()).limit(1)
    )
    with Session(database) as session:
        return session.scalars(query).first()


def insert_checkpoint(
    database: Database,
    *,
    tree_size: int,
    root_hash: str,
    ts: datetime,
    key_id: str,
    signature: str,
    body: str,
) -> None:
    row = CheckpointRow(tree_size=tree_size, root_hash=root_hash, ts=ts, key_id=key_id, signature=signature, body=body)
    with Session(database) as session, session.begin():
        session.add(row)
