"""The admin listener: operational endpoints kept off the proxy port.

The proxy port answers vendor routes and ``/healthz`` ``/readyz`` only; anything
else an operator reads (``/metrics`` now, the security console API later) is
served here, on ``PROVPROXY_ADMIN_HOST``:``PROVPROXY_ADMIN_PORT`` (loopback by
default), by a second uvicorn server in the same process and event loop, with the
security console's API (:mod:`proxy.console`) mounted under ``/api/v1``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from proxy.metrics import Metrics


def create_admin_app(metrics: Metrics, console: FastAPI | None = None) -> FastAPI:
    """The proxy's own metrics and health, and the console (no interactive docs: nothing to browse)."""
    api = FastAPI(title="Provenance Proxy admin", docs_url=None, redoc_url=None, openapi_url=None)

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/metrics")
    async def metrics_text() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    if console is not None:  # last: the routes above are matched first
        api.mount("/", console)
    return api
