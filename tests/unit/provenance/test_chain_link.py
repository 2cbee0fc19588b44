from __future__ import annotations

import hashlib

from proxy.provenance.chain import GENESIS_HASH, link_digest, record_hash


def test_link_digest_is_record_hash_on_raw_bytes() -> None:
    canonical = b'{"id":"x"}'
    first = record_hash(GENESIS_HASH, 1, canonical)
    assert first == hashlib.sha256(bytes(32) + (1).to_bytes(8, "big") + canonical).hexdigest()
    assert link_digest(bytes.fromhex(GENESIS_HASH), 1, canonical).hex() == first
    assert link_digest(bytes.fromhex(first), 2, canonical).hex() == record_hash(first, 2, canonical)
