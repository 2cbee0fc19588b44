"""The ASGI application: the proxy's request path plus its operational endpoints.

Proxied paths go straight to :class:`~proxy.handler.ProxyHandler` (a raw ASGI
app, so the hot path skips routing it does not need); ``/healthz``,
``/readyz``, ``/metrics`` and the admin API are ordinary FastAPI routes, and
FastAPI's lifespan owns the shared resources (upstream pool, writer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from proxy.adapters import ADAPTERS
from proxy.config import Settings, get_settings
from proxy.forward import UpstreamPool
from proxy.handler import ProxyHandler, Receive, Scope, Send
from proxy.hooks import (
    AllowAll,
    AnonymousResolver,
    Decider,
    DiscardRecorder,
    HeaderSigner,
    PrincipalResolver,
    Recorder,
)
from proxy.logs import configure_logging
from proxy.metrics import Metrics

# Paths the proxy serves itself; everything else is vendor traffic.
OWN_PATHS = ("/healthz", "/readyz", "/metrics", "/admin", "/docs", "/openapi.json")


@dataclass(slots=True)
class Components:
    principals: PrincipalResolver
    decider: Decider
    recorder: Recorder
    signer: HeaderSigner | None


def build_components(settings: Settings) -> Components:
    """The feature implementations behind the hooks, as configured."""
    return Components(
        principals=AnonymousResolver(),
        decider=AllowAll(),
        recorder=DiscardRecorder(),
        signer=None,
    )


class ProvenanceProxyApp:
    def __init__(self, settings: Settings, components: Components) -> None:
        self.settings = settings
        self.components = components
        self.pool = UpstreamPool(settings, (a.vendor for a in ADAPTERS))
        self.metrics = Metrics(components.recorder)
        self.handler = ProxyHandler(
            settings,
            self.pool,
            components.principals,
            components.decider,
            components.recorder,
            components.signer,
            self.metrics,
        )
        self.api = self._build_api()

    def _build_api(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.components.recorder.start()
            await self.pool.start()
            try:
                yield
            finally:
                await self.pool.stop()
                await self.components.recorder.stop()

        api = FastAPI(title="Provenance Proxy", lifespan=lifespan, docs_url="/docs", redoc_url=None)

        @api.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @api.get("/readyz")
        async def readyz() -> JSONResponse:
            ready = self.components.recorder.can_record()
            return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

        @api.get("/metrics")
        async def metrics() -> Response:
            return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

        return api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(OWN_PATHS):
            await self.handler(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_app(settings: Settings | None = None) -> ProvenanceProxyApp:
    """Application factory (``uvicorn --factory proxy.app:create_app``)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    return ProvenanceProxyApp(settings, build_components(settings))
