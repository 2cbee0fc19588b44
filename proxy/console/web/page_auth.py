"""Who may see a page, and whether a form post is genuine.

Pages use the console's one :class:`~proxy.console.auth.Authenticator` (same roles as the
API); where the API answers 401 a page redirects to ``/login``, and where it answers 403 a
page says so in HTML. A form post must also carry the session's CSRF token and come from
the console's own origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

from proxy.console.auth import ROLE_RANK, Authenticator, Caller
from proxy.console.web.csrf import CSRF_FIELD, matches, same_origin

MAX_FORM_BYTES = 256 * 1024  # a pasted candidate policy is the largest thing a form carries


class LoginRequired(Exception):
    """No valid credential: send the browser to the login page (and back here afterwards)."""


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Posted:
    caller: Caller
    form: dict[str, str]


def _caller(request: Request, minimum: str) -> Caller:
    authenticator: Authenticator = request.app.state.authenticator
    try:
        caller = authenticator.caller(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRequired from None
        raise PageError(exc.status_code, "Your sign-in is not permitted here.") from None
    if ROLE_RANK[caller.role] < ROLE_RANK[minimum]:
        raise PageError(403, f"This page needs the {minimum} role; you are signed in as {caller.role}.")
    return caller


def page_caller(minimum: str) -> Callable[[Request], Caller]:
    """A dependency: the caller of a page, if their role is at least ``minimum``."""

    def dependency(request: Request) -> Caller:
        return _caller(request, minimum)

    dependency.__name__ = f"page_{minimum}"
    return dependency


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind the pages post)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise PageError(415, "Forms are posted URL-encoded.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PageError(413, "That form is too large.")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "That form could not be read.") from None


def form_caller(minimum: str) -> Callable[[Request], Awaitable[Posted]]:
    """A dependency for form posts: the caller (role at least ``minimum``) and their form, once the
    CSRF token and the origin check out. Checked before the role, so a forged post learns nothing."""

    async def dependency(request: Request) -> Posted:
        authenticator: Authenticator = request.app.state.authenticator
        try:
            caller = authenticator.caller(request)
        except HTTPException:
            raise PageError(401, "Sign in again, then repeat what you were doing.") from None
        form = await read_form(request)
        if not same_origin(request) or not matches(authenticator.csrf_token(caller), form.get(CSRF_FIELD)):
            raise PageError(403, "This form is stale or did not come from the console. Reload the page and retry.")
        if ROLE_RANK[caller.role] < ROLE_RANK[minimum]:
            raise PageError(403, f"This needs the {minimum} role; you are signed in as {caller.role}.")
        return Posted(caller, form)

    dependency.__name__ = f"form_{minimum}"
    return dependency
