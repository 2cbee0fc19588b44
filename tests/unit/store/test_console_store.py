"""The console's store pieces on a real SQLite file: token checks and the access log's chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from proxy.store.access_log import AccessEntry, append, verify_access_log
from proxy.store.admin_tokens import authenticate, create_token, revoke_token
from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade

SALT = b"unit-salt"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


def test_a_token_works_until_revoked_or_expired_and_is_stored_only_hashed(engine: Engine) -> None:
    with Session(engine) as session:
        issued = create_token(session, SALT, "alice", "auditor")
        soon = create_token(session, SALT, "bob", "viewer", datetime.now(UTC) + timedelta(hours=1))
        holder = authenticate(session, SALT, issued.token)
        assert holder is not None and (holder.name, holder.role) == ("alice", "auditor")
        assert authenticate(session, SALT, issued.token + "x") is None
        assert authenticate(session, SALT, soon.token) is not None
        assert authenticate(session, SALT, soon.token, now=datetime.now(UTC) + timedelta(hours=2)) is None
        revoke_token(session, issued.id)
        assert authenticate(session, SALT, issued.token) is None
    with engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.execute(text("SELECT * FROM admin_tokens")))
    assert issued.token not in dump and soon.token not in dump


@pytest.mark.parametrize(
    ("tamper", "finding_seq"),
    [
        ("UPDATE access_log SET target = 'other' WHERE seq = 2", 2),
        ("DELETE FROM access_log WHERE seq = 2", 2),
        ('UPDATE access_log SET detail = \'{"via": "sso"}\' WHERE seq = 3', 3),
    ],
)
def test_the_access_log_chain_names_the_first_edited_or_removed_entry(
    engine: Engine, tamper: str, finding_seq: int
) -> None:
    for i in range(4):
        append(engine, AccessEntry("alice", "auditor", "read_body", f"event-{i}", "10.0.0.1", {"via": "token:x"}))
    assert verify_access_log(engine) == (4, None)
    with engine.begin() as conn:
        conn.execute(text(tamper))
    _checked, finding = verify_access_log(engine)
    assert finding is not None and finding.seq == finding_seq
