"""``provproxy admin``: the security team's console, served alone, and its tokens.

``provproxy admin`` serves the console API on ``PROVPROXY_ADMIN_HOST``/``PORT``;
``provproxy admin tokens create|list|revoke`` manages the tokens it accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Protocol

import click
import uvicorn
from fastapi import FastAPI

from proxy.alerts.rules import AlertRule, RulesError, load_rules
from proxy.alerts.runner import runner_from_settings
from proxy.commands.store import chosen_database, database_url_option, parse_time
from proxy.config import Settings
from proxy.console import create_console_app
from proxy.console.app import Lifespan
from proxy.console.settings import ConsoleSettings
from proxy.logs import configure_logging
from proxy.siem.feed import feed_from_settings
from proxy.store.access_log import AccessEntry, append
from proxy.store.admin_tokens import ROLES, create_token, list_tokens, revoke_token
from proxy.store.api_keys import AmbiguousKey, load_or_create_salt
from proxy.store.db import Database, open_session, shared_engine
from proxy.store.migrate import upgrade


class Worker(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


@click.group("admin", invoke_without_command=True)
@click.option("--host", default=None, help="Listen address (PROVPROXY_ADMIN_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (PROVPROXY_ADMIN_PORT, default 8788).")
@click.pass_context
def admin_group(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the security team's console API alone (`admin tokens …` manages its tokens)."""
    if ctx.invoked_subcommand is not None:
        return
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


@admin_group.group("tokens")
def tokens_group() -> None:
    """Console tokens: viewer (metadata), auditor (+ bodies, triage), admin (+ keys, tokens, policy)."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who the token is for (recorded in the access log).")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--expires", default=None, help="A duration from now (30d, 12h) or an ISO time.")
@database_url_option
def create_command(name: str, role: str, expires: str | None, database_url: str | None) -> None:
    """Issue a token. It is printed once, as the last line, and stored only as a salted hash."""
    settings = Settings()
    expires_at = parse_time(expires, future=True) if expires else None
    url = database_url or settings.database_url
    engine = shared_engine(url)
    salt = load_or_create_salt(engine, settings.key_salt)
    with open_session(url) as session:
        issued = create_token(session, salt, name, role, expires_at)
    append(engine, AccessEntry(cli_actor(), "admin", "token_create", issued.id, None, {"name": name, "role": role}))
    click.echo(
        f"token {issued.id} for {name} ({role})"
        f"{f', expires {_when(expires_at)} UTC' if expires_at else ''}: shown once, not retrievable later",
        err=True,
    )
    click.echo(issued.token)


@tokens_group.command("list")
@database_url_option
def list_command(database_url: str | None) -> None:
    """Issued tokens (prefixes only) with their holder, role and state."""
    with open_session(chosen_database(database_url)) as session:
        rows = list_tokens(session)
    if not rows:
        click.echo("no tokens")
        return
    now = datetime.now(UTC)
    click.echo(f"{'id':<12}  {'token':<10}  {'name':<20}  {'role':<8}  {'created':<16}  {'expires':<16}  state")
    for row in rows:
        expired = row.expires_at is not None and row.expires_at <= now
        state = "revoked" if row.revoked_at else "expired" if expired else "active"
        click.echo(
            f"{row.id:<12}  {row.token_prefix + '…':<10}  {row.name[:20]:<20}  {row.role:<8}  "
            f"{_when(row.created_at):<16}  {_when(row.expires_at):<16}  {state}"
        )


@tokens_group.command("revoke")
@click.argument("token_id")
@database_url_option
def revoke_command(token_id: str, database_url: str | None) -> None:
    """Revoke a token by id or shown prefix (effective at once)."""
    url = chosen_database(database_url)
    with open_session(url) as session:
        try:
            row = revoke_token(session, token_id)
        except AmbiguousKey as exc:
            raise click.ClickException(str(exc)) from None
    if row is None:
        raise click.ClickException(f"no token {token_id}")
    append(shared_engine(url), AccessEntry(cli_actor(), "admin", "token_revoke", row.id))
    click.echo(f"revoked token {row.id} ({row.name}, {row.role})")


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def register(cli: click.Group) -> None:
    cli.add_command(admin_group)
