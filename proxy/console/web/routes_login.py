"""``/login`` and ``/logout``: an admin token pasted once becomes a session cookie."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from proxy.console.auth import Authenticator, Caller
from proxy.console.web.csrf import CSRF_FIELD, LOGIN_COOKIE, login_nonce, login_token, matches, same_origin
from proxy.console.web.page_auth import Posted, form_caller, page_caller, read_form
from proxy.console.web.render import SECURITY_HEADERS, render
from proxy.console.web.session_cookie import COOKIE_NAME, SESSION_SECONDS
from proxy.store.admin_tokens import authenticate
from proxy.store.console_session import read_session

router = APIRouter(include_in_schema=False)
NextPath = Annotated[str, Query(max_length=2000)]


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this console, else ``/`` (no open redirect to another site)."""
    # Browsers drop tabs and newlines inside URLs ("/\t/evil.example" becomes "//evil.example"):
    # refuse every control character, then anything that names a scheme or another host.
    if not target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return target


def _secure(request: Request) -> bool:
    return bool(request.app.state.secure_cookies)


def _login_page(request: Request, target: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    authenticator: Authenticator = request.app.state.authenticator
    nonce = login_nonce()
    response = render(
        request,
        "login.html",
        None,
        status=status,
        login_csrf=login_token(authenticator.csrf_key, nonce),
        next_path=target,
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=600, httponly=True, secure=_secure(request), samesite="strict", path="/login"
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: NextPath = "/") -> HTMLResponse:
    return _login_page(request, local_path(next))


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    authenticator: Authenticator = request.app.state.authenticator
    form = await read_form(request)
    target = local_path(form.get("next"))
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    genuine = matches(login_token(authenticator.csrf_key, nonce), form.get(CSRF_FIELD))
    if not nonce or not same_origin(request) or not genuine:
        return _login_page(request, target, "That form had expired. Paste the token again.", 403)
    token = form.get("token", "").strip()
    holder = None
    if token and len(token) < 200:
        with read_session(request.app.state.engine) as session:
            holder = authenticate(session, request.app.state.salt, token)
    if holder is None:  # unknown, revoked or expired: one answer, as the API gives
        return _login_page(request, target, "That token is not valid.", 401)
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE_NAME,
        authenticator.cookies.issue(holder.token_id),  # re-checked on every request
        max_age=SESSION_SECONDS,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_form(request: Request, caller: Annotated[Caller, Depends(page_caller("viewer"))]) -> HTMLResponse:
    """A confirmation with a button: logging out changes state, so it is a (CSRF-checked) post."""
    return render(request, "logout.html", caller)


@router.post("/logout")
def logout(posted: Annotated[Posted, Depends(form_caller("viewer"))]) -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
