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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from proxy.provenance.canonical import CANONICAL_FIELDS, CanonicalError, canonical_values
from proxy.provenance.chain import GENESIS_HASH, record_hash
from proxy.provenance.checkpoint import CheckpointError, verify_note
from proxy.provenance.db import CheckpointRow, ProvenanceTables
from proxy.provenance.merkle import MerkleFrontier
from proxy.provenance.signing_keys import Keyring

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


def _state_key(engine: Engine) -> str:
    # Keyed by database, without the password, so one state file cannot vouch for another DB.
    return hashlib.sha256(engine.url.render_as_string(hide_password=True).encode()).hexdigest()


def _load_state(path: Path, engine: Engine) -> _Position | None:
    if not path.exists():
        return None
    state = orjson.loads(path.read_bytes())
    if state.get("database") != _state_key(engine):
        return None
    frontier = MerkleFrontier.from_json(state["frontier"])
    return _Position(frontier.size, str(state["head_hash"]), frontier)


def _save_state(path: Path, engine: Engine, position: _Position) -> None:
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


def verify_database(
    engine: Engine, keyring: Keyring, state_file: Path | None = None, full: bool = False
) -> VerifyReport:
    started = time.perf_counter()
    report = VerifyReport()
    tables = ProvenanceTables.reflect(engine)
    with engine.connect() as conn:
        start = None if full or state_file is None else _load_state(state_file, engine)
        if start is not None and tables.record_hash_at(conn, start.size) != start.head:
            report.notes.append("the last verified record changed since the previous run: full re-walk")
            start = None
        if start is None:
            start = _Position(0, GENESIS_HASH, MerkleFrontier())
        report.resumed_after = start.size

        pending: list[CheckpointRow] = []
        checkpoint_problem: Finding | None = None
        for candidate in tables.checkpoints_after(conn, start.size):
            problem = _check_checkpoint(candidate, keyring)
            report.checkpoints_checked += 1
            if problem is not None:
                checkpoint_problem = Finding(
                    "checkpoint_invalid",
                    None,
                    None,
                    f"checkpoint {candidate.id} (size {candidate.tree_size}): {problem}",
                )
                break
            pending.append(candidate)

        verified = start
        finding: Finding | None = None
        frontier = start.frontier.copy()
        subtrees = frontier.subtrees
        size = frontier.size
        prev = start.head
        prev_id: str | None = None
        range_start = start.size + 1
        next_index = 0
        next_size = pending[0].tree_size if pending else -1
        prev_raw = bytes.fromhex(prev)
        sha256 = hashlib.sha256
        for row in tables.stream_chain_rows(conn, start.size):
            seq = row[0]
            if seq != size + 1:
                finding = Finding(
                    "removed",
                    size + 1,
                    None,
                    f"no record at seq {size + 1} (next is seq {seq}, id {row[_ID_INDEX]})",
                )
                break
            try:
                canonical = canonical_values(row[3:])
            except CanonicalError as exc:
                finding = Finding("altered", seq, row[_ID_INDEX], f"a field has an impossible value: {exc}")
                break
            if row[2] != prev:
                finding = _link_finding(row, seq, canonical, prev_id)
                break
            sealed = sha256(prev_raw + seq.to_bytes(8, "big") + canonical).digest()  # chain.record_hash
            if sealed.hex() != row[1]:
                finding = Finding("altered", seq, row[_ID_INDEX], "content does not match its record hash")
                break
            # MerkleFrontier.append, inlined: this loop is the verify hot path.
            digest = sha256(b"\x00" + sealed).digest()
            carry = size
            while carry & 1:
                digest = sha256(b"\x01" + subtrees.pop() + digest).digest()
                carry >>= 1
            subtrees.append(digest)
            size += 1
            frontier.size = size
            prev_raw = sealed
            prev = row[1]
            prev_id = row[_ID_INDEX]
            while size == next_size:
                checkpoint = pending[next_index]
                if frontier.root().hex() != checkpoint.root_hash:
                    finding = Finding(
                        "checkpoint_mismatch",
                        range_start,
                        None,
                        f"records seq {range_start}..{size} differ from signed checkpoint {checkpoint.id} "
                        f"(size {size}): rewritten after it was signed, chain recomputed",
                    )
                    break
                verified = _Position(size, prev, frontier.copy())
                range_start = size + 1
                next_index += 1
                next_size = pending[next_index].tree_size if next_index < len(pending) else -1
            if finding is not None:
                break
        report.records_checked = size - start.size
        report.last_seq = size
        if finding is None and next_size != -1:
            finding = Finding(
                "removed",
                size + 1,
                None,
                f"checkpoint {pending[next_index].id} covers {next_size} records but the log ends at seq {size}",
            )
        unsealed, unsealed_id = tables.first_unsealed(conn)
    if finding is None and unsealed:
        finding = Finding(
            "inserted",
            None,
            unsealed_id,
            f"{unsealed} record(s) have no place in the chain (seq is NULL): inserted, or stored unsealed",
        )
    report.finding = finding or checkpoint_problem
    report.verified_tree_size = verified.size
    if state_file is not None and verified.size > 0:
        _save_state(state_file, engine, verified)
    report.elapsed_s = time.perf_counter() - started
    return report
