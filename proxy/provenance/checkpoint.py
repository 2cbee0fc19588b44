"""Signed checkpoints: a Merkle tree head over the record hashes, every N events or T seconds.

Format (C2SP signed-note carrying a tlog-checkpoint)::

    provenance-proxy/events            <- origin
    1000                               <- tree size (records seq 1..1000)
    <base64 of the 32-byte RFC 6962 root>
    ts 2025-01-01T12:00:00.000000Z     <- extension line: when it was made
                                       <- blank line
    — provenance-proxy/events <base64(4-byte note key hash || Ed25519 signature)>

The signature covers the text up to and including the newline before the blank
line. The note key hash is the first 4 bytes of
SHA-256(name || "\\n" || 0x01 || raw public key), as signed-note defines for
Ed25519. The same text is stored in ``checkpoints.body`` and written to
``Settings.checkpoint_dir/checkpoint-<size>.txt`` so it can be published
anywhere (an object store, a git repository) and checked without the database.

The :class:`Checkpointer` reads only *committed* rows (seq after its last
checkpoint), so it never signs records that a failed insert will not keep, and
runs in its own thread, off the request path and off the writer's path. Its
Merkle frontier (O(log n) hashes) is saved next to the checkpoint files and
checked against the latest checkpoint on start; if it does not match, it is
rebuilt from the record hashes in the database.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import structlog

from proxy.provenance import strict_base64
from proxy.provenance.chain import GENESIS_HASH
from proxy.provenance.merkle import MerkleFrontier
from proxy.provenance.signing_keys import Keyring, SigningKey, raw_public
from proxy.store.chain_rows import stream_record_hashes
from proxy.store.checkpoints import insert_checkpoint, latest_checkpoint
from proxy.store.db import Database
from proxy.store.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

ORIGIN = "provenance-proxy/events"
_ED25519_ALG = b"\x01"
_SIGNATURE_PREFIX = "— "


class CheckpointError(Exception):
    """A checkpoint could not be made or does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: str  # hex
    ts: datetime
    key_id: str
    signature: str  # base64 Ed25519 signature over the note body
    note: str  # the whole signed note (body, blank line, signature lines)


def note_key_hash(name: str, public_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519_ALG + public_raw).digest()[:4]


def note_body(origin: str, tree_size: int, root: bytes, ts: datetime) -> str:
    stamp = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{origin}\n{tree_size}\n{strict_base64.encode(root)}\nts {stamp}\n"


def sign_checkpoint(key: SigningKey, tree_size: int, root: bytes, ts: datetime, origin: str = ORIGIN) -> Checkpoint:
    body = note_body(origin, tree_size, root, ts)
    signature = key.sign(body.encode())
    key_hash = note_key_hash(origin, raw_public(key.public_key))
    line = f"{_SIGNATURE_PREFIX}{origin} {strict_base64.encode(key_hash + signature)}\n"
    return Checkpoint(
        origin=origin,
        tree_size=tree_size,
        root_hash=root.hex(),
        ts=ts,
        key_id=key.key_id,
        signature=strict_base64.encode(signature),
        note=f"{body}\n{line}",
    )


def _decode_b64(text: str) -> bytes:
    try:
        return strict_base64.decode(text)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from exc


def verify_note(note: str, keyring: Keyring) -> Checkpoint:
    """Parse a signed checkpoint and check that a key of ``keyring`` signed it."""
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise CheckpointError("not a signed note")
    body += "\n"
    lines = body[:-1].split("\n")
    if len(lines) != 4 or not lines[3].startswith("ts "):
        raise CheckpointError("checkpoint body must be origin, size, root and a ts line")
    origin, size_text, root_text, ts_line = lines
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError("bad tree size")
    root = _decode_b64(root_text)
    if len(root) != 32:
        raise CheckpointError("root must be 32 bytes")
    try:
        ts = datetime.strptime(ts_line[3:], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise CheckpointError("bad ts line") from exc
    if note_body(origin, int(size_text), root, ts) != body:
        raise CheckpointError("checkpoint body is not in canonical form")
    known = {note_key_hash(origin, raw_public(public)): kid for kid, public in keyring.items()}
    for line in signatures[:-1].split("\n"):
        if not line.startswith(_SIGNATURE_PREFIX):
            raise CheckpointError("malformed signature line")
        name, _, blob_text = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        blob = _decode_b64(blob_text)
        kid = known.get(blob[:4])
        if name != origin or kid is None or len(blob) != 68:
            continue  # a signature by a key we do not know: ignored, as signed-note says
        if keyring.verify(kid, body.encode(), blob[4:]):
            return Checkpoint(
                origin=origin,
                tree_size=int(size_text),
                root_hash=root.hex(),
                ts=ts,
                key_id=kid,
                signature=strict_base64.encode(blob[4:]),
                note=note,
            )
        raise CheckpointError(f"checkpoint signature by key {kid} does not verify")
    raise CheckpointError("no signature by a known key")


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Checkpointer:
    """Makes signed checkpoints over the committed records; one per database."""

    FRONTIER_FILE = "frontier.json"

    def __init__(
        self,
        engine: Database,
        key: SigningKey,
        checkpoint_dir: Path,
        every_events: int = 1000,
        every_s: float = 60.0,
        origin: str = ORIGIN,
    ) -> None:
        self._engine = engine
        self._key = key
        self._dir = checkpoint_dir
        self._every_events = max(1, every_events)
        self._every_s = every_s
        self._origin = origin
        self._frontier: MerkleFrontier | None = None
        self._head_hash = GENESIS_HASH  # record hash at seq == frontier.size
        self._next_wake_seq: int | None = None  # the sealed seq at which to wake up next
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- triggers -------------------------------------------------------------

    def notify_sealed(self, last_seq: int) -> None:
        """HashChain's ``on_sealed``: wake up once every N sealed events.

        Counted in sealed events, not from the last checkpoint: sealed events reach the
        database a little later, and a checkpoint covers only committed ones, so while the
        database lags N behind, "N past the last checkpoint" would wake the thread on every
        event, for nothing."""
        if self._next_wake_seq is None:
            frontier = self._frontier
            self._next_wake_seq = (frontier.size if frontier is not None else 0) + self._every_events
        if last_seq >= self._next_wake_seq:
            self._next_wake_seq = last_seq + self._every_events
            self._wake.set()

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="provenance-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._checkpoint_logged()  # cover whatever was committed before shutdown

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._every_s)
            self._wake.clear()
            if self._stopping.is_set():
                break
            self._checkpoint_logged()

    def _checkpoint_logged(self) -> None:
        try:
            checkpoint = self.checkpoint_now()
        except DatabaseUnavailable as exc:  # an outage the spool covers: one line, tried again next time
            log.warning("provenance.checkpoint_deferred", error=str(exc).splitlines()[0])
            return
        except Exception:
            log.exception("provenance.checkpoint_failed")
            return
        if checkpoint is not None:
            log.info("provenance.checkpoint", tree_size=checkpoint.tree_size, key_id=checkpoint.key_id)

    # --- the work -------------------------------------------------------------

    def _state_path(self) -> Path:
        return self._dir / self.FRONTIER_FILE

    def _load_frontier(self) -> tuple[MerkleFrontier, str]:
        latest = latest_checkpoint(self._engine)
        if latest is None:
            return MerkleFrontier(), GENESIS_HASH
        path = self._state_path()
        if path.exists():
            state = orjson.loads(path.read_bytes())
            frontier = MerkleFrontier.from_json(state["frontier"])
            if frontier.size == latest.tree_size and frontier.root().hex() == latest.root_hash:
                return frontier, str(state["head_hash"])
        frontier = MerkleFrontier()
        head = GENESIS_HASH
        for _, digest, _ in stream_record_hashes(self._engine, 0, latest.tree_size):
            frontier.append(bytes.fromhex(digest))
            head = digest
        if frontier.size != latest.tree_size or frontier.root().hex() != latest.root_hash:
            raise CheckpointError(f"the records no longer match checkpoint {latest.tree_size}; run `provproxy verify`")
        return frontier, head

    def checkpoint_now(self) -> Checkpoint | None:
        """Extend the tree with the committed records after the last checkpoint and sign
        it; None when there is nothing new. Stops at the first gap in seq (a batch not
        yet committed) and refuses to sign over a broken link."""
        with self._lock:
            if self._frontier is None:  # first use: the tables may not have existed earlier
                self._frontier, self._head_hash = self._load_frontier()
            frontier = self._frontier.copy()
            head = self._head_hash
            for seq, digest, prev in stream_record_hashes(self._engine, frontier.size):
                if seq != frontier.size + 1:
                    break
                if prev != head:
                    raise CheckpointError(f"record seq {seq} does not link to seq {seq - 1}")
                frontier.append(bytes.fromhex(digest))
                head = digest
            if frontier.size == self._frontier.size:
                return None
            checkpoint = sign_checkpoint(self._key, frontier.size, frontier.root(), datetime.now(UTC), self._origin)
            insert_checkpoint(
                self._engine,
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                ts=checkpoint.ts,
                key_id=checkpoint.key_id,
                signature=checkpoint.signature,
                body=checkpoint.note,
            )
            self._frontier, self._head_hash = frontier, head
            self._dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(self._dir / f"checkpoint-{checkpoint.tree_size:012d}.txt", checkpoint.note.encode())
            _write_atomically(self._state_path(), orjson.dumps({"frontier": frontier.to_json(), "head_hash": head}))
            return checkpoint
