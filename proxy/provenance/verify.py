"""Re-walk the chain and the checkpoints; name the first record that is not as sealed.

Walk order: records by ``seq``. For each record:

1. its ``seq`` must follow the previous one (else a record was **removed**);
2. its ``prev_hash`` must equal the previous record's hash (else a record was
   **inserted**, **removed** or **reordered** — which one is told by the position
   the record's own hash was sealed at);
3. SHA-256(prev || seq || canonical fields) must equal its ``record_hash``
   (else it was **altered**);
4. its hash is appended to the Merkle tree; whenever the tree reaches the size
   of a signed checkpoint, the roots must agree (else the records since the
   previous checkpoint were rewritten with a recomputed chain).

Checkpoints are checked first: each must carry a valid signature by a key of
the keyring, and its columns must match its signed text.

Incremental runs start from the last checkpoint that verified (state file:
position, record hash there, Merkle frontier), after checking that the record
at that position still has the hash it had; ``full=True`` re-walks everything.
Records after the last checkpoint are protected by the chain only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from proxy.provenance.canonical import CANONICAL_FIELDS, CanonicalError, canonical_values
from proxy.provenance.chain import GENESIS_HASH, link_digest, record_hash
from proxy.provenance.checkpoint import CheckpointError, verify_note
from proxy.provenance.merkle import MerkleFrontier
from proxy.provenance.published import SignedHead, published_checkpoints
from proxy.provenance.signing_keys import Keyring
from proxy.store.body_rows import stream_stored_bodies
from proxy.store.chain_rows import Tombstone, first_unsealed, record_hash_at, stream_chain_rows, tombstones_after
from proxy.store.checkpoints import checkpoints_after
from proxy.store.db import Database, display_url
from proxy.store.models import CheckpointRow

_ID_INDEX = 3 + CANONICAL_FIELDS.index("id")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # altered | removed | inserted | reordered | checkpoint_invalid | checkpoint_mismatch
    seq: int | None
    event_id: str | None
    detail: str

    def describe(self) -> str:
        if self.seq is not None:
            where = f"seq {self.seq}"
        else:
            where = "checkpoint" if self.kind.startswith("checkpoint") else "outside the chain"
        name = f" (id {self.event_id})" if self.event_id else ""
        return f"{self.kind}: {where}{name}: {self.detail}"


@dataclass(slots=True)
class VerifyReport:
    resumed_after: int = 0
    records_checked: int = 0
    checkpoints_checked: int = 0
    verified_tree_size: int = 0
    last_seq: int = 0
    bodies_checked: int = 0  # stored bodies compared with their sealed digests (--full)
    published_size: int = 0  # records the newest published checkpoint file signs
    finding: Finding | None = None
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.finding is None


@dataclass(slots=True)
class _Position:
    size: int
    head: str
    frontier: MerkleFrontier


def _state_key(engine: Database) -> str:
    # Keyed by database, without the password, so one state file cannot vouch for another DB.
    return hashlib.sha256(display_url(engine).encode()).hexdigest()


def _load_state(path: Path, engine: Database) -> _Position | None:
    if not path.exists():
        return None
    state = orjson.loads(path.read_bytes())
    if state.get("database") != _state_key(engine):
        return None
    frontier = MerkleFrontier.from_json(state["frontier"])
    return _Position(frontier.size, str(state["head_hash"]), frontier)


def verified_through(path: Path, engine: Database) -> int | None:
    """How many records the last passing ``provproxy verify`` of this database covered, from the
    state it left in ``path`` (None: no state for this database there)."""
    position = _load_state(path, engine)
    return None if position is None else position.size


def _save_state(path: Path, engine: Database, position: _Position) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(
        orjson.dumps(
            {
                "database": _state_key(engine),
                "head_hash": position.head,
                "frontier": position.frontier.to_json(),
            }
        )
    )
    tmp.replace(path)


def _check_checkpoint(row: CheckpointRow, keyring: Keyring) -> str | None:
    """Why this checkpoint row is not valid, or None."""
    try:
        signed = verify_note(row.body, keyring)
    except CheckpointError as exc:
        return str(exc)
    if signed.key_id != row.key_id:
        return f"signed by key {signed.key_id} but the row says {row.key_id}"
    if signed.tree_size != row.tree_size or signed.root_hash != row.root_hash:
        return "tree size or root in the row differ from the signed text"
    if signed.signature != row.signature:
        return "signature column differs from the signed text"
    return None


def _sealed_offset(row: Any, seq: int, canonical: bytes) -> int | None:
    """Where (relative to ``seq``) this row's own hash says it was sealed."""
    for offset in (0, -1, 1):
        if seq + offset > 0 and record_hash(row[2], seq + offset, canonical) == row[1]:
            return offset
    return None


def _link_finding(row: Any, seq: int, canonical: bytes, prev_id: str | None) -> Finding:
    event_id = row[_ID_INDEX]
    offset = _sealed_offset(row, seq, canonical)
    if offset == -1:
        return Finding(
            "inserted",
            seq - 1,
            prev_id,
            f"record {event_id} was sealed at seq {seq - 1}; the record now before it is not in the chain",
        )
    if offset == 1:
        return Finding(
            "removed",
            seq,
            event_id,
            f"this record was sealed at seq {seq + 1}: the record sealed before it is missing",
        )
    if offset == 0:
        return Finding(
            "reordered",
            seq,
            event_id,
            "prev_hash does not match the record before it: its predecessor was replaced or moved",
        )
    return Finding(
        "reordered",
        seq,
        event_id,
        "record was sealed at another position (moved) or its chain fields were forged",
    )


class _ChainWalk:
    """Walks records in seq order from a verified position, extending the Merkle tree and
    checking it against each signed checkpoint it reaches."""

    def __init__(self, start: _Position, checkpoints: list[SignedHead], tombstones: dict[int, Tombstone]) -> None:
        self.frontier = start.frontier.copy()
        self.tombstones = tombstones  # positions held by records the database refused
        self.passed_tombstones: list[Tombstone] = []
        self.verified = start
        self.head = start.head
        self.head_id: str | None = None
        self._checkpoints = checkpoints
        self._next = 0
        self._next_size = checkpoints[0].tree_size if checkpoints else -1
        self._range_start = start.size + 1

    def run(self, rows: Iterable[Sequence[Any]]) -> Finding | None:
        """The first finding in ``rows``, or None when every one is as sealed."""
        frontier = self.frontier
        prev, prev_raw = self.head, bytes.fromhex(self.head)
        for row in rows:
            seq, expected = row[0], frontier.size + 1
            if seq != expected and expected in self.tombstones:
                finding = self._through_tombstones(until=seq)
                if finding is not None:
                    return finding
                prev, prev_raw, expected = self.head, bytes.fromhex(self.head), frontier.size + 1
            if seq != expected:
                detail = f"no record at seq {expected} (next is seq {seq}, id {row[_ID_INDEX]})"
                return Finding("removed", expected, None, detail)
            try:
                canonical = canonical_values(row[3:])
            except CanonicalError as exc:
                return Finding("altered", seq, row[_ID_INDEX], f"a field has an impossible value: {exc}")
            if row[2] != prev:
                return _link_finding(row, seq, canonical, self.head_id)
            sealed = link_digest(prev_raw, seq, canonical)
            if sealed.hex() != row[1]:
                return Finding("altered", seq, row[_ID_INDEX], "content does not match its record hash")
            frontier.append(sealed)
            prev_raw, prev = sealed, row[1]
            self.head, self.head_id = prev, row[_ID_INDEX]
            if frontier.size == self._next_size:
                finding = self._reach_checkpoints()
                if finding is not None:
                    return finding
        return self._through_tombstones(until=None)

    def _through_tombstones(self, until: int | None) -> Finding | None:
        """Walk the tombstones that hold the next positions (before ``until``): each must link and
        hash like the record it stands for."""
        while (stone := self.tombstones.get(self.frontier.size + 1)) is not None:
            if until is not None and stone.seq >= until:
                break
            if stone.prev_hash != self.head:
                detail = "tombstone's prev_hash does not match the record before it"
                return Finding("reordered", stone.seq, stone.event_id, detail)
            sealed = link_digest(bytes.fromhex(self.head), stone.seq, stone.canonical)
            if sealed.hex() != stone.record_hash:
                return Finding("altered", stone.seq, stone.event_id, "tombstone does not match its record hash")
            self.frontier.append(sealed)
            self.head, self.head_id = stone.record_hash, stone.event_id
            self.passed_tombstones.append(stone)
            if self.frontier.size == self._next_size:
                finding = self._reach_checkpoints()
                if finding is not None:
                    return finding
        return None

    def _reach_checkpoints(self) -> Finding | None:
        """The tree has the size of the next checkpoint(s): the roots must agree."""
        size = self.frontier.size
        while size == self._next_size:
            checkpoint = self._checkpoints[self._next]
            if self.frontier.root().hex() != checkpoint.root_hash:
                return Finding(
                    "checkpoint_mismatch",
                    self._range_start,
                    None,
                    f"records seq {self._range_start}..{size} differ from signed {checkpoint.label} "
                    f"(size {size}): rewritten after it was signed, chain recomputed",
                )
            self.verified = _Position(size, self.head, self.frontier.copy())
            self._range_start = size + 1
            self._next += 1
            self._next_size = self._checkpoints[self._next].tree_size if self._next < len(self._checkpoints) else -1
        return None

    def missing_tail(self) -> Finding | None:
        """A checkpoint covering more records than the log holds."""
        if self._next_size == -1:
            return None
        size = self.frontier.size
        label = self._checkpoints[-1].label
        newest = self._checkpoints[-1].tree_size
        if size == 0:
            detail = f"0 records but signed {label} covers {newest}: the database was emptied or replaced"
        else:
            detail = f"the log ends at seq {size}, behind signed {label} which covers {newest} records"
        return Finding("removed", size + 1, None, detail)


def _start(engine: Database, state_file: Path | None, full: bool, report: VerifyReport) -> _Position:
    """Where the walk starts: the saved position if its record is unchanged, else the beginning."""
    start = None if full or state_file is None else _load_state(state_file, engine)
    if start is not None and record_hash_at(engine, start.size) != start.head:
        report.notes.append("the last verified record changed since the previous run: full re-walk")
        start = None
    return start if start is not None else _Position(0, GENESIS_HASH, MerkleFrontier())


def _signed_checkpoints(
    engine: Database, after_size: int, keyring: Keyring, report: VerifyReport
) -> tuple[list[SignedHead], Finding | None]:
    """The checkpoints past ``after_size`` up to the first invalid one, and what is wrong with it."""
    valid: list[SignedHead] = []
    for candidate in checkpoints_after(engine, after_size):
        problem = _check_checkpoint(candidate, keyring)
        report.checkpoints_checked += 1
        if problem is not None:
            detail = f"checkpoint {candidate.id} (size {candidate.tree_size}): {problem}"
            return valid, Finding("checkpoint_invalid", None, None, detail)
        valid.append(SignedHead(candidate.tree_size, candidate.root_hash, f"checkpoint {candidate.id}"))
    return valid, None


def _unsealed_finding(engine: Database) -> Finding | None:
    unsealed, unsealed_id = first_unsealed(engine)
    if not unsealed:
        return None
    detail = f"{unsealed} record(s) have no place in the chain (seq is NULL): inserted, or stored unsealed"
    return Finding("inserted", None, unsealed_id, detail)


def _with_published(
    directory: Path | None, keyring: Keyring, after_size: int, heads: list[SignedHead], report: VerifyReport
) -> tuple[list[SignedHead], Finding | None]:
    """``heads`` with the checkpoints published in ``directory``, smallest first, and the first bad file."""
    if directory is None:
        return heads, None
    published = published_checkpoints(directory, keyring, after_size)
    report.checkpoints_checked += len(published.heads) + len(published.invalid)
    report.published_size = published.newest.tree_size if published.newest is not None else 0
    if published.newest is None and not published.invalid:
        report.notes.append(f"no published checkpoints in {directory}: trust rests on the database alone")
    merged = sorted([*heads, *published.heads], key=lambda head: head.tree_size)
    if published.invalid:
        return merged, Finding("checkpoint_invalid", None, None, f"published checkpoint {published.invalid[0]}")
    return merged, None


def _body_finding(engine: Database, after_seq: int, report: VerifyReport) -> Finding | None:
    """The first stored body that differs from the digest its (verified) record sealed."""
    for stored in stream_stored_bodies(engine, after_seq):
        for name, plain, digest in stored.bodies:
            report.bodies_checked += 1
            if digest is None:
                if stored.record_version in (None, 1) and name != "request_body":
                    continue  # sealed before version 2: no digest of this text exists
                if name == "request_body":
                    detail = "a request body is stored but its record sealed no request digest"
                else:
                    detail = f"{name} is stored but its record sealed no digest of it"
                return Finding("altered", stored.seq, stored.event_id, detail)
            if plain is None or hashlib.sha256(plain).hexdigest() != digest:
                detail = f"stored {name} does not match the digest sealed in its record (replaced)"
                return Finding("altered", stored.seq, stored.event_id, detail)
    return None


def _trust_note(report: VerifyReport) -> str:
    verified, last = report.verified_tree_size, report.last_seq
    if verified == 0:
        return f"no signed checkpoint vouches for any record: seq 1..{last} rest on the hash chain alone"
    tail = f"; seq {verified + 1}..{last} rest on the hash chain alone" if last > verified else ""
    return f"trust reaches seq {verified} (signed checkpoints agree with the records up to it){tail}"


def verify_database(
    engine: Database,
    keyring: Keyring,
    state_file: Path | None = None,
    full: bool = False,
    published_dir: Path | None = None,
) -> VerifyReport:
    """Walk the chain against the checkpoints in the database and those published in ``published_dir``."""
    started = time.perf_counter()
    report = VerifyReport()
    start = _start(engine, state_file, full, report)
    report.resumed_after = start.size
    checkpoints, checkpoint_problem = _signed_checkpoints(engine, start.size, keyring, report)
    checkpoints, published_problem = _with_published(published_dir, keyring, start.size, checkpoints, report)
    checkpoint_problem = checkpoint_problem or published_problem
    walk = _ChainWalk(start, checkpoints, tombstones_after(engine, start.size))
    finding = walk.run(stream_chain_rows(engine, CANONICAL_FIELDS, start.size))
    for stone in walk.passed_tombstones:
        report.notes.append(
            f"seq {stone.seq} (id {stone.event_id}) was refused by the database ({stone.error}); its tombstone "
            "keeps the chain whole and the full record is in the spool's rejected.jsonl"
        )
    report.records_checked = walk.frontier.size - start.size
    report.last_seq = walk.frontier.size
    finding = finding or walk.missing_tail() or _unsealed_finding(engine)
    if full and finding is None:
        finding = _body_finding(engine, start.size, report)
    report.finding = finding or checkpoint_problem
    report.verified_tree_size = walk.verified.size
    report.notes.append(_trust_note(report))
    if state_file is not None and walk.verified.size > 0:
        _save_state(state_file, engine, walk.verified)
    report.elapsed_s = time.perf_counter() - started
    return report
