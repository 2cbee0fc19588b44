"""A real SQLite event store (the store's own schema), a signing key and helpers to fill it.

Test modules take the fixtures by assignment (``store = provenance_fixtures.store``), for the
reason ``tests/support/store_fixtures.py`` gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from proxy.events import Event, new_event_id
from proxy.provenance import last_sealed_in_database
from proxy.provenance.chain import HashChain
from proxy.provenance.checkpoint import Checkpointer
from proxy.provenance.signing_keys import Keyring, SigningKey, load_or_create_signing_key
from proxy.store.db import create_db_engine
from proxy.store.models import Base
from proxy.store.rows import body_row, digest_bodies, event_row

BASE_TS = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def make_event(index: int) -> Event:
    return Event(
        id=new_event_id(),
        ts=BASE_TS + timedelta(seconds=index, microseconds=index * 7),
        method="POST",
        path="/v1/messages",
        vendor="anthropic",
        endpoint="messages",
        principal=f"user-{index % 5}",
        principal_kind="proxy_key",
        team="platform",
        tool="claude-code",
        tool_version="2.0.1",
        session_id=f"session-{index // 10}",
        model="claude-sonnet-4",
        stream=index % 2 == 0,
        turn_count=index % 9,
        status=200,
        upstream_status=200,
        response_id=f"msg_{index}",
        input_tokens=100 + index,
        output_tokens=20 + index,
        request_sha256=f"{index:064x}",
        response_sha256=f"{index * 31:064x}",
        latency_ms=12.5,
    )


@dataclass
class Store:
    engine: Engine
    key: SigningKey
    chain: HashChain
    checkpointer: Checkpointer
    checkpoint_dir: Path
    events: sa.Table

    def record(self, count: int, start: int = 0, texts: bool = False, record_version: int = 2) -> list[Event]:
        """Seal and insert like the writer does: seal, then insert the batch (with ``texts``, also
        an instruction and a completion per event, digested into the record and kept as bodies)."""
        batch = [make_event(start + i) for i in range(count)]
        for event in batch:
            event.record_version = record_version
        if texts:
            for event in batch:
                event.instruction = f"write function number {event.turn_count} — ünïcode"
                event.completion_text = f"def f():\n    return {event.input_tokens}\n"
                digest_bodies(event)
        links = self.chain.seal(batch)
        with self.engine.begin() as conn:
            conn.execute(self.events.insert(), [event_row(e, link) for e, link in zip(batch, links, strict=True)])
            bodies = [row for row in (body_row(e, "full") for e in batch) if row is not None]
            if bodies:
                conn.execute(Base.metadata.tables["event_bodies"].insert(), bodies)
        return batch

    def keyring(self) -> Keyring:
        return Keyring([self.key.public_key])

    def execute(self, sql: str, **params: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)


def open_store(url: str, tmp_path: Path, key: SigningKey) -> Store:
    engine = create_db_engine(url)
    Base.metadata.create_all(engine)
    checkpoint_dir = tmp_path / "checkpoints"
    checkpointer = Checkpointer(engine, key, checkpoint_dir, every_events=1000, every_s=3600)
    chain = HashChain(last_sealed_in_database(engine), checkpointer.notify_sealed)
    return Store(engine, key, chain, checkpointer, checkpoint_dir, Base.metadata.tables["events"])


@pytest.fixture
def signing_key(tmp_path: Path) -> SigningKey:
    return load_or_create_signing_key(tmp_path / "keys" / "signing-key.pem")


@pytest.fixture
def store(tmp_path: Path, signing_key: SigningKey) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'events.db'}", tmp_path, signing_key)
    yield opened
    opened.engine.dispose()
