"""``provproxy policy check FILE``: validate a use-policy file before deploying it."""

from __future__ import annotations

from pathlib import Path

import click

from proxy.policy import PolicyError, load_policy


@click.group("policy")
def policy_group() -> None:
    """The YAML use policy (allow / flag / block by label, principal, tool, volume)."""


@click.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check_command(file: Path) -> None:
    """Validate FILE; print each problem as FILE:LINE: message and exit 1 if any."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        for issue in exc.issues:
            click.echo(f"{file}:{issue.line}: {issue.message}", err=True)
        raise SystemExit(1) from exc
    blocking = sum(1 for rule in policy.rules if rule.action.value == "block")
    click.echo(f"{file}: OK, {len(policy.rules)} rules ({blocking} blocking), default {policy.default_action.value}")


policy_group.add_command(check_command)


def register(cli: click.Group) -> None:
    cli.add_command(policy_group)
