"""``provproxy exclude index|import|scan|export|check``: keep recorded completions out of training data.

``scan`` and ``check`` exit 0 when nothing matched, 1 when something did, 2 when
they could not check (a bad index, an unreadable target): never a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import orjson

from proxy.config import get_settings
from proxy.exclusion.corpus import MAX_DOCUMENT_BYTES, Document, Skipped, documents
from proxy.exclusion.export import ManifestError, load_export, write_export
from proxy.exclusion.fingerprint import Params, default_engine
from proxy.exclusion.index import (
    ExclusionIndexError,
    IndexReport,
    LoadedIndex,
    import_jsonl,
    index_events,
    load_from_database,
)
from proxy.exclusion.scan import Match, Scanner, ScanStats
from proxy.provenance.signing_keys import Keyring, SigningKeyError, load_keyring, load_or_create_signing_key
from proxy.store.db import create_db_engine
from proxy.store.exclusion import Database, last_event_seq, latest_checkpoint, read_state
from proxy.store.migrate import upgrade

EXIT_CLEAN, EXIT_MATCHED, EXIT_ERROR = 0, 1, 2

database_option = click.option("--database-url", default=None, help="Event store (default: PROVPROXY_DATABASE_URL).")
index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="An exported index directory (default: the index in the database).",
)
public_key_option = click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PEM public key(s) the export must be signed with (`provproxy keys public`); default: this proxy's keyring.",
)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _database(database_url: str | None) -> Database:
    url = database_url or get_settings().database_url
    upgrade(url)
    return create_db_engine(url)


@click.group("exclude")
def exclude_group() -> None:
    """Find recorded completions in a training corpus (index, import, scan, export, check)."""


@exclude_group.command("index")
@database_option
@click.option("--batch", default=500, show_default=True, help="Events per committed batch.")
def index_command(database_url: str | None, batch: int) -> None:
    """Fingerprint the recorded outputs not indexed yet (incremental; resumes after an interruption)."""
    database = _database(database_url)
    try:
        report = index_events(database, Params(), default_engine(), batch, _index_progress)
    finally:
        database.dispose()
    click.echo(
        f"indexed {report.sources} sources ({report.units} units, {report.fingerprints} fingerprints) "
        f"through seq {report.last_seq}",
        err=sys.stderr.isatty(),
    )


def _index_progress(report: IndexReport) -> None:
    if sys.stderr.isatty():
        click.echo(f"\rindexed through seq {report.last_seq}: {report.sources} sources", nl=False, err=True)


@exclude_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@database_option
def import_command(path: Path, database_url: str | None) -> None:
    """Index completions recorded elsewhere: JSONL lines {"id": ..., "text": ...}."""
    database = _database(database_url)
    try:
        report = import_jsonl(database, path, Params(), default_engine())
    except (ExclusionIndexError, OSError) as exc:
        _fail(str(exc))
    finally:
        database.dispose()
    click.echo(f"imported {report.sources} sources ({report.units} units, {report.fingerprints} fingerprints)")


def _load(index_dir: Path | None, public_key: Path | None, database_url: str | None) -> LoadedIndex:
    try:
        if index_dir is not None:
            return load_export(index_dir, _keyring(public_key))
        database = _database(database_url)
        try:
            return load_from_database(database)
        finally:
            database.dispose()
    except (ManifestError, SigningKeyError, OSError) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _keyring(public_key: Path | None) -> Keyring:
    if public_key is not None:
        return Keyring.from_pem(public_key.read_bytes())
    keyring = load_keyring(get_settings().signing_key_file)
    if not len(keyring):
        raise SigningKeyError("no public key to verify the index with: pass --public-key")
    return keyring


def _scanner(index_dir: Path | None, public_key: Path | None, database_url: str | None) -> Scanner:
    index = _load(index_dir, public_key, database_url)
    if index.empty:
        _fail("the index is empty: run `provproxy exclude index` (or `exclude import`) first")
    return Scanner(index, default_engine())


@exclude_group.command("scan")
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@public_key_option
@database_option
@click.option("--json", "as_json", is_flag=True, help="One JSON line per (document, source) match on stdout.")
@click.option("--max-bytes", default=MAX_DOCUMENT_BYTES, show_default=True, help="Skip larger documents.")
def scan_command(
    targets: tuple[Path, ...],
    index_dir: Path | None,
    public_key: Path | None,
    database_url: str | None,
    as_json: bool,
    max_bytes: int,
) -> None:
    """Scan folders, git checkouts, JSONL or Parquet files; exit 1 if any document matched."""
    for target in targets:
        if not target.exists():
            _fail(f"{target}: no such file or directory")
    scanner = _scanner(index_dir, public_key, database_url)
    stats = ScanStats()
    items = (item for target in targets for item in documents(target, max_bytes))
    found = _report(scanner.scan_all(items, stats, _scan_progress), as_json)
    if sys.stderr.isatty():
        click.echo("", err=True)
    for skipped in stats.skipped:
        click.echo(f"skipped {skipped.key}: {skipped.reason}", err=True)
    click.echo(
        f"scanned {stats.documents} documents ({stats.bytes / 1e6:.1f} MB): {stats.flagged} flagged, "
        f"{len(stats.skipped)} skipped",
        err=True,
    )
    sys.exit(EXIT_MATCHED if found else EXIT_CLEAN)


def _scan_progress(stats: ScanStats) -> None:
    if sys.stderr.isatty() and stats.documents % 50 == 0:
        click.echo(
            f"\rscanning: {stats.documents} documents, {stats.bytes / 1e6:.1f} MB, {stats.flagged} flagged",
            nl=False,
            err=True,
        )


def _report(matches: Iterator[Match], as_json: bool) -> int:
    count = 0
    for match in matches:
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(match.record()) + b"\n")
        else:
            if not count:
                click.echo(f"{'score':>5}  {'source':<36}  {'tool':<12}  {'lines':<16}  path")
            lines = ",".join(f"{a}-{b}" for a, b in match.spans[:4])
            click.echo(
                f"{match.score:5.2f}  {match.source:<36.36}  {match.tool or '':<12.12}  {lines:<16}  {match.path}"
            )
        count += 1
    sys.stdout.flush()
    return count


@exclude_group.command("export")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@database_option
def export_command(output: Path, database_url: str | None) -> None:
    """Write the index as Parquet plus a manifest signed with the provenance key."""
    settings = get_settings()
    database = _database(database_url)
    try:
        index = load_from_database(database)
        last_seq = int(read_state(database).get("last_seq", "0"))
        checkpoint = latest_checkpoint(database, last_seq)
        covers = {
            "indexed_through_seq": last_seq,
            "log_last_seq": last_event_seq(database),
            "checkpoint": None
            if checkpoint is None
            else {"tree_size": checkpoint[0], "root_hash": checkpoint[1], "key_id": checkpoint[2]},
        }
        key = load_or_create_signing_key(settings.signing_key_file)
        manifest = write_export(index, output, key, covers)
    except (SigningKeyError, OSError) as exc:
        _fail(str(exc))
        return
    finally:
        database.dispose()
    counts = manifest["counts"]
    click.echo(
        f"exported {counts['sources']} sources, {counts['units']} units, {counts['fingerprints']} fingerprints "
        f"to {output} (signed by key {manifest['key_id']})"
    )


@exclude_group.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--git-range", default=None, help="Check the files changed in A..B (pre-receive, CI) as of B.")
@index_option
@public_key_option
@database_option
def check_command(
    files: tuple[Path, ...],
    git_range: str | None,
    index_dir: Path | None,
    public_key: Path | None,
    database_url: str | None,
) -> None:
    """Refuse files that contain a recorded completion (pre-commit hook, pre-receive or CI check)."""
    scanner = _scanner(index_dir, public_key, database_url)
    stats = ScanStats()
    with tempfile.TemporaryDirectory() as scratch:
        targets = _range_files(git_range, Path(scratch)) if git_range else list(files)
        items: list[Document | Skipped] = []
        for path in targets:
            shown = str(path.relative_to(scratch)) if git_range else str(path)
            items.extend(_renamed(item, shown) for item in documents(path))
        matches = list(scanner.scan_all(items, stats))
    for match in matches:
        lines = ", ".join(f"{a}-{b}" for a, b in match.spans)
        click.echo(
            f"{match.path}: lines {lines} contain recorded AI output {match.source} "
            f"({match.tool or 'unknown tool'}, {match.score:.0%} of it)",
            err=True,
        )
    if matches:
        click.echo("refused: remove or rewrite the recorded output above (see `provproxy exclude`)", err=True)
    sys.exit(EXIT_MATCHED if matches else EXIT_CLEAN)


def _renamed(item: Document | Skipped, key: str) -> Document | Skipped:
    if isinstance(item, Skipped):
        return Skipped(key, item.reason)
    return Document(key, item.data, item.language)


def _range_files(git_range: str, scratch: Path) -> list[Path]:
    """The files changed in ``git_range``, written as of its end commit under ``scratch``."""
    end = git_range.split("..")[-1] or "HEAD"
    try:
        names = subprocess.run(
            ["git", "diff", "--name-only", "--diff-filter=AMR", "-z", git_range],
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8", "surrogateescape")
        paths = []
        for name in filter(None, names.split("\0")):
            blob = subprocess.run(["git", "show", f"{end}:{name}"], capture_output=True, check=True).stdout
            path = scratch / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)
            paths.append(path)
    except subprocess.CalledProcessError as exc:
        _fail(f"git: {exc.stderr.decode(errors='replace').strip()}")
    return paths


def register(cli: click.Group) -> None:
    cli.add_command(exclude_group)
