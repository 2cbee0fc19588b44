"""``provproxy events export``: filtered events to a CSV, JSONL or Parquet file, streamed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from proxy.commands.admin import cli_actor
from proxy.commands.store import chosen_database, database_url_option, event_filter, events_group, filter_options
from proxy.exports import FORMATS, encoder
from proxy.store.access_log import AccessEntry, append
from proxy.store.db import open_session, shared_engine
from proxy.store.event_export import count_matching, export_batches, export_columns


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--bodies", is_flag=True, help="Include the instruction, completion and request (recorded as a read).")
@filter_options
@database_url_option
def export_command(fmt: str, output: Path, bodies: bool, database_url: str | None, **filters: Any) -> None:
    """Write the events matching the filters, oldest first, to OUTPUT (a progress bar on a terminal)."""
    url = chosen_database(database_url)
    f = event_filter(filters)
    if bodies:
        detail = {"format": fmt, "output": str(output)}
        append(shared_engine(url), AccessEntry(cli_actor(), "admin", "export_bodies", None, None, detail))
    written = 0
    with open_session(url) as session, output.open("wb") as sink:
        total = count_matching(session, f)
        with click.progressbar(length=total, label=f"exporting {total} events", file=sys.stderr) as bar:

            def counted() -> Iterator[list[dict[str, Any]]]:
                nonlocal written
                for batch in export_batches(session, f, bodies):
                    yield batch
                    written += len(batch)
                    bar.update(len(batch))

            for chunk in encoder(fmt)(counted(), export_columns(bodies)):
                sink.write(chunk)
    click.echo(f"{written} events written to {output}", err=True)


def register(cli: click.Group) -> None:
    events_group.add_command(export_command)
