"""Console admin tokens: stored only as salted hashes, exactly like proxy-issued API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from proxy.store.api_keys import PREFIX_SHOWN, AmbiguousKey, key_hash
from proxy.store.console_models import AdminTokenRow

TOKEN_PREFIX = "ppa-"
ROLES = ("viewer", "auditor", "admin")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    token: str  # shown once, never stored
    prefix: str


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Who a valid, unexpired, unrevoked token belongs to."""

    token_id: str
    name: str
    role: str


def create_token(
    session: Session, salt: bytes, name: str, role: str, expires_at: datetime | None = None
) -> IssuedToken:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AdminTokenRow(
        id=secrets.token_hex(6),
        token_hash=key_hash(salt, token),
        token_prefix=token[:PREFIX_SHOWN],
        name=name,
        role=role,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
        revoked_at=None,
    )
    session.add(row)
    session.commit()
    return IssuedToken(id=row.id, token=token, prefix=row.token_prefix)


def authenticate(session: Session, salt: bytes, token: str, now: datetime | None = None) -> TokenHolder | None:
    """The holder of ``token``, or None when it is unknown, revoked or expired (callers never say which)."""
    row = session.scalars(select(AdminTokenRow).where(AdminTokenRow.token_hash == key_hash(salt, token))).first()
    return _valid_holder(row, now)


def holder_by_id(session: Session, token_id: str, now: datetime | None = None) -> TokenHolder | None:
    """The holder of the token with this id while it is unrevoked and unexpired (a console login
    names its token by id: this is how the login ends when the token does)."""
    return _valid_holder(session.get(AdminTokenRow, token_id), now)


def _valid_holder(row: AdminTokenRow | None, now: datetime | None) -> TokenHolder | None:
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= (now or datetime.now(UTC)):
        return None
    return TokenHolder(token_id=row.id, name=row.name, role=row.role)


def list_tokens(session: Session) -> list[AdminTokenRow]:
    return list(session.scalars(select(AdminTokenRow).order_by(AdminTokenRow.created_at)))


def revoke_token(session: Session, id_or_prefix: str) -> AdminTokenRow | None:
    """Revoke the token with this id or shown prefix; None if there is none. Commits."""
    wanted = id_or_prefix.rstrip("…").rstrip(".")
    matches = list(
        session.scalars(
            select(AdminTokenRow).where(or_(AdminTokenRow.id == wanted, AdminTokenRow.token_prefix == wanted))
        )
    )
    if len(matches) > 1:
        raise AmbiguousKey(f"{id_or_prefix!r} matches {len(matches)} tokens; use the token id")
    if not matches:
        return None
    row = matches[0]
    if row.revoked_at is None:
        session.execute(update(AdminTokenRow).where(AdminTokenRow.id == row.id).values(revoked_at=datetime.now(UTC)))
        session.commit()
        session.refresh(row)
    return row
