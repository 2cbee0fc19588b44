"""Who is calling the console, and whether their role may use a route.

No anonymous access: every route needs a valid admin token (``Authorization:
Bearer``) or an SSO header from a trusted network. A missing, unknown,
revoked or expired credential is 401; a role too low is 403. Neither answer
says which part was wrong.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from proxy.console.settings import ConsoleSettings
from proxy.store.admin_tokens import authenticate
from proxy.store.console_session import read_session
from proxy.store.db import Database

ROLE_RANK = {"viewer": 1, "auditor": 2, "admin": 3}
UNAUTHENTICATED = HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
FORBIDDEN = HTTPException(403, "not permitted")


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    role: str
    via: str  # "token:<id>" or "sso"
    client_addr: str | None


class Authenticator:
    def __init__(self, engine: Database, salt: bytes, settings: ConsoleSettings) -> None:
        self._engine = engine
        self._salt = salt
        self._settings = settings
        self._networks = [ipaddress.ip_network(n, strict=False) for n in settings.console_trusted_networks]

    def caller(self, request: Request) -> Caller:
        client = request.client.host if request.client else None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            with read_session(self._engine) as session:
                holder = authenticate(session, self._salt, token.strip())
            if holder is None:
                raise UNAUTHENTICATED
            return Caller(holder.name, holder.role, f"token:{holder.token_id}", client)
        sso_user = self._sso_user(request, client)
        if sso_user is None:
            raise UNAUTHENTICATED
        role = self._settings.console_sso_roles.get(sso_user, self._settings.console_sso_default_role)
        if role is None:
            raise FORBIDDEN
        return Caller(sso_user, role, "sso", client)

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
