"""``provproxy keys create|list|revoke``: the API keys engineers use instead of vendor keys."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from proxy.commands.signing_key import hidden_alias, public_command, rotate_command
from proxy.commands.store import chosen_database, database_url_option, parse_time
from proxy.config import Settings
from proxy.store.api_keys import AmbiguousKey, create_key, list_keys, load_or_create_salt, revoke_key
from proxy.store.db import open_session, shared_engine


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


@click.group("keys")
def keys_group() -> None:
    """Proxy-issued API keys (the provenance signing key: `provproxy signing-key`)."""


@keys_group.command("create")
@click.option("--user", required=True, help="Who the key belongs to (recorded as the principal).")
@click.option("--team", default=None)
@click.option("--expires", default=None, help="A duration from now (30d, 12h) or an ISO time.")
@database_url_option
def create_command(user: str, team: str | None, expires: str | None, database_url: str | None) -> None:
    """Issue a key. It is printed once and stored only as a salted hash."""
    settings = Settings()
    expires_at = parse_time(expires, future=True) if expires else None
    url = chosen_database(database_url)
    salt = load_or_create_salt(shared_engine(url), settings.key_salt)
    with open_session(url) as session:
        issued = create_key(session, salt, user, team, expires_at)
    click.echo(issued.key)
    click.echo(
        f"key {issued.id} for {user}{f' ({team})' if team else ''}"
        f"{f', expires {_when(expires_at)} UTC' if expires_at else ''}: shown once, not retrievable later",
        err=True,
    )


@keys_group.command("list")
@database_url_option
def list_command(database_url: str | None) -> None:
    """Issued keys (prefixes only) with their owner and state."""
    with open_session(chosen_database(database_url)) as session:
        rows = list_keys(session)
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


@keys_group.command("revoke")
@click.argument("key_id_or_prefix")
@database_url_option
def revoke_command(key_id_or_prefix: str, database_url: str | None) -> None:
    """Revoke a key by id or shown prefix (takes effect within PROVPROXY_KEY_CACHE_TTL_S)."""
    try:
        with open_session(chosen_database(database_url)) as session:
            row = revoke_key(session, key_id_or_prefix)
    except AmbiguousKey as exc:
        raise click.ClickException(str(exc)) from None
    if row is None:
        raise click.ClickException(f"no key {key_id_or_prefix}")
    click.echo(f"revoked key {row.id} ({row.key_prefix}…) of {row.user}")


# `keys public` and `keys rotate` were the signing key's commands before it had its own group;
# documentation and scripts still call them.
keys_group.add_command(hidden_alias(public_command))
keys_group.add_command(hidden_alias(rotate_command))


def register(cli: click.Group) -> None:
    cli.add_command(keys_group)
