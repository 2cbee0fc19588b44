"""``mount_pages``: the web pages, their static files and their error pages, added to a console app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from proxy.console.auth import API_PATH
from proxy.console.web import routes_calls, routes_login, routes_overview, routes_people, routes_work
from proxy.console.web.page_auth import LoginRequired, PageError
from proxy.console.web.provenance_view import WritePath
from proxy.console.web.render import SECURITY_HEADERS, STATIC_DIR, query_string, render


def mount_pages(app: FastAPI, secure_cookies: bool = True, write_path: WritePath | None = None) -> None:
    """Serve the pages on ``app``. ``secure_cookies``: mark the session cookie Secure (browsers
    keep Secure cookies from http://localhost and 127.0.0.1 too; turn it off only for a console
    reached over plain http on another name). ``write_path``: the proxy's writer statistics, when
    the console runs in the proxy's own process (the overview shows the spool backlog then)."""
    app.state.secure_cookies = secure_cookies
    app.state.write_path = write_path
    for module in (routes_login, routes_overview, routes_calls, routes_people, routes_work):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _: Exception) -> Response:
        here = request.url.path + query_string(dict(request.query_params))
        return RedirectResponse("/login" + query_string({"next": here}), status_code=303, headers=SECURITY_HEADERS)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return _error_page(request, exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith(API_PATH):  # the API keeps FastAPI's own 422 answer
            return await request_validation_exception_handler(request, exc)
        params = dict(request.query_params)
        if request.method == "GET" and any(value == "" for value in params.values()):
            # A filter form submits its empty fields too: drop them, so the URL stays short to paste.
            return RedirectResponse(request.url.path + query_string(params), status_code=303, headers=SECURITY_HEADERS)
        fields = ", ".join(str(error["loc"][-1]) for error in exc.errors())
        return _error_page(request, 400, f"Some of the filters are not valid: {fields}.")


def _error_page(request: Request, status: int, message: str) -> Response:
    caller = None
    try:
        caller = request.app.state.authenticator.caller(request)
    except Exception:  # an error page must render even for someone not signed in
        caller = None
    return render(request, "error.html", caller, status=status, message=message)
