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
