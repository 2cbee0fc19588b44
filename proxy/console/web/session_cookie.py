"""The console's session cookie: a signed, expiring claim naming an admin token by id.

The token itself never goes into the cookie: the value is ``base64(json) . hmac`` of
``{"t": token id, "e": expiry (unix s), "n": random nonce}``, HMAC-SHA256 under a key derived
from the console's salt. A valid signature only says which token logged in; the caller is
still looked up on every request, so revoking or expiring the token ends the session at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

COOKIE_NAME = "provproxy_session"
SESSION_SECONDS = 8 * 3600  # a working day: then paste the token again


def derive_key(salt: bytes, purpose: str) -> bytes:
    """A key for one purpose from the console's salt (one secret, separate keys per use)."""
    return hmac.new(salt, b"provproxy console " + purpose.encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class SessionClaim:
    token_id: str
    expires: int
    nonce: str


class SessionCookies:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, token_id: str, token_expires: datetime | None = None, now: float | None = None) -> str:
        """A cookie value for ``token_id``, expiring after SESSION_SECONDS or with the token."""
        start = int(time.time() if now is None else now)
        expires = start + SESSION_SECONDS
        if token_expires is not None:
            expires = min(expires, int(_utc(token_expires).timestamp()))
        claim = {"t": token_id, "e": expires, "n": secrets.token_urlsafe(16)}
        body = base64.urlsafe_b64encode(orjson.dumps(claim)).decode("ascii").rstrip("=")
        return f"{body}.{self._sign(body)}"

    def read(self, value: str | None, now: float | None = None) -> SessionClaim | None:
        """The claim in ``value`` if it is ours, untampered and unexpired; else None."""
        if not value or value.count(".") != 1 or len(value) > 512:
            return None
        body, signature = value.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            claim = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            token_id, expires, nonce = str(claim["t"]), int(claim["e"]), str(claim["n"])
        except (ValueError, TypeError, KeyError, binascii.Error):
            return None
        if expires <= (time.time() if now is None else now):
            return None
        return SessionClaim(token_id, expires, nonce)

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
