"""Exported attestations verify offline with public keys only; every flipped byte fails."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import orjson
import pytest

from proxy.provenance.attest import AttestationError, export_attestation, verify_attestation
from proxy.provenance.header import ProvenanceSigner, verify_header_signature
from proxy.provenance.signing_keys import Keyring, load_keyring, load_or_create_signing_key, public_pem
from proxy.store.models import Base
from proxy.store.rows import compress
from tests.support import provenance_fixtures
from tests.support.provenance_fixtures import Store

# This module's fixtures (tests/support/provenance_fixtures.py says why they are assigned).
signing_key = provenance_fixtures.signing_key
store = provenance_fixtures.store


@pytest.fixture
def envelope(store: Store) -> tuple[bytes, str]:
    events = store.record(13)
    store.checkpointer.checkpoint_now()
    store.record(4, start=13)  # not covered yet
    return export_attestation(store.engine, events[6].id, store.key), events[6].id


def offline_keyring(store: Store) -> Keyring:
    return Keyring.from_pem(public_pem(store.key.public_key))


def test_exported_attestation_verifies_offline(store: Store, envelope: tuple[bytes, str]) -> None:
    data, event_id = envelope
    verified = verify_attestation(data, offline_keyring(store))
    assert verified.event_id == event_id and verified.seq == 7 and verified.tree_size == 13
    assert verified.subject_name == f"completion:{event_id}"
    statement = orjson.loads(base64.b64decode(orjson.loads(data)["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0]["digest"]["sha256"] == verified.predicate["record"]["response_sha256"]
    assert statement["predicate"]["vendor"] == "anthropic"


def test_every_flipped_byte_fails(store: Store, envelope: tuple[bytes, str]) -> None:
    data, _ = envelope
    keyring = offline_keyring(store)
    positions = range(len(data))
    for mask, stride in ((0x01, 1), (0x20, 3), (0x80, 7), (0xFF, 11)):
        for position in positions[::stride]:
            tampered = bytearray(data)
            tampered[position] ^= mask
            with pytest.raises(AttestationError):
                verify_attestation(bytes(tampered), keyring)


def test_other_key_or_missing_checkpoint_fails(store: Store, envelope: tuple[bytes, str], tmp_path: Path) -> None:
    data, _ = envelope
    stranger = load_or_create_signing_key(tmp_path / "other" / "key.pem")
    with pytest.raises(AttestationError, match="unknown key"):
        verify_attestation(data, Keyring([stranger.public_key]))
    uncovered = store.record(1, start=90)[0]
    with pytest.raises(AttestationError, match="not covered"):
        export_attestation(store.engine, uncovered.id, store.key)


def test_re_signed_payload_with_edited_record_fails(store: Store, envelope: tuple[bytes, str]) -> None:
    """Even the key holder cannot change a record: the chain and checkpoint still bind it."""
    from proxy.provenance.attest import sign_envelope

    data, _ = envelope
    statement = orjson.loads(base64.b64decode(orjson.loads(data)["payload"]))
    statement["predicate"]["record"]["model"] = "gpt-4o"
    statement["predicate"]["model"] = "gpt-4o"
    with pytest.raises(AttestationError, match="record hash"):
        verify_attestation(sign_envelope(statement, store.key), offline_keyring(store))


def test_signing_key_file_is_private_and_keyring_kept(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "signing-key.pem"
    key = load_or_create_signing_key(key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(key.key_id) == 16
    assert load_or_create_signing_key(key_file).key_id == key.key_id  # loaded, not regenerated
    assert [kid for kid, _ in load_keyring(key_file).items()] == [key.key_id]


def test_header_signature(store: Store) -> None:
    value = ProvenanceSigner(store.key).header_signature("evt-1", "ab" * 32)
    assert value.startswith(f"ed25519;kid={store.key.key_id};sig=") and "=" not in value.split("sig=")[1]
    keyring = store.keyring()
    assert verify_header_signature(value, "evt-1", "ab" * 32, keyring)
    assert not verify_header_signature(value, "evt-2", "ab" * 32, keyring)
    assert not verify_header_signature(value, "evt-1", "cd" * 32, keyring)
    assert not verify_header_signature(value.replace("sig=", "sig=A"), "evt-1", "ab" * 32, keyring)


def test_attestation_carries_texts_that_match_their_sealed_digests(store: Store) -> None:
    """Issue 11, item 3: an exported attestation can carry the text, bound to the record by its digest."""
    events = store.record(5, texts=True)
    store.checkpointer.checkpoint_now()
    event = events[2]
    data = export_attestation(store.engine, event.id, store.key, with_texts=True)
    verified = verify_attestation(data, offline_keyring(store))
    assert verified.predicate["texts"] == {"instruction": event.instruction, "completion": event.completion_text}
    # Without the flag no text leaves the database.
    plain = verify_attestation(export_attestation(store.engine, event.id, store.key), offline_keyring(store))
    assert "texts" not in plain.predicate


def test_carried_text_cannot_be_swapped_even_by_the_key_holder(store: Store) -> None:
    from proxy.provenance.attest import sign_envelope

    events = store.record(3, texts=True)
    store.checkpointer.checkpoint_now()
    data = export_attestation(store.engine, events[1].id, store.key, with_texts=True)
    statement = orjson.loads(base64.b64decode(orjson.loads(data)["payload"]))
    for name, value in (("completion", "def f():\n    return 'not what the vendor wrote'\n"), ("prompt", "x")):
        edited = orjson.loads(orjson.dumps(statement))
        edited["predicate"]["texts"][name] = value
        with pytest.raises(AttestationError, match="carried"):
            verify_attestation(sign_envelope(edited, store.key), offline_keyring(store))


def test_texts_are_not_exported_when_the_stored_body_was_replaced(store: Store) -> None:
    events = store.record(3, texts=True)
    store.checkpointer.checkpoint_now()
    bodies = Base.metadata.tables["event_bodies"]
    with store.engine.begin() as conn:
        replaced = bodies.update().where(bodies.c.event_id == events[0].id)
        conn.execute(replaced, {"completion_text": compress("print('replaced')")})
    with pytest.raises(AttestationError, match="completion text does not match"):
        export_attestation(store.engine, events[0].id, store.key, with_texts=True)


def test_records_sealed_before_version_2_have_no_text_to_carry(store: Store) -> None:
    events = store.record(2, texts=True, record_version=1)  # as sealed by an older proxy
    store.checkpointer.checkpoint_now()
    with pytest.raises(AttestationError, match="before record version 2"):
        export_attestation(store.engine, events[0].id, store.key, with_texts=True)
