"""Who is calling the console, and whether their role may use a route.

No anonymous access: every route needs a valid admin token (``Authorization:
Bearer``), the session cookie the console's login page sets (it names a token,
which is looked up again on every request), or an SSO header from a trusted
network. A missing, unknown, revoked or expired credential is 401; a role too
low is 403. Neither answer says which part was wrong.

The cookie is ambient (the browser sends it by itself), so a state-changing API
call made with it must also come from the console's own origin and carry the
session's CSRF token in ``X-CSRF-Token``; the pages' forms carry it in a field,
checked by the page routes (:mod:`proxy.console.web.csrf`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from proxy.console.settings import ConsoleSettings
from proxy.console.web.csrf import CSRF_HEADER, UNSAFE_METHODS, matches, same_origin, session_token
from proxy.console.web.session_cookie import COOKIE_NAME, SessionClaim, SessionCookies, derive_key
from proxy.store.admin_tokens import authenticate, holder_by_id
from proxy.store.console_session import read_session
from proxy.store.db import Database

ROLE_RANK = {"viewer": 1, "auditor": 2, "admin": 3}
UNAUTHENTICATED = HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
FORBIDDEN = HTTPException(403, "not permitted")
API_PATH = "/api/"


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    role: str
    via: str  # "token:<id>", "session:<token id>" (the login cookie) or "sso"
    client_addr: str | None
    session: str | None = None  # the login cookie's nonce: what its CSRF token is bound to

    @property
    def binding(self) -> str:
        """What this caller's CSRF token is derived from: one login, or the person and the way in."""
        return self.session or f"{self.via}|{self.name}"


class Authenticator:
    def __init__(self, engine: Database, salt: bytes, settings: ConsoleSettings) -> None:
        self._engine = engine
        self._salt = salt
        self._settings = settings
        self._networks = [ipaddress.ip_network(n, strict=False) for n in settings.console_trusted_networks]
        self.cookies = SessionCookies(derive_key(salt, "session cookie"))
        self.csrf_key = derive_key(salt, "csrf")

    def caller(self, request: Request) -> Caller:
        client = request.client.host if request.client else None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            with read_session(self._engine) as session:
                holder = authenticate(session, self._salt, token.strip())
            if holder is None:
                raise UNAUTHENTICATED
            return Caller(holder.name, holder.role, f"token:{holder.token_id}", client)
        claim = self.cookies.read(request.cookies.get(COOKIE_NAME))
        if claim is not None:
            return self._cookie_caller(request, claim, client)
        sso_user = self._sso_user(request, client)
        if sso_user is None:
            raise UNAUTHENTICATED
        role = self._settings.console_sso_roles.get(sso_user, self._settings.console_sso_default_role)
        if role is None:
            raise FORBIDDEN
        return Caller(sso_user, role, "sso", client)

    def csrf_token(self, caller: Caller) -> str:
        return session_token(self.csrf_key, caller.binding)

    def _cookie_caller(self, request: Request, claim: SessionClaim, client: str | None) -> Caller:
        with read_session(self._engine) as session:
            holder = holder_by_id(session, claim.token_id)  # revoked or expired since login: logged out
        if holder is None:
            raise UNAUTHENTICATED
        caller = Caller(holder.name, holder.role, f"session:{holder.token_id}", client, claim.nonce)
        api_change = request.method in UNSAFE_METHODS and request.url.path.startswith(API_PATH)
        if api_change and not self._genuine(request, caller):
            raise FORBIDDEN
        return caller

    def _genuine(self, request: Request, caller: Caller) -> bool:
        """A cookie caller's API change: from this console's pages, with their session's CSRF token."""
        return same_origin(request) and matches(self.csrf_token(caller), request.headers.get(CSRF_HEADER))

    def _sso_user(self, request: Request, client: str | None) -> str | None:
        header = self._settings.console_sso_header
        if not header or client is None or not self._trusted(client):
            return None
        user = request.headers.get(header, "").strip()
        return user or None

    def _trusted(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


def requires(minimum: str) -> Callable[[Request], Caller]:
    """A FastAPI dependency: the caller, if their role is at least ``minimum``."""

    def dependency(request: Request) -> Caller:
        authenticator: Authenticator = request.app.state.authenticator
        caller = authenticator.caller(request)
        if ROLE_RANK[caller.role] < ROLE_RANK[minimum]:
            raise FORBIDDEN
        return caller

    dependency.__name__ = f"requires_{minimum}"
    return dependency
