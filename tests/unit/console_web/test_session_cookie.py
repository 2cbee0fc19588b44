"""The session cookie: signed, expiring, naming a token id only; the CSRF tokens bound to a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from proxy.console.auth import Caller
from proxy.console.web.csrf import login_token, matches, session_token
from proxy.console.web.session_cookie import SESSION_SECONDS, SessionCookies, derive_key

KEY = derive_key(b"salt-one", "session cookie")
NOW = 1_800_000_000.0


def test_a_cookie_names_its_token_until_it_expires() -> None:
    cookies = SessionCookies(KEY)
    value = cookies.issue("tok123", now=NOW)
    claim = cookies.read(value, now=NOW + 60)
    assert claim is not None and claim.token_id == "tok123" and claim.expires == NOW + SESSION_SECONDS
    assert cookies.read(value, now=NOW + SESSION_SECONDS) is None


def test_a_cookie_expires_with_its_token() -> None:
    cookies = SessionCookies(KEY)
    token_expires = datetime.fromtimestamp(NOW, UTC) + timedelta(minutes=5)
    value = cookies.issue("tok123", token_expires, now=NOW)
    assert cookies.read(value, now=NOW + 299) is not None
    assert cookies.read(value, now=NOW + 300) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # signature changed
        lambda v: "e" + v[1:] if v[0] != "e" else "f" + v[1:],  # claim changed
        lambda v: v.replace(".", ""),  # no signature
        lambda v: v + ".x",
        lambda v: "",
    ],
)
def test_a_tampered_cookie_is_refused(tamper: object) -> None:
    cookies = SessionCookies(KEY)
    value = cookies.issue("tok123", now=NOW)
    assert cookies.read(tamper(value), now=NOW) is None  # type: ignore[operator]


def test_a_cookie_from_another_console_is_refused() -> None:
    value = SessionCookies(KEY).issue("tok123", now=NOW)
    other = SessionCookies(derive_key(b"salt-two", "session cookie"))
    assert other.read(value, now=NOW) is None


def test_each_login_gets_its_own_nonce_and_so_its_own_csrf_token() -> None:
    cookies = SessionCookies(KEY)
    first = cookies.read(cookies.issue("tok123", now=NOW), now=NOW)
    second = cookies.read(cookies.issue("tok123", now=NOW), now=NOW)
    assert first is not None and second is not None and first.nonce != second.nonce
    csrf_key = derive_key(b"salt-one", "csrf")
    assert session_token(csrf_key, first.nonce) != session_token(csrf_key, second.nonce)


def test_csrf_tokens_bind_the_caller_and_the_key() -> None:
    key = derive_key(b"salt-one", "csrf")
    sso = Caller("ana@example.com", "auditor", "sso", "10.0.0.1")
    other = Caller("bob@example.com", "auditor", "sso", "10.0.0.1")
    token = session_token(key, sso.binding)
    assert matches(token, session_token(key, sso.binding))
    assert not matches(token, session_token(key, other.binding))
    assert not matches(token, session_token(derive_key(b"salt-two", "csrf"), sso.binding))
    assert not matches(token, None) and not matches(token, "")
    assert login_token(key, "nonce-a") != login_token(key, "nonce-b")
    assert login_token(key, "n") != session_token(key, "n")  # a login token is no session token
