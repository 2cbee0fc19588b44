"""``provproxy signing-key public|rotate``: the Ed25519 key that signs provenance records."""

from __future__ import annotations

import copy

import click

from proxy.config import get_settings
from proxy.provenance.signing_keys import load_keyring, load_or_create_signing_key, public_pem, rotate_signing_key


@click.group("signing-key")
def signing_key_group() -> None:
    """The provenance signing key: its public half, and rotation."""


@signing_key_group.command("public")
@click.option("--all", "all_keys", is_flag=True, help="Every key that ever signed (for old checkpoints).")
def public_command(all_keys: bool) -> None:
    """Print the provenance signing key's public half (PEM), created if missing."""
    settings = get_settings()
    key = load_or_create_signing_key(settings.signing_key_file)
    if not all_keys:
        click.echo(f"# key id {key.key_id}")
        click.echo(public_pem(key.public_key), nl=False)
        return
    for kid, public in load_keyring(settings.signing_key_file).items():
        click.echo(f"# key id {kid}{' (active)' if kid == key.key_id else ''}")
        click.echo(public_pem(public), nl=False)


@signing_key_group.command("rotate")
def rotate_command() -> None:
    """Make a new signing key; the old public key stays in the keyring. Restart the proxy to use it."""
    settings = get_settings()
    old, new = rotate_signing_key(settings.signing_key_file)
    click.echo(f"retired {old}; new signing key {new}" if old else f"new signing key {new}")


def hidden_alias(command: click.Command) -> click.Command:
    """The same command, left out of ``--help``: for an old name that must keep working."""
    alias = copy.copy(command)
    alias.hidden = True
    return alias


def register(cli: click.Group) -> None:
    cli.add_command(signing_key_group)
