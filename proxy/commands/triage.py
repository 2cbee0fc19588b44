"""``provproxy triage examples``: settled triage verdicts as labelled examples for ``provproxy classify``."""

from __future__ import annotations

from typing import IO

import click
import orjson

from proxy.commands.admin import cli_actor
from proxy.commands.store import chosen_database, database_url_option, parse_time
from proxy.store.access_log import AccessEntry, append
from proxy.store.db import open_session, shared_engine
from proxy.store.recorded_calls import settled_verdicts
from proxy.triage_examples import examples


@click.group("triage")
def triage_group() -> None:
    """The triage queue of flagged calls (worked in the console API)."""


@triage_group.command("examples")
@click.option("-o", "--output", type=click.File("wb"), default="-", help="JSONL file (default stdout).")
@click.option("--since", default=None, help="Only verdicts given since: ISO time or a duration (30d).")
@database_url_option
def examples_command(output: IO[bytes], since: str | None, database_url: str | None) -> None:
    """Write confirmed verdicts (benign, violation) as labelled JSONL rows in `provproxy classify` input
    format: violations keep their recorded label, benign calls become hard negatives."""
    url = chosen_database(database_url)
    after = parse_time(since) if since else None
    # The rows carry instructions (bodies): the export is recorded like any body read.
    append(shared_engine(url), AccessEntry(cli_actor(), "admin", "export_examples", None, None, {"since": since}))
    written = 0
    with open_session(url) as session:
        for row in examples(settled_verdicts(session, after)):
            output.write(orjson.dumps(row) + b"\n")
            written += 1
    output.flush()
    click.echo(f"{written} labelled examples", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(triage_group)
