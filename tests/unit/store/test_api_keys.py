from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from proxy.store.api_keys import ActiveKey, active_keys, create_key, key_hash, load_or_create_salt, revoke_key


def test_active_keys_are_the_unrevoked_ones_by_hash(engine: Engine) -> None:
    salt = load_or_create_salt(engine)
    expires = datetime.now(UTC) + timedelta(days=1)
    with Session(engine) as session:
        kept = create_key(session, salt, "alice", "payments", expires)
        revoked = create_key(session, salt, "bob", None, None)
        assert revoke_key(session, revoked.id) is not None
    assert active_keys(engine) == {key_hash(salt, kept.key): ActiveKey("alice", "payments", expires)}
