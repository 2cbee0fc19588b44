"""Provenance on the pages: the checkpoint covering a call, the write path's health, and one call
verified the way ``provproxy provenance export`` + ``provenance verify`` do it (attestation built
from the chain and the latest covering checkpoint, then checked with public keys only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proxy.commands.provenance import VERIFY_STATE_FILE
from proxy.config import Settings
from proxy.provenance.attest import AttestationError, export_attestation, verify_attestation
from proxy.provenance.signing_keys import SigningKeyError, load_keyring, load_signing_key
from proxy.provenance.verify import verified_through
from proxy.store.checkpoints import checkpoint_covering, latest_checkpoint
from proxy.store.db import Database

WritePath = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: str
    ok: bool | None  # None: unknown from here


def covering_checkpoint(engine: Database, seq: int | None) -> dict[str, Any] | None:
    row = None if seq is None else checkpoint_covering(engine, seq)
    return None if row is None else {"tree_size": row.tree_size, "ts": row.ts, "key_id": row.key_id}


def attestation(settings: Settings, engine: Database, event_id: str) -> bytes:
    """The signed attestation of one call (no texts: what a viewer may hold). Raises AttestationError."""
    try:
        key = load_signing_key(settings.signing_key_file)
    except SigningKeyError as exc:
        raise AttestationError(f"this console cannot read the signing key: {exc}") from exc
    return export_attestation(engine, event_id, key)


def verify_one(settings: Settings, engine: Database, event_id: str) -> Check:
    """Build the call's attestation and check it offline: record hash, inclusion proof, signatures."""
    try:
        verified = verify_attestation(attestation(settings, engine, event_id), load_keyring(settings.signing_key_file))
    except (AttestationError, SigningKeyError) as exc:
        return Check("verify", f"FAILED: {exc}", False)
    return Check(
        "verify",
        f"VALID: record seq {verified.seq} hash {verified.record_hash} is included in the checkpoint of "
        f"{verified.tree_size} records signed by key {verified.checkpoint_key_id}",
        True,
    )


def health(settings: Settings, engine: Database, newest_seq: int | None, write_path: WritePath | None) -> list[Check]:
    """What this console's process can truthfully say about the write path; "unknown" otherwise."""
    checks = [_spool(write_path)]
    head = latest_checkpoint(engine)
    if head is None:
        checks.append(Check("last checkpoint", "none signed yet", None))
    else:
        behind = "" if newest_seq is None else f"; {max(0, newest_seq - head.tree_size):,} newer records after it"
        signed = f"{head.tree_size:,} records at {head.ts:%Y-%m-%d %H:%M:%S} UTC{behind}"
        checks.append(Check("last checkpoint", signed, True))
    checks.append(_last_verify(settings, engine))
    return checks


def _spool(write_path: WritePath | None) -> Check:
    if write_path is None:  # `provproxy admin` runs apart from the proxy's writer
        return Check("spool backlog", "unknown here (see provproxy_recorder_spool_backlog_bytes on /metrics)", None)
    stats = write_path()
    backlog = int(stats.get("spool_backlog_bytes", 0))
    healthy = bool(stats.get("db_up", True)) and bool(stats.get("spool_ok", True))
    return Check("spool backlog", f"{backlog:,} bytes; database {'up' if stats.get('db_up') else 'DOWN'}", healthy)


def _last_verify(settings: Settings, engine: Database) -> Check:
    path = settings.checkpoint_dir / VERIFY_STATE_FILE
    try:
        verified = verified_through(path, engine)
        stamp = path.stat().st_mtime if verified is not None else None
    except (OSError, ValueError, KeyError):
        verified, stamp = None, None
    if verified is None or stamp is None:
        return Check("last verify", "unknown (no `provproxy verify` state for this database here)", None)
    at = datetime.fromtimestamp(stamp, UTC)
    # verify saves its state only when it passes: a failure since then is not recorded here.
    return Check("last verify", f"passed through {verified:,} records, {at:%Y-%m-%d %H:%M:%S} UTC", True)
