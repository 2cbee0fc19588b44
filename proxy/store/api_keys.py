"""Proxy-issued API keys and the salt their hashes use. Keys are stored only as salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from proxy.store.models import ApiKeyRow, SettingRow

KEY_PREFIX = "pp-"
PREFIX_SHOWN = 8  # "pp-" and 5 random characters: enough to tell keys apart, useless to an attacker
SALT_SETTING = "key_salt"


def key_hash(salt: bytes, key: str) -> str:
    return hmac.new(salt, key.encode("utf-8"), hashlib.sha256).hexdigest()


def is_proxy_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX)


def load_or_create_salt(engine: Engine, configured: str = "") -> bytes:
    """The configured salt, else the one generated on first use and kept in ``settings_kv``.

    Kept in the database (not a local file) so that every replica and the CLI
    hash alike; operators who want the salt out of the database set
    ``PROVPROXY_KEY_SALT``. Changing the salt invalidates every issued key.
    """
    if configured:
        return configured.encode("utf-8")
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
