"""``provproxy admin`` serving: the console alone, with its background work (the SIEM feed, the
distillation signals and the alerts raised on them) running in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import click
import uvicorn
from fastapi import FastAPI

from proxy.alerts.rules import AlertRule, RulesError, load_rules
from proxy.alerts.runner import runner_from_settings
from proxy.config import Settings
from proxy.console.app import Lifespan, create_console_app
from proxy.console.settings import ConsoleSettings
from proxy.logs import configure_logging
from proxy.siem.feed import feed_from_settings
from proxy.store.db import Database
from proxy.store.migrate import upgrade


class Worker(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def serve_console(host: str | None, port: int | None) -> None:
    """Serve the console on the admin listener until SIGTERM (`provproxy admin` without a subcommand)."""
    settings, console = Settings(), ConsoleSettings()
    configure_logging(settings.log_level)
    try:  # a broken rules file stops the start, in one line, before anything listens
        rules = load_rules(console.alert_rules_file) if console.signals_enabled else []
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.migrate_on_start:
        upgrade(settings.database_url)
    app = create_console_app(settings, console, lifespan=background_lifespan(console, rules))
    uvicorn.run(
        app,
        host=host or console.admin_host,
        port=port or console.admin_port,
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=False,  # SSO headers are believed from trusted peers only, judged on the real address
        server_header=False,
    )


def background_lifespan(console: ConsoleSettings, rules: Sequence[AlertRule]) -> Lifespan:
    """Run the console's background work while the app serves: the SIEM feed, the signal engine
    and the alert runner. They must stop inside the lifespan: after a SIGTERM, uvicorn re-raises
    the signal once it has shut down, so code after ``uvicorn.run`` never runs, and a delivery
    killed between handing a batch over and moving its cursor sends that batch twice."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = background_workers(app.state.engine, console, rules)
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in reversed(workers):
                await asyncio.to_thread(worker.stop)

    return lifespan


def background_workers(engine: Database, console: ConsoleSettings, rules: Sequence[AlertRule]) -> list[Worker]:
    """The signal engine, then the alert runner reading its hits, then the SIEM feed sending both."""
    workers: list[Worker] = []
    if console.signals_enabled:
        workers.append(_signal_engine(engine, console.signals_poll_interval_s))
        workers.append(
            runner_from_settings(
                engine,
                rules,
                console.alert_webhook_url,
                console.console_base_url(),
                console.signals_poll_interval_s,
            )
        )
    feed = feed_from_settings(engine, console.siem_file, console.siem_webhook_url, console.siem_poll_interval_s)
    if feed is not None:
        workers.append(feed)
    return workers


def _signal_engine(engine: Database, poll_interval_s: float) -> Worker:
    """Imported only when signals are on: the engine loads datasketch and its MinHash machinery."""
    from proxy.signals.config import SignalConfig
    from proxy.signals.engine import SignalEngine

    return SignalEngine(engine, SignalConfig(poll_interval_s=poll_interval_s))
