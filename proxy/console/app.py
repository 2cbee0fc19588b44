"""``create_console_app``: the console API as one self-contained, mountable FastAPI app."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from proxy.config import Settings
from proxy.console import (
    routes_admin,
    routes_events,
    routes_export,
    routes_policy,
    routes_signals,
    routes_triage,
)
from proxy.console.auth import Authenticator, Caller, requires
from proxy.console.schemas import ERROR_RESPONSES
from proxy.console.settings import ConsoleSettings
from proxy.console.web.mount import mount_pages
from proxy.console.web.provenance_view import WritePath
from proxy.principals import salt_cache_file
from proxy.store.api_keys import load_or_create_salt
from proxy.store.db import shared_engine

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_console_app(
    settings: Settings,
    console: ConsoleSettings | None = None,
    lifespan: Lifespan | None = None,
    secure_cookies: bool = True,
    write_path: WritePath | None = None,
) -> FastAPI:
    """The console on the database of ``settings``: the API under ``/api/v1`` and the web pages at
    ``/`` (:mod:`proxy.console.web`). Its schema is itself behind authentication: nothing, not even
    the list of routes, answers anonymously. ``lifespan`` runs the console's own background work
    (the SIEM feed) when it is served alone; ``secure_cookies`` and ``write_path``: see
    :func:`~proxy.console.web.mount.mount_pages`."""
    console = console or ConsoleSettings()
    app = FastAPI(
        title="Provenance Proxy console",
        version=API_VERSION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    engine = shared_engine(settings.database_url, settings.database_busy_timeout_ms)
    app.state.engine = engine
    app.state.settings = settings
    app.state.salt = load_or_create_salt(engine, settings.key_salt, salt_cache_file(settings))
    app.state.authenticator = Authenticator(engine, app.state.salt, console)
    for module in (routes_events, routes_export, routes_triage, routes_policy, routes_admin, routes_signals):
        app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    def openapi(request: Request, _: Annotated[Caller, Depends(requires("viewer"))]) -> dict[str, Any]:
        return request.app.openapi()

    mount_pages(app, secure_cookies, write_path)
    return app
