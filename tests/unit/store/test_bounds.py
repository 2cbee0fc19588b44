"""Items 5 and 6 of issue 11: client input and upstream numbers never keep an answered call
out of the database, nor out of the chain, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from proxy.provenance import last_sealed_in_database
from proxy.provenance.chain import HashChain
from proxy.provenance.signing_keys import Keyring, load_or_create_signing_key
from proxy.provenance.verify import verify_database
from proxy.store.db import create_db_engine
from proxy.store.inserts import REJECTED_FILE
from proxy.store.writer import DurableRecorder
from tests.support.store_fixtures import make_event, make_settings

pytestmark = pytest.mark.anyio

HOSTILE_FIELDS = {
    "model": "claude\x00-sonnet" + "x" * 300,  # NUL byte, and longer than the 255-character column
    "tool_version": "2." + "9" * 100,  # an 80+-character cc_version from a billing header
    "session_id": "s\x00" * 200,
    "response_id": "msg_\ud800",  # a lone surrogate: not encodable as UTF-8
    "input_tokens": 2**60,  # above 2**53 (canonical JSON) and 2**31 (the column)
    "output_tokens": -(2**40),
    "cache_read_tokens": 1.5e300,
}


async def test_hostile_fields_are_sealed_stored_and_verified(any_database_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(any_database_url)
    settings = make_settings(any_database_url, tmp_path / "spool")
    chain = HashChain(last_sealed_in_database(engine))
    recorder = DurableRecorder(settings, chainer=chain)
    await recorder.start()
    events = [make_event(), make_event(**HOSTILE_FIELDS), make_event()]
    for event in events:
        await recorder.commit(event)
    await recorder.stop()

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, seq, model, tool_version, input_tokens FROM events ORDER BY seq")).all()
    assert [r[0] for r in rows] == [e.id for e in events], "an answered call is missing from the database"
    assert [r[1] for r in rows] == [1, 2, 3]
    hostile = rows[1]
    assert hostile.model == ("claude-sonnet" + "x" * 300)[:255]
    assert len(hostile.tool_version) == 64
    assert hostile.input_tokens == 2**31 - 1
    assert not (tmp_path / "spool" / REJECTED_FILE).exists()
    key = load_or_create_signing_key(tmp_path / "keys" / "signing-key.pem")
    report = verify_database(engine, Keyring([key.public_key]), full=True)
    assert report.ok, report.finding
    assert report.records_checked == 3
    engine.dispose()
