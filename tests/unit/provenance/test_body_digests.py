"""Item 3 of issue 11: ``verify --full`` checks every stored body against a digest sealed in the
chain (record version 2), and records sealed before (version 1) still verify."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from proxy.events import Event
from proxy.provenance import last_sealed_in_database
from proxy.provenance.chain import HashChain
from proxy.provenance.signing_keys import Keyring, load_or_create_signing_key
from proxy.provenance.verify import VerifyReport, verify_database
from proxy.store.db import create_db_engine
from proxy.store.inserts import insert_pairs
from proxy.store.migrate import upgrade
from proxy.store.rows import compress, event_row
from proxy.store.writer import DurableRecorder
from tests.support.store_fixtures import make_event, make_settings

pytestmark = pytest.mark.anyio


class Recorded:
    def __init__(self, url: str, keyring: Keyring, events: list[Event]) -> None:
        self.engine = create_db_engine(url)
        self.keyring = keyring
        self.events = events

    def verify(self, full: bool = True) -> VerifyReport:
        return verify_database(self.engine, self.keyring, full=full)

    def execute(self, sql: str, **params: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)


@pytest.fixture
async def recorded(tmp_path: Path) -> AsyncIterator[Recorded]:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    recorder = DurableRecorder(
        make_settings(url, tmp_path / "spool"), chainer=HashChain(last_sealed_in_database(engine))
    )
    await recorder.start()
    events = [
        make_event(
            request_body=b'{"messages":[{"role":"user","content":"write a parser %d"}]}' % i,
            instruction=f"write a parser {i}",
            completion_text=f"def parse_{i}(): ...",
            thinking_text=f"the user wants parser {i}",
        )
        for i in range(3)
    ]
    for event in events:
        assert event.request_body is not None
        event.request_sha256 = hashlib.sha256(event.request_body).hexdigest()
        await recorder.commit(event)
    await recorder.stop()
    engine.dispose()
    key = load_or_create_signing_key(tmp_path / "keys" / "signing-key.pem")
    store = Recorded(url, Keyring([key.public_key]), events)
    yield store
    store.engine.dispose()


async def test_untouched_bodies_verify(recorded: Recorded) -> None:
    report = recorded.verify()
    assert report.ok, report.finding
    assert report.bodies_checked == 12  # 3 events x request, instruction, completion, thinking


@pytest.mark.parametrize(
    ("column", "forged"),
    [
        ("completion_text", b"def parse_1(): steal()"),
        ("instruction", b"write something else"),
        ("request_body", b'{"messages":[]}'),
        ("thinking_text", b"nothing"),
    ],
)
async def test_replaced_body_is_named_by_verify_full(recorded: Recorded, column: str, forged: bytes) -> None:
    victim = recorded.events[1]
    recorded.execute(f"UPDATE event_bodies SET {column} = :v WHERE event_id = :id", v=compress(forged), id=victim.id)
    assert recorded.verify(full=False).ok  # the chain alone does not read bodies
    finding = recorded.verify().finding
    assert finding is not None and finding.kind == "altered"
    assert finding.seq == 2 and finding.event_id == victim.id
    assert column in finding.detail


async def test_undecompressible_body_is_altered(recorded: Recorded) -> None:
    recorded.execute("UPDATE event_bodies SET completion_text = :v", v=b"not zstd")
    finding = recorded.verify().finding
    assert finding is not None and finding.kind == "altered" and finding.seq == 1


async def test_downgrading_a_record_to_version_1_is_altered(recorded: Recorded) -> None:
    recorded.execute("UPDATE events SET record_version = NULL WHERE seq = 3")
    finding = recorded.verify().finding
    assert finding is not None and finding.kind == "altered" and finding.seq == 3


async def test_records_sealed_in_version_1_still_verify(recorded: Recorded) -> None:
    old = make_event(record_version=None)
    (link,) = HashChain(last_sealed_in_database(recorded.engine)).seal([old])
    with recorded.engine.begin() as conn:
        insert_pairs(conn, [(event_row(old, link), None)])
    report = recorded.verify()
    assert report.ok, report.finding
    assert report.records_checked == 4
