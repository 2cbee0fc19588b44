"""The Ed25519 signing key and the keyring of public keys that ever signed.

* The active private key is a PKCS#8 PEM file (``Settings.signing_key_file``),
  created on first start with mode 0600 in a 0700 directory.
* ``key_id`` = the first 16 hex digits of SHA-256 of the raw 32-byte public key.
* Next to it, ``<key file>.keyring.json`` keeps every public key that has been
  active (``{"keys": [{"key_id", "public_key" (base64 raw), "created", "retired"}]}``)
  so checkpoints signed before a rotation stay verifiable. Rotation replaces
  the private key file; the old private key is not kept. A running proxy keeps
  signing with the key it loaded until it restarts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class SigningKeyError(Exception):
    """A key file is missing, unreadable or not an Ed25519 key."""


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public_key)).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


@dataclass(frozen=True, slots=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def from_private(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(private_key, key_id(private_key.public_key()))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


class Keyring:
    """Public keys by key id; what every verifier (online or offline) checks against."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for key in keys:
            self.add(key)

    def add(self, public_key: Ed25519PublicKey) -> str:
        kid = key_id(public_key)
        self._keys[kid] = public_key
        return kid

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    def items(self) -> list[tuple[str, Ed25519PublicKey]]:
        return list(self._keys.items())

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, kid: str, data: bytes, signature: bytes) -> bool:
        key = self._keys.get(kid)
        if key is None:
            return False
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_pem(cls, text: str | bytes) -> Keyring:
        """Every ``PUBLIC KEY`` PEM block in ``text`` (what ``signing-key public --all`` prints)."""
        data = text.encode("ascii") if isinstance(text, str) else text
        blocks = _PEM_BLOCK.findall(data)
        if not blocks:
            raise SigningKeyError("no PUBLIC KEY block found")
        keyring = cls()
        for block in blocks:
            key = serialization.load_pem_public_key(block)
            if not isinstance(key, Ed25519PublicKey):
                raise SigningKeyError("not an Ed25519 public key")
            keyring.add(key)
        return keyring


def keyring_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".keyring.json")


def _write_private(path: Path, private_key: Ed25519PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_keyring_entries(path: Path) -> list[dict[str, str | None]]:
    if not path.exists():
        return []
    entries: list[dict[str, str | None]] = orjson.loads(path.read_bytes())["keys"]
    return entries


def _write_keyring_entries(path: Path, entries: list[dict[str, str | None]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps({"keys": entries}, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def _remember(key_file: Path, public_key: Ed25519PublicKey) -> None:
    path = keyring_path(key_file)
    entries = _read_keyring_entries(path)
    kid = key_id(public_key)
    if any(entry["key_id"] == kid for entry in entries):
        return
    entries.append(
        {
            "key_id": kid,
            "public_key": base64.b64encode(raw_public(public_key)).decode("ascii"),
            "created": datetime.now(UTC).isoformat(),
            "retired": None,
        }
    )
    _write_keyring_entries(path, entries)


def load_signing_key(key_file: Path) -> SigningKey:
    try:
        private_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"cannot read signing key {key_file}: {exc}") from exc
    if not isinstance(private_key, Ed25519PrivateKey):
        raise SigningKeyError(f"{key_file} is not an Ed25519 private key")
    return SigningKey.from_private(private_key)


def load_or_create_signing_key(key_file: Path) -> SigningKey:
    """The active key; generated (0600) and added to the keyring on first start."""
    if not key_file.exists():
        _write_private(key_file, Ed25519PrivateKey.generate())
    key = load_signing_key(key_file)
    _remember(key_file, key.public_key)
    return key


def load_keyring(key_file: Path) -> Keyring:
    """Every public key that ever signed here, the active one included if present."""
    keyring = Keyring()
    for entry in _read_keyring_entries(keyring_path(key_file)):
        raw = base64.b64decode(str(entry["public_key"]), validate=True)
        kid = keyring.add(Ed25519PublicKey.from_public_bytes(raw))
        if kid != entry["key_id"]:
            raise SigningKeyError(f"keyring entry {entry['key_id']} does not match its public key")
    if key_file.exists():
        keyring.add(load_signing_key(key_file).public_key)
    return keyring


def rotate_signing_key(key_file: Path) -> tuple[str | None, str]:
    """Retire the active key (its public half stays in the keyring) and make a new one."""
    old = load_signing_key(key_file) if key_file.exists() else None
    if old is not None:
        _remember(key_file, old.public_key)
    new_private = Ed25519PrivateKey.generate()
    _write_private(key_file, new_private)
    new = SigningKey.from_private(new_private)
    _remember(key_file, new.public_key)
    if old is not None:
        path = keyring_path(key_file)
        entries = _read_keyring_entries(path)
        for entry in entries:
            if entry["key_id"] == old.key_id:
                entry["retired"] = datetime.now(UTC).isoformat()
        _write_keyring_entries(path, entries)
    return (old.key_id if old else None, new.key_id)
