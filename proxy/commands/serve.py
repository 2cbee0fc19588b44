"""``provproxy serve``: run the proxy with uvicorn, and its admin listener beside it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import structlog
import uvicorn

from proxy.app import create_app
from proxy.config import Settings
from proxy.limits import ConnectionLimits, guarded_protocol, raise_open_file_limit
from proxy.logs import configure_logging
from proxy.policy.reader import load_policy
from proxy.policy.source import DEFAULT_POLICY_PATH
from proxy.startup import banner_lines
from proxy.store.errors import DatabaseUnavailable
from proxy.store.migrate import upgrade
from proxy.store.spool_lock import SpoolInUse, SpoolLock

log = structlog.get_logger("provproxy.serve")


def connection_limits(settings: Settings) -> ConnectionLimits:
    return ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        max_header_count=settings.max_header_count,
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        max_connections_per_client=settings.max_connections_per_client,
    )


def uvicorn_config(
    app: Any, host: str, port: int, log_level: str, limits: ConnectionLimits | None = None
) -> uvicorn.Config:
    """The server settings the proxy is measured and tested with.

    ``ws="none"``: Codex's WebSocket upgrade reaches the handler as plain HTTP
    and is refused with 426, so Codex falls back to SSE at once. With ``limits``,
    connections go through :class:`proxy.limits.GuardedHttpToolsProtocol`.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=guarded_protocol(limits) if limits is not None else "httptools",
        ws="none",
        lifespan="on",
        access_log=False,
        log_level=log_level,
        server_header=False,
        # Never trust X-Forwarded-For: identity headers are believed only from
        # PROVPROXY_TRUSTED_NETWORKS, judged on the real peer address.
        proxy_headers=False,
        date_header=False,
        timeout_keep_alive=75,
    )


class AdminServer(uvicorn.Server):
    """The admin listener's server: it leaves the signals to the proxy's server, which owns
    the process (a second handler would replace the first, and the proxy would not stop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_with_admin(proxy: uvicorn.Server, admin: uvicorn.Server) -> None:
    """Both servers on one event loop: the admin listener first (a port already taken is
    an error at once), then the proxy until it is told to stop."""
    admin_task = asyncio.create_task(admin.serve())
    while not admin.started:
        if admin_task.done():  # could not bind: uvicorn logged why
            with contextlib.suppress(SystemExit):
                admin_task.result()
            sys.exit(f"provproxy: the admin listener could not start on {admin.config.host}:{admin.config.port}")
        await asyncio.sleep(0.01)
    try:
        await proxy.serve()
    finally:
        admin.should_exit = True
        await admin_task


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--host", default=None, help="Listen address (PROVPROXY_HOST, default 127.0.0.1).")
    @click.option("--port", type=int, default=None, help="Listen port (PROVPROXY_PORT, default 8787).")
    def serve(host: str | None, port: int | None) -> None:
        """Run the proxy (SQLite by default, real vendor upstreams)."""
        settings = Settings()
        configure_logging(settings.log_level)
        load_policy(settings.policy_file or DEFAULT_POLICY_PATH)  # a broken policy fails before any file is created
        spool_lock = SpoolLock(Path(settings.spool_dir))
        try:
            spool_lock.acquire()  # held for the process's life; the writer takes it again
        except SpoolInUse as exc:
            click.echo(f"provproxy: {exc}", err=True)
            sys.exit(2)
        if settings.migrate_on_start:
            try:
                upgrade(settings.database_url)
            except DatabaseUnavailable as exc:
                # The spool covers a database outage; refusing to start would not.
                log.warning("migrate_skipped_database_unreachable", error=str(exc).splitlines()[0])
        app = create_app(settings)
        host, port = host or settings.host, port or settings.port
        for line in banner_lines(settings, host, port):
            click.echo(f"provproxy: {line}", err=True)
        before, after = raise_open_file_limit()
        if after != before:
            log.info("open_file_limit_raised", soft_before=before, soft_after=after)
        config = uvicorn_config(app, host, port, settings.log_level, connection_limits(settings))
        admin_config = uvicorn_config(app.admin, settings.admin_host, settings.admin_port, settings.log_level)
        admin_config.lifespan = "off"  # the proxy app's lifespan owns every shared resource
        servers = serve_with_admin(uvicorn.Server(config), AdminServer(admin_config))
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(servers)
