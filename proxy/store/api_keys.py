"""Proxy-issued API keys and the salt their hashes use. Keys are stored only as salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from proxy.store.errors import StoreError
from proxy.store.models import ApiKeyRow, SettingRow

KEY_PREFIX = "pp-"
PREFIX_SHOWN = 8  # "pp-" and 5 random characters: enough to tell keys apart, useless to an attacker
SALT_SETTING = "key_salt"


class SaltUnavailable(Exception):
    """No salt configured, none cached, and the database that holds it cannot be read."""


def key_hash(salt: bytes, key: str) -> str:
    return hmac.new(salt, key.encode("utf-8"), hashlib.sha256).hexdigest()


def is_proxy_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX)


def load_or_create_salt(engine: Engine, configured: str = "", cache_file: Path | None = None) -> bytes:
    """The configured salt, else the one generated on first use and kept in ``settings_kv``.

    Kept in the database (not a local file) so that every replica and the CLI
    hash alike; operators who want the salt out of the database set
    ``PROVPROXY_KEY_SALT``. Changing the salt invalidates every issued key.

    With a ``cache_file``, the salt read from the database is also kept there (0600), and
    used when the database cannot be reached: the proxy must start while it is down.
    """
    if configured:
        return configured.encode("utf-8")
    try:
        salt = _database_salt(engine)
    except StoreError as exc:
        cached = _read_cached_salt(cache_file)
        if cached is None:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise SaltUnavailable(
                f"the key salt is kept in the database, which cannot be reached ({reason}), and no copy is "
                f"cached{f' at {cache_file}' if cache_file else ''}; start the database once, or set PROVPROXY_KEY_SALT"
            ) from exc
        return cached
    if cache_file is not None and _read_cached_salt(cache_file) != salt:
        _write_cached_salt(cache_file, salt)
    return salt


def _database_salt(engine: Engine) -> bytes:
    with Session(engine) as session:
        stored = session.get(SettingRow, SALT_SETTING)
        if stored is None:
            session.add(SettingRow(key=SALT_SETTING, value=secrets.token_hex(32)))
            try:
                session.commit()
            except IntegrityError:  # another replica generated it first
                session.rollback()
            stored = session.get(SettingRow, SALT_SETTING)
        assert stored is not None
        return stored.value.encode("utf-8")


def _read_cached_salt(cache_file: Path | None) -> bytes | None:
    if cache_file is None:
        return None
    try:
        value = cache_file.read_bytes().strip()
    except FileNotFoundError:
        return None
    return value or None


def _write_cached_salt(cache_file: Path, salt: bytes) -> None:
    """Atomically, readable by the owner only (it turns a key into its stored hash)."""
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    partial = cache_file.with_name(cache_file.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(salt + b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, cache_file)


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """What the request path needs of a key that is not revoked."""

    user: str
    team: str | None
    expires_at: datetime | None


def active_keys(engine: Engine) -> dict[str, ActiveKey]:
    """Every key not revoked, by its salted hash (expired ones included: the caller checks the time)."""
    with Session(engine) as session:
        rows = session.scalars(select(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None)))
        return {row.key_hash: ActiveKey(row.user, row.team, row.expires_at) for row in rows}


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: str
    key: str  # shown once, never stored
    prefix: str


def create_key(session: Session, salt: bytes, user: str, team: str | None, expires_at: datetime | None) -> IssuedKey:
    key = KEY_PREFIX + secrets.token_urlsafe(24)  # 32 characters, 192 bits
    row = ApiKeyRow(
        id=secrets.token_hex(6),
        key_hash=key_hash(salt, key),
        key_prefix=key[:PREFIX_SHOWN],
        user=user,
        team=team,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
        revoked_at=None,
    )
    session.add(row)
    session.commit()
    return IssuedKey(id=row.id, key=key, prefix=row.key_prefix)


def list_keys(session: Session, include_revoked: bool = True) -> list[ApiKeyRow]:
    query = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
    if not include_revoked:
        query = query.where(ApiKeyRow.revoked_at.is_(None))
    return list(session.scalars(query))


class AmbiguousKey(Exception):
    """A prefix that names more than one key."""


def revoke_key(session: Session, id_or_prefix: str) -> ApiKeyRow | None:
    """Revoke the key with this id or shown prefix; None if there is none. Commits."""
    prefix = id_or_prefix.rstrip("…").rstrip(".")
    matches = list(
        session.scalars(select(ApiKeyRow).where(or_(ApiKeyRow.id == prefix, ApiKeyRow.key_prefix == prefix)))
    )
    if len(matches) > 1:
        raise AmbiguousKey(f"{id_or_prefix!r} matches {len(matches)} keys; use the key id")
    if not matches:
        return None
    row = matches[0]
    if row.revoked_at is None:
        session.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(revoked_at=datetime.now(UTC)))
        session.commit()
        session.refresh(row)
    return row
