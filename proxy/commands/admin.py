"""``provproxy admin``: the security team's console, served alone, and its tokens.

``provproxy admin`` serves the console API on ``PROVPROXY_ADMIN_HOST``/``PORT``;
``provproxy admin tokens create|list|revoke`` manages the tokens it accepts.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click

from proxy.commands.store import chosen_database, database_url_option, parse_time
from proxy.config import Settings
from proxy.store.access_log import AccessEntry, append
from proxy.store.admin_tokens import ROLES, create_token, list_tokens, revoke_token
from proxy.store.api_keys import AmbiguousKey, load_or_create_salt
from proxy.store.db import open_session, shared_engine


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
    from proxy.console.serve import serve_console  # the web stack loads only to serve, not for `admin tokens`

    serve_console(host, port)


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
