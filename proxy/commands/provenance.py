"""``provproxy verify`` and ``provproxy provenance export|verify|checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from proxy.commands.store import chosen_database
from proxy.config import get_settings
from proxy.provenance.attest import AttestationError, export_attestation, verify_attestation
from proxy.provenance.checkpoint import Checkpointer
from proxy.provenance.signing_keys import (
    Keyring,
    SigningKeyError,
    load_keyring,
    load_or_create_signing_key,
)
from proxy.provenance.verify import verify_database
from proxy.store.access_log import verify_access_log
from proxy.store.db import shared_engine

EXIT_TAMPERED, EXIT_ERROR = 1, 2  # 0: clean
VERIFY_STATE_FILE = "verify-state.json"

database_option = click.option(
    "--database-url", default=None, help="Database to check (default: PROVPROXY_DATABASE_URL)."
)


@click.command("verify")
@click.option("--full", is_flag=True, help="Re-walk every record, not only those after the last verified checkpoint.")
@click.option(
    "--checkpoints",
    "checkpoints_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of published signed checkpoint-*.txt files to check against (default: PROVPROXY_CHECKPOINT_DIR).",
)
@database_option
def verify_command(full: bool, checkpoints_dir: Path | None, database_url: str | None) -> None:
    """Re-walk the hash chain and the signed checkpoints; exit 0 clean, 1 tampered, 2 error."""
    settings = get_settings()
    try:
        keyring = load_keyring(settings.signing_key_file)
        if not len(keyring):
            raise SigningKeyError(f"no public keys found next to {settings.signing_key_file}")
        engine = shared_engine(chosen_database(database_url))
        published = checkpoints_dir or settings.checkpoint_dir
        if checkpoints_dir is not None and not checkpoints_dir.is_dir():
            raise FileNotFoundError(f"--checkpoints {checkpoints_dir}: no such directory")
        state_file = settings.checkpoint_dir / VERIFY_STATE_FILE
        report = verify_database(engine, keyring, state_file, full=full, published_dir=published)
        access_entries, access_finding = verify_access_log(engine)
    except Exception as exc:  # the exit status tells scripts "could not check", not "clean"
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    for note in report.notes:
        click.echo(f"note: {note}")
    rate = report.records_checked / report.elapsed_s if report.elapsed_s > 0 else 0.0
    click.echo(
        f"checked {report.records_checked} records after seq {report.resumed_after} "
        f"and {report.checkpoints_checked} checkpoints"
        + (f" and {report.bodies_checked} stored bodies" if full else "")
        + f" in {report.elapsed_s:.2f}s ({rate:,.0f} records/s); "
        f"verified through checkpoint size {report.verified_tree_size}, log ends at seq {report.last_seq}"
    )
    click.echo(f"checked {access_entries} access log entries")
    finding = report.finding or access_finding
    if finding is not None:
        click.echo(f"TAMPERED {finding.describe()}")
        sys.exit(EXIT_TAMPERED)
    click.echo("OK")


@click.group("provenance")
def provenance_group() -> None:
    """Signed checkpoints and portable attestations of recorded completions."""


@provenance_group.command("export")
@click.argument("event_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--with-text",
    is_flag=True,
    help="Carry the stored instruction, completion and thinking texts (each checked against its sealed digest).",
)
@database_option
def export_command(event_id: str, output: Path | None, with_text: bool, database_url: str | None) -> None:
    """Write a DSSE-enveloped in-toto attestation for one recorded call."""
    settings = get_settings()
    try:
        key = load_or_create_signing_key(settings.signing_key_file)
        engine = shared_engine(chosen_database(database_url))
        envelope = export_attestation(engine, event_id, key, with_texts=with_text)
    except (AttestationError, SigningKeyError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    if output is None:
        click.echo(envelope.decode())
    else:
        output.write_bytes(envelope)
        click.echo(f"wrote {output}")


@provenance_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of public keys (`provproxy signing-key public --all`); repeatable.",
)
def verify_file_command(file: Path, public_keys: tuple[Path, ...]) -> None:
    """Check an exported attestation offline, with public keys only; exit 0 valid, 1 invalid."""
    try:
        keyring = Keyring()
        for path in public_keys:
            for _, key in Keyring.from_pem(path.read_bytes()).items():
                keyring.add(key)
    except (OSError, ValueError, SigningKeyError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    try:
        verified = verify_attestation(file.read_bytes(), keyring)
    except AttestationError as exc:
        click.echo(f"INVALID: {exc}")
        sys.exit(EXIT_TAMPERED)
    predicate = verified.predicate
    click.echo(
        f"VALID {verified.subject_name} sha256:{verified.subject_digest}\n"
        f"  vendor={predicate['vendor']} model={predicate['model']} tool={predicate['tool']} "
        f"principal={predicate['principal']} time={predicate['time']}\n"
        f"  record seq {verified.seq} hash {verified.record_hash}, included in checkpoint size "
        f"{verified.tree_size} (key {verified.checkpoint_key_id}); envelope key {verified.envelope_key_id}"
    )
    texts = predicate.get("texts") or {}
    if texts:
        carried = ", ".join(f"{name} ({len(text)} chars)" for name, text in texts.items())
        click.echo(f"  carries {carried}, each matching the digest its record seals")


@provenance_group.command("checkpoint")
@database_option
def checkpoint_command(database_url: str | None) -> None:
    """Sign a checkpoint over the records committed since the last one, now."""
    settings = get_settings()
    key = load_or_create_signing_key(settings.signing_key_file)
    engine = shared_engine(chosen_database(database_url))
    checkpoint = Checkpointer(engine, key, settings.checkpoint_dir).checkpoint_now()
    if checkpoint is None:
        click.echo("no new records since the last checkpoint")
        return
    click.echo(checkpoint.note, nl=False)


def register(cli: click.Group) -> None:
    cli.add_command(verify_command)
    cli.add_command(provenance_group)
