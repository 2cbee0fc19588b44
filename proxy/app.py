"""The ASGI application: the proxy's request path plus its health endpoints.

Proxied paths go straight to :class:`~proxy.handler.ProxyHandler` (a raw ASGI
app, so the hot path skips routing it does not need); ``/healthz`` and
``/readyz`` are ordinary FastAPI routes, and FastAPI's lifespan owns the shared
resources (upstream pool, writer). Nothing else is served on the proxy port:
``/metrics`` is on the admin listener (:mod:`proxy.admin_app`), and there are no
interactive docs or OpenAPI schema for anyone who can reach the port to read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from proxy.adapters import ADAPTERS
from proxy.admin_app import create_admin_app
from proxy.config import Settings, get_settings
from proxy.console.app import create_console_app
from proxy.decider import PolicyDecider
from proxy.forward import UpstreamPool
from proxy.handler import ProxyHandler, Receive, Scope, Send
from proxy.hooks import (
    Decider,
    DiscardRecorder,
    HeaderSigner,
    PrincipalResolver,
    Recorder,
)
from proxy.logs import configure_logging
from proxy.metrics import Metrics
from proxy.policy import PolicySource
from proxy.principals import KeyPrincipalResolver
from proxy.provenance import build_provenance, last_sealed_in_database
from proxy.provenance.header import ProvenanceSigner
from proxy.provenance.signing_keys import load_or_create_signing_key
from proxy.store.db import shared_engine
from proxy.store.errors import StoreError
from proxy.store.writer import DurableRecorder

log = structlog.get_logger("provproxy.app")

# Paths the proxy port serves itself (exactly these); everything else is vendor traffic.
OWN_PATHS = frozenset({"/healthz", "/readyz"})


@dataclass(slots=True)
class Components:
    principals: PrincipalResolver
    decider: Decider
    recorder: Recorder
    signer: HeaderSigner | None
    # Started after the recorder, stopped before it (e.g. the checkpointer).
    on_start: list[Callable[[], None]] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)


def build_components(settings: Settings) -> Components:
    """The feature implementations behind the hooks, as configured."""
    engine = shared_engine(settings.database_url, settings.database_busy_timeout_ms)
    principals = KeyPrincipalResolver(settings, engine)
    decider = PolicyDecider(PolicySource.from_settings(settings))
    if not settings.record:  # benchmark baseline: everything but the write path (and the chain it seals)
        signer = ProvenanceSigner(load_or_create_signing_key(settings.signing_key_file))
        return Components(principals, decider, DiscardRecorder(), signer, on_stop=[principals.close, engine.dispose])

    recorder: DurableRecorder

    def last_sealed() -> tuple[int, str] | None:
        # The chain continues after whichever is further: the database or the spool.
        heads = [recorder.spooled_chain_head()]
        try:
            heads.append(last_sealed_in_database(engine)())
        except StoreError:
            log.warning("chain head: database unreachable; using the spool and the remembered head")
        known = [h for h in heads if h is not None]
        return max(known) if known else None

    provenance = build_provenance(settings, engine, last_sealed)
    recorder = DurableRecorder(settings, chainer=provenance.chain)
    return Components(
        principals,
        decider,
        recorder,
        provenance.header_signer,
        on_start=[provenance.checkpointer.start],
        on_stop=[provenance.checkpointer.stop, principals.close, engine.dispose],
    )


class ProvenanceProxyApp:
    def __init__(self, settings: Settings, components: Components) -> None:
        self.settings = settings
        self.components = components
        self.pool = UpstreamPool(settings, (a.vendor for a in ADAPTERS))
        self.metrics = Metrics(components.recorder, self.pool.usage)
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
        # Served on the admin listener: metrics, and the security console on the same database.
        write_path = self._write_path if hasattr(components.recorder, "stats") else None  # none: not recording
        self.admin = create_admin_app(self.metrics, create_console_app(settings, write_path=write_path))

    def _write_path(self) -> dict[str, Any]:
        """The recorder's counters, for the console overview's health panel (served in this process)."""
        return dataclasses.asdict(self.components.recorder.stats)  # type: ignore[attr-defined]

    def _build_api(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            components = self.components
            await components.recorder.start()
            for start in components.on_start:
                await asyncio.to_thread(start)
            await self.pool.start()
            # Everything allocated so far lives as long as the process: keep the
            # collector from re-scanning it on every collection under load.
            gc.freeze()
            try:
                yield
            finally:
                await self.pool.stop()
                await components.recorder.stop()
                for stop in components.on_stop:
                    await asyncio.to_thread(stop)

        api = FastAPI(title="Provenance Proxy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

        @api.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @api.get("/readyz")
        async def readyz() -> JSONResponse:
            ready = self.components.recorder.can_record()
            return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

        return api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OWN_PATHS:
            await self.handler(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_app(settings: Settings | None = None) -> ProvenanceProxyApp:
    """Application factory (``uvicorn --factory proxy.app:create_app``)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    return ProvenanceProxyApp(settings, build_components(settings))
