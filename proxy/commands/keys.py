"""``provproxy keys create|list|revoke``: the API keys engineers use instead of vendor keys."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy.orm import Session

from proxy.commands.store import database_url_option, parse_time
from proxy.config import Settings
from proxy.store.api_keys import AmbiguousKey, create_key, list_keys, load_or_create_salt, revoke_key
from proxy.store.db import create_db_engine


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


@click.command("create")
@click.option("--user", required=True, help="Who the key belongs to (recorded as the principal).")
@click.option("--team", default=None)
@click.option("--expires", default=None, help="A duration from now (30d, 12h) or an ISO time.")
@database_url_option
def create_command(user: str, team: str | None, expires: str | None, database_url: str | None) -> None:
    """Issue a key. It is printed once and stored only as a salted hash."""
    settings = Settings()
    expires_at = parse_time(expires, future=True) if expires else None
    engine = create_db_engine(database_url or settings.database_url)
    try:
        salt = load_or_create_salt(engine, settings.key_salt)
        with Session(engine) as session:
            issued = create_key(session, salt, user, team, expires_at)
    finally:
        engine.dispose()
    click.echo(issued.key)
    click.echo(
        f"key {issued.id} for {user}{f' ({team})' if team else ''}"
        f"{f', expires {_when(expires_at)} UTC' if expires_at else ''}: shown once, not retrievable later",
        err=True,
    )


@click.command("list")
@database_url_option
def list_command(database_url: str | None) -> None:
    """Issued keys (prefixes only) with their owner and state."""
    engine = create_db_engine(database_url or Settings().database_url)
    try:
        with Session(engine) as session:
            rows = list_keys(session)
    finally:
        engine.dispose()
    if not rows:
        click.echo("no keys")
        return
    now = datetime.now(UTC)
    click.echo(f"{'id':<12}  {'key':<10}  {'user':<20}  {'team':<14}  {'created':<16}  {'expires':<16}  state")
    for row in rows:
        expired = row.expires_at is not None and row.expires_at <= now
        state = "revoked" if row.revoked_at else "expired" if expired else "active"
        click.echo(
            f"{row.id:<12}  {row.key_prefix + '…':<10}  {row.user:<20}  {row.team or '':<14}  "
            f"{_when(row.created_at):<16}  {_when(row.expires_at):<16}  {state}"
        )


@click.command("revoke")
@click.argument("key_id_or_prefix")
@database_url_option
def revoke_command(key_id_or_prefix: str, database_url: str | None) -> None:
    """Revoke a key by id or shown prefix (takes effect within PROVPROXY_KEY_CACHE_TTL_S)."""
    engine = create_db_engine(database_url or Settings().database_url)
    try:
        with Session(engine) as session:
            row = revoke_key(session, key_id_or_prefix)
    except AmbiguousKey as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    if row is None:
        raise click.ClickException(f"no key {key_id_or_prefix}")
    click.echo(f"revoked key {row.id} ({row.key_prefix}…) of {row.user}")


def register(cli: click.Group) -> None:
    keys = cli.commands["keys"]
    assert isinstance(keys, click.Group)
    for command in (create_command, list_command, revoke_command):
        keys.add_command(command)
