"""Portable attestation of one completion: an in-toto Statement v1 in a DSSE envelope.

Statement::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "completion:<event id>", "digest": {"sha256": <response_sha256>}}],
     "predicateType": "https://provenance-proxy.dev/completion/v1",
     "predicate": {vendor, model, tool, principal, time,       <- convenience copies of record fields
                   record,                                     <- the canonical record (all hashed fields)
                   seq, prev_hash, record_hash,                <- its place in the chain
                   checkpoint (signed note text), inclusion_proof (hex, leaf to root),
                   texts (only when asked for: {instruction, completion, thinking}, each the
                          stored text whose SHA-256 the record seals as <name>_sha256)}}

A call without a response digest (blocked, rejected) is attested under the name
``record:<event id>`` with the record hash as its digest. ``principal`` is the
principal as the store recorded it (the identity module's pseudonymous id).

Envelope: ``{"payload": b64, "payloadType": "application/vnd.in-toto+json",
"signatures": [{"keyid": <key id>, "sig": b64}]}`` written as compact JSON;
the signature is Ed25519 over DSSE's PAE
``"DSSEv1 <len(type)> <type> <len(body)> <body>"``.

Offline verification needs only public keys: the DSSE signature; the record
hash recomputed from the record, seq and prev_hash; the Merkle leaf from the
record hash; the inclusion proof up to the checkpoint's root; the checkpoint's
signed-note signature. The parser is strict (no unknown fields, canonical
base64), so that no byte of the file can change without failing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.provenance import strict_base64
from proxy.provenance.canonical import CANONICAL_FIELDS, CanonicalError, canonical_record, record_dict
from proxy.provenance.chain import record_hash
from proxy.provenance.checkpoint import CheckpointError, verify_note
from proxy.provenance.merkle import inclusion_proof, leaf_hash, verify_inclusion
from proxy.provenance.signing_keys import Keyring, SigningKey
from proxy.store.body_rows import stored_texts
from proxy.store.chain_rows import chain_row_by_id, stream_record_hashes
from proxy.store.checkpoints import checkpoint_covering
from proxy.store.db import Database

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://provenance-proxy.dev/completion/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
# The texts an attestation may carry, the stored column each is read from, and the record field sealing its digest.
TEXTS = {
    "instruction": ("instruction", "instruction_sha256"),
    "completion": ("completion_text", "completion_sha256"),
    "thinking": ("thinking_text", "thinking_sha256"),
}


class AttestationError(Exception):
    """The attestation cannot be made, or does not verify."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _decode_b64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise AttestationError("expected a base64 string")
    try:
        return strict_base64.decode(text)
    except ValueError as exc:
        raise AttestationError(str(exc)) from exc


def build_statement(
    record: dict[str, Any],
    seq: int,
    prev_hash: str,
    digest: str,
    checkpoint_note: str,
    proof: list[bytes],
    texts: dict[str, str] | None = None,
) -> dict[str, Any]:
    response_sha256 = record["response_sha256"]
    subject = (
        {"name": f"completion:{record['id']}", "digest": {"sha256": response_sha256}}
        if response_sha256
        else {"name": f"record:{record['id']}", "digest": {"sha256": digest}}
    )
    predicate: dict[str, Any] = {
        "vendor": record["vendor"],
        "model": record["model"],
        "tool": record["tool"],
        "principal": record["principal"],
        "time": record["ts"],
        "record": record,
        "seq": seq,
        "prev_hash": prev_hash,
        "record_hash": digest,
        "checkpoint": checkpoint_note,
        "inclusion_proof": [node.hex() for node in proof],
    }
    if texts is not None:
        predicate["texts"] = texts
    return {"_type": STATEMENT_TYPE, "subject": [subject], "predicateType": PREDICATE_TYPE, "predicate": predicate}


def sign_envelope(statement: dict[str, Any], key: SigningKey) -> bytes:
    payload = orjson.dumps(statement)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return orjson.dumps(
        {
            "payload": strict_base64.encode(payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"keyid": key.key_id, "sig": strict_base64.encode(signature)}],
        }
    )


def export_attestation(engine: Database, event_id: str, key: SigningKey, with_texts: bool = False) -> bytes:
    """The DSSE envelope for one recorded call, against the latest checkpoint covering it.

    ``with_texts``: carry the stored instruction, completion and thinking texts, each checked
    against the digest its record seals (records sealed before version 2 have none)."""
    row = chain_row_by_id(engine, CANONICAL_FIELDS, event_id)
    if row is None:
        raise AttestationError(f"no event {event_id}")
    seq, digest, prev = int(row[0]), str(row[1]), str(row[2])
    checkpoint = checkpoint_covering(engine, seq)
    if checkpoint is None:
        raise AttestationError(
            f"event {event_id} (seq {seq}) is not covered by a checkpoint yet; run `provproxy provenance checkpoint`"
        )
    leaves = [leaf_hash(bytes.fromhex(h)) for _, h, _ in stream_record_hashes(engine, 0, checkpoint.tree_size)]
    if len(leaves) != checkpoint.tree_size:
        raise AttestationError("records covered by the checkpoint are missing; run `provproxy verify`")
    proof = inclusion_proof(leaves, seq - 1)
    if not verify_inclusion(leaves[seq - 1], seq - 1, len(leaves), proof, bytes.fromhex(checkpoint.root_hash)):
        raise AttestationError("the records no longer match the checkpoint; run `provproxy verify`")
    record = record_dict(row[3:])
    if record_hash(prev, seq, canonical_record(record)) != digest:
        raise AttestationError(f"event {event_id} does not match its record hash; run `provproxy verify`")
    texts = _checked_texts(engine, event_id, record) if with_texts else None
    return sign_envelope(build_statement(record, seq, prev, digest, checkpoint.body, proof, texts), key)


def _checked_texts(engine: Database, event_id: str, record: dict[str, Any]) -> dict[str, str]:
    if record.get("record_version") in (None, 1):
        raise AttestationError(f"event {event_id} was sealed before record version 2: no text digest to carry")
    try:
        stored = stored_texts(engine, event_id)
    except ValueError as exc:
        raise AttestationError(f"event {event_id}: {exc}; run `provproxy verify --full`") from exc
    texts = {name: stored[column] for name, (column, _) in TEXTS.items() if column in stored}
    mismatch = _text_mismatch(texts, record)
    if mismatch is not None:
        raise AttestationError(f"event {event_id}: the stored {mismatch}; run `provproxy verify --full`")
    return texts


def _text_mismatch(texts: dict[str, Any], record: dict[str, Any]) -> str | None:
    """What is wrong with ``texts`` against the digests ``record`` seals, or None."""
    for name, text in texts.items():
        if name not in TEXTS or not isinstance(text, str):
            return f"text {name!r} is not one an attestation carries"
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != record.get(TEXTS[name][1]):
            return f"{name} text does not match the digest its record seals"
    return None


@dataclass(frozen=True, slots=True)
class VerifiedAttestation:
    event_id: str
    subject_name: str
    subject_digest: str
    record_hash: str
    seq: int
    tree_size: int
    envelope_key_id: str
    checkpoint_key_id: str
    predicate: dict[str, Any]


def _exact_keys(obj: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != keys:
        raise AttestationError(f"{what} must have exactly the fields {sorted(keys)}")
    return obj


def _hex32(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or value != value.lower():
        raise AttestationError(f"{what} must be 64 lowercase hex digits")
    try:
        bytes.fromhex(value)
    except ValueError as exc:
        raise AttestationError(f"{what} must be 64 lowercase hex digits") from exc
    return value


def verify_attestation(data: bytes, keyring: Keyring) -> VerifiedAttestation:
    """Check an exported envelope offline; raises :class:`AttestationError`."""
    payload, envelope_kid = _open_envelope(data, keyring)
    statement = _exact_keys(orjson.loads(payload), {"_type", "subject", "predicateType", "predicate"}, "statement")
    if statement["_type"] != STATEMENT_TYPE or statement["predicateType"] != PREDICATE_TYPE:
        raise AttestationError("not a provenance-proxy completion statement")
    predicate = statement["predicate"]
    record, seq, prev, digest = _sealed_record(predicate)
    checkpoint_note = predicate.get("checkpoint")
    proof_hex = predicate.get("inclusion_proof")
    if not isinstance(checkpoint_note, str) or not isinstance(proof_hex, list):
        raise AttestationError("predicate lacks its checkpoint or inclusion proof")
    proof = [bytes.fromhex(_hex32(p, "proof node")) for p in proof_hex]
    texts = predicate.get("texts")
    if texts is not None:
        if not isinstance(texts, dict):
            raise AttestationError("texts must be an object")
        mismatch = _text_mismatch(texts, record)
        if mismatch is not None:
            raise AttestationError(f"the carried {mismatch}")
    if build_statement(record, seq, prev, digest, checkpoint_note, proof, texts) != statement:
        raise AttestationError("subject or predicate fields disagree with the record")
    try:
        checkpoint = verify_note(checkpoint_note, keyring)
    except CheckpointError as exc:
        raise AttestationError(f"checkpoint: {exc}") from exc
    leaf = leaf_hash(bytes.fromhex(digest))
    if not verify_inclusion(leaf, seq - 1, checkpoint.tree_size, proof, bytes.fromhex(checkpoint.root_hash)):
        raise AttestationError("inclusion proof does not lead to the checkpoint root")
    subject = statement["subject"][0]
    return VerifiedAttestation(
        event_id=str(record["id"]),
        subject_name=subject["name"],
        subject_digest=subject["digest"]["sha256"],
        record_hash=digest,
        seq=seq,
        tree_size=checkpoint.tree_size,
        envelope_key_id=envelope_kid,
        checkpoint_key_id=checkpoint.key_id,
        predicate=predicate,
    )


def _open_envelope(data: bytes, keyring: Keyring) -> tuple[bytes, str]:
    """The signed payload of an envelope in its exported form, and the id of the key that signed it."""
    try:
        envelope = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise AttestationError("not JSON") from exc
    if orjson.dumps(envelope) != data:
        raise AttestationError("envelope is not in its exported (compact) form")
    _exact_keys(envelope, {"payload", "payloadType", "signatures"}, "envelope")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise AttestationError("unexpected payloadType")
    payload = _decode_b64(envelope["payload"])
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise AttestationError("expected exactly one signature")
    signature = _exact_keys(signatures[0], {"keyid", "sig"}, "signature")
    envelope_kid = signature["keyid"]
    if not isinstance(envelope_kid, str) or keyring.get(envelope_kid) is None:
        raise AttestationError(f"envelope signed by unknown key {envelope_kid!r}")
    if not keyring.verify(envelope_kid, pae(PAYLOAD_TYPE, payload), _decode_b64(signature["sig"])):
        raise AttestationError("DSSE signature does not verify")
    return payload, envelope_kid


def _sealed_record(predicate: Any) -> tuple[dict[str, Any], int, str, str]:
    """The predicate's record, seq, prev_hash and record_hash, once the hash is recomputed and agrees."""
    record = predicate.get("record") if isinstance(predicate, dict) else None
    if not isinstance(record, dict):
        raise AttestationError("predicate has no record")
    seq = predicate.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise AttestationError("bad seq")
    prev = _hex32(predicate.get("prev_hash"), "prev_hash")
    digest = _hex32(predicate.get("record_hash"), "record_hash")
    try:
        recomputed = record_hash(prev, seq, canonical_record(record))
    except (CanonicalError, ValueError, TypeError) as exc:
        raise AttestationError(f"record is malformed: {exc}") from exc
    if recomputed != digest:
        raise AttestationError("record does not match its record hash")
    return record, seq, prev, digest
