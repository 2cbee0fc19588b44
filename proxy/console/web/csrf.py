"""Cross-site request forgery defences for the console's forms and the API's cookie callers.

Two checks, both needed on every state-changing request a browser can make with ambient
credentials (the session cookie, or an SSO header a front proxy adds):

* a token in the form (hidden ``csrf`` field) or the ``X-CSRF-Token`` header, an HMAC of the
  session it belongs to, so another site cannot know it;
* the ``Origin`` (or, failing that, ``Referer``) must name this console's own host.

Before login there is no session: the login form is bound to a random nonce in a short-lived
``provproxy_login`` cookie instead (double submit, signed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOGIN_COOKIE = "provproxy_login"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def session_token(key: bytes, binding: str) -> str:
    """The CSRF token of one session (``binding``: the cookie's nonce, or who an SSO/bearer caller is)."""
    return _mac(key, "session|" + binding)


def login_nonce() -> str:
    return secrets.token_urlsafe(16)


def login_token(key: bytes, nonce: str) -> str:
    return _mac(key, "login|" + nonce)


def matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def same_origin(request: Request) -> bool:
    """Whether the browser says this request comes from a page of this console (host and port).

    The scheme is not compared: behind a TLS-terminating front proxy the console sees http."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    host = request.headers.get("host")
    return host is not None and urlsplit(source).netloc.lower() == host.lower()
