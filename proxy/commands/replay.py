"""``provproxy policy replay FILE``: a candidate policy over recorded calls, against the live decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from proxy.commands.admin import cli_actor
from proxy.commands.policy import policy_group
from proxy.commands.store import chosen_database, database_url_option, parse_time
from proxy.policy import PolicyError, load_policy
from proxy.replay import replay
from proxy.store.access_log import AccessEntry, append
from proxy.store.db import open_session, shared_engine
from proxy.store.recorded_calls import recorded_calls


@click.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--since", default="7d", show_default=True, help="ISO time, or a duration back from now.")
@click.option("--until", default=None, help="ISO time, or a duration back from now (default: now).")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@database_url_option
def replay_command(file: Path, since: str, until: str | None, as_json: bool, database_url: str | None) -> None:
    """What FILE would have allowed, flagged and blocked on the calls recorded in the range,
    per rule, beside what the live policy did."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        raise click.ClickException("\n".join(f"{file}:{issue.line}: {issue.message}" for issue in exc.issues)) from exc
    url = chosen_database(database_url)
    with open_session(url) as session:
        report = replay(policy, recorded_calls(session, parse_time(since), parse_time(until) if until else None))
    detail = {"policy": str(file), "since": since, "until": until, "calls": report.replayed}
    append(shared_engine(url), AccessEntry(cli_actor(), "admin", "policy_replay", None, None, detail))
    result = report.as_dict()
    if as_json:
        click.echo(orjson.dumps(result).decode())
        return
    _print_report(result)


def _print_report(result: dict[str, Any]) -> None:
    click.echo(f"replayed {result['replayed']} calls ({result['skipped']} without a kept instruction skipped)")
    click.echo(f"{'':<10}{'allow':>8}{'flag':>8}{'block':>8}")
    for side in ("live", "candidate"):
        counts = result[side]
        click.echo(f"{side:<10}{counts['allow']:>8}{counts['flag']:>8}{counts['block']:>8}")
    for side in ("candidate", "live"):
        click.echo(f"\n{side} policy, by rule:")
        for row in result[f"{side}_rules"]:
            click.echo(f"  {row['rule']:<40} {row['decision']:<6} {row['calls']:>7}")
    if result["changes"]:
        click.echo("\nchanged decisions (live -> candidate):")
        for row in result["changes"]:
            click.echo(f"  {row['live']:>5} -> {row['candidate']:<5} {row['calls']:>7}")


def register(cli: click.Group) -> None:
    policy_group.add_command(replay_command)
