"""``provproxy migrate``, ``provproxy events [show ID]`` and ``provproxy purge``."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from proxy.adapters import VENDORS
from proxy.config import Settings
from proxy.durations import parse_duration
from proxy.store.db import display_url, open_session
from proxy.store.location import require_directory, require_existing
from proxy.store.migrate import current_revision, upgrade
from proxy.store.queries import EVENT_COLUMNS, EventFilter, get_event, list_events, purge

# Columns of the readable table: (heading, event key, width cap).
_TABLE = (
    ("time (UTC)", "ts", 19),
    ("id", "id", 36),
    ("user", "principal", 20),
    ("team", "team", 14),
    ("tool", "tool", 14),
    ("vendor", "vendor", 9),
    ("model", "model", 26),
    ("decision", "decision", 8),
    ("label", "use_label", 24),
    ("outcome", "outcome", 19),
    ("status", "status", 6),
    ("tokens in/out", "tokens", 13),
    ("ms", "latency_ms", 8),
)


def parse_time(value: str, future: bool = False) -> datetime:
    """An ISO 8601 time (UTC if no zone), or a duration counted back from now (forward if ``future``)."""
    delta = parse_duration(value.strip())
    if delta is not None:
        return datetime.now(UTC) + (delta if future else -delta)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither an ISO time nor a duration like 7d") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def database_url_option(function: Any) -> Any:
    return click.option("--database-url", default=None, help="Overrides PROVPROXY_DATABASE_URL for this command.")(
        function
    )


def chosen_database(database_url: str | None, create: bool = False) -> str:
    """The ``--database-url`` given, else the configured one.

    Only a command that ``create``s the schema may point at a SQLite file that does not
    exist yet: any other would silently create an empty database in the wrong directory."""
    url = database_url or Settings().database_url
    if create:
        require_directory(url)
    else:
        require_existing(url)
    return url


@click.command("migrate")
@database_url_option
def migrate_command(database_url: str | None) -> None:
    """Create or upgrade the database schema (Alembic, to the newest revision)."""
    url = chosen_database(database_url, create=True)
    upgrade(url)
    click.echo(f"{display_url(url)}: schema at revision {current_revision(url)}")


# The filters of `provproxy events` and `provproxy events export` (the console API's are in proxy/console).
_FILTER_OPTIONS = (
    click.option("--user", "principal", help="Principal: user name, or vk:… fingerprint of a vendor key."),
    click.option("--team"),
    click.option("--tool", help="claude-code, codex-cli, gemini-cli, anthropic-sdk, …"),
    click.option("--vendor", type=click.Choice(VENDORS)),
    click.option("--model"),
    click.option("--session", help="The client's session id."),
    click.option("--since", help="ISO time, or a duration back from now (2h, 7d)."),
    click.option("--until", help="ISO time, or a duration back from now."),
    click.option(
        "--outcome", type=click.Choice(["completed", "client_disconnected", "upstream_error", "blocked", "rejected"])
    ),
    click.option("--decision", type=click.Choice(["allow", "flag", "block"])),
    click.option("--label", help="Use label, e.g. eval_task_generation."),
    click.option("--policy-rule", help="The policy rule that decided, e.g. block-eval-generation."),
    click.option("--text", help="Text in the instruction or the completion (full-text search)."),
)


def filter_options(function: Any) -> Any:
    for option in reversed(_FILTER_OPTIONS):
        function = option(function)
    return function


def event_filter(filters: dict[str, Any]) -> EventFilter:
    """The EventFilter for the filter options' values (times parsed)."""
    for key in ("since", "until"):
        if filters.get(key):
            filters[key] = parse_time(filters[key])
    return EventFilter(**filters)


@click.group("events", invoke_without_command=True)
@filter_options
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0)
@click.option("--json", "output", flag_value="json", help="One JSON array.")
@click.option("--csv", "output", flag_value="csv", help="CSV with a header row.")
@database_url_option
@click.pass_context
def events_group(ctx: click.Context, output: str | None, database_url: str | None, **filters: Any) -> None:
    """List recorded calls, newest first (`events show ID` for one call with its bodies)."""
    ctx.ensure_object(dict)["database_url"] = database_url
    if ctx.invoked_subcommand is not None:
        return
    with open_session(chosen_database(database_url)) as session:
        rows = list_events(session, event_filter(filters))
    if output == "json":
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif output == "csv":
        _write_csv(rows)
    else:
        _write_table(rows)


@events_group.command("show")
@click.argument("event_id")
@click.pass_context
def show_command(ctx: click.Context, event_id: str) -> None:
    """One event with its stored request and completion (as JSON)."""
    with open_session(chosen_database(ctx.obj.get("database_url"))) as session:
        event = get_event(session, event_id)
    if event is None:
        raise click.ClickException(f"no event {event_id}")
    click.echo(orjson.dumps(event, option=orjson.OPT_INDENT_2).decode())


@click.command("purge")
@click.option("--days", type=int, default=None, help="Keep this many days (default PROVPROXY_RETENTION_DAYS).")
@click.option("--include-events", is_flag=True, help="Delete the old events too, not only their bodies.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting events.")
@database_url_option
def purge_command(days: int | None, include_events: bool, yes: bool, database_url: str | None) -> None:
    """Delete stored bodies (and optionally events) older than the retention period."""
    days = Settings().retention_days if days is None else days
    if include_events and not yes:
        click.confirm(f"Delete every event older than {days} days (this breaks the provenance chain)?", abort=True)
    with open_session(chosen_database(database_url)) as session:
        count = purge(session, days, bodies_only=not include_events)
    click.echo(f"deleted {count} {'events' if include_events else 'bodies'} older than {days} days")


def _cell(event: dict[str, Any], key: str) -> str:
    if key == "ts":
        return str(event["ts"].strftime("%Y-%m-%d %H:%M:%S"))
    if key == "tokens":
        tokens_in, tokens_out = event["input_tokens"], event["output_tokens"]
        return "" if tokens_in is None and tokens_out is None else f"{tokens_in or 0}/{tokens_out or 0}"
    value = event[key]
    if isinstance(value, float):
        return f"{value:.0f}"
    return "" if value is None else str(value)


def _write_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no events match")
        return
    cells = [[_cell(row, key)[:cap] for _, key, cap in _TABLE] for row in rows]
    widths = [max(len(heading), *(len(line[i]) for line in cells)) for i, (heading, _, _) in enumerate(_TABLE)]
    click.echo("  ".join(heading.ljust(w) for (heading, _, _), w in zip(_TABLE, widths, strict=True)).rstrip())
    for line in cells:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _write_csv(rows: list[dict[str, Any]]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=EVENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                key: orjson.dumps(value).decode() if isinstance(value, dict | list) else value
                for key, value in row.items()
            }
        )


def register(cli: click.Group) -> None:
    cli.add_command(migrate_command)
    cli.add_command(events_group)
    cli.add_command(purge_command)
