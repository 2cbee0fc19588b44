"""The console's access log: who read which body or changed what, when, from where.

Each entry is linked into its own hash chain with the provenance chain's link
function, so an edited, removed or inserted row is found by
:func:`verify_access_log` (run by ``provproxy verify``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from proxy.provenance.chain import GENESIS_HASH, record_hash
from proxy.store.console_models import AccessLogRow

_APPEND_ATTEMPTS = 20  # concurrent appenders race for the next seq; the loser retries
_VERIFY_PAGE = 5000


@dataclass(frozen=True, slots=True)
class AccessEntry:
    actor: str
    role: str
    action: str  # read_body, triage, export, replay, token_create, token_revoke, key_create, key_revoke
    target: str | None = None
    client_addr: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccessLogFinding:
    seq: int
    reason: str

    def describe(self) -> str:
        return f"access log entry seq {self.seq}: {self.reason}"


def _canonical(ts: str, entry: AccessEntry) -> bytes:
    fields = {
        "ts": ts,
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "client_addr": entry.client_addr,
        "detail": entry.detail,
    }
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def append(engine: Engine, entry: AccessEntry) -> int:
    """Append ``entry`` at the head of the chain and return its seq (committed before returning)."""
    for _ in range(_APPEND_ATTEMPTS):
        with Session(engine) as session:
            head = session.execute(
                select(AccessLogRow.seq, AccessLogRow.record_hash).order_by(AccessLogRow.seq.desc()).limit(1)
            ).first()
            seq, prev = (head[0] + 1, head[1]) if head is not None else (1, GENESIS_HASH)
            ts = datetime.now(UTC).isoformat()
            session.add(
                AccessLogRow(
                    seq=seq,
                    ts=ts,
                    actor=entry.actor,
                    role=entry.role,
                    action=entry.action,
                    target=entry.target,
                    client_addr=entry.client_addr,
                    detail=entry.detail,
                    record_hash=record_hash(prev, seq, _canonical(ts, entry)),
                    prev_hash=prev,
                )
            )
            try:
                session.commit()
                return seq
            except IntegrityError:
                session.rollback()
    raise RuntimeError("could not append to the access log: too many concurrent writers")


def entries(engine: Engine, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest entries first (optionally those about one event)."""
    query = select(AccessLogRow).order_by(AccessLogRow.seq.desc()).limit(limit)
    if target is not None:
        query = query.where(AccessLogRow.target == target)
    with Session(engine) as session:
        return [
            {column.name: getattr(row, column.name) for column in AccessLogRow.__table__.columns}
            for row in session.scalars(query)
        ]


def verify_access_log(engine: Engine) -> tuple[int, AccessLogFinding | None]:
    """Re-walk the whole chain: (entries checked, first finding or None)."""
    expected_seq, prev = 1, GENESIS_HASH
    checked = 0
    with Session(engine) as session:
        while True:
            page = select(AccessLogRow).where(AccessLogRow.seq >= expected_seq).order_by(AccessLogRow.seq)
            rows = session.scalars(page.limit(_VERIFY_PAGE)).all()
            if not rows:
                return checked, None
            for row in rows:
                if row.seq != expected_seq:
                    return checked, AccessLogFinding(expected_seq, "missing (removed)")
                if row.prev_hash != prev:
                    return checked, AccessLogFinding(row.seq, "does not link to its predecessor")
                entry = AccessEntry(row.actor, row.role, row.action, row.target, row.client_addr, row.detail)
                if record_hash(prev, row.seq, _canonical(row.ts, entry)) != row.record_hash:
                    return checked, AccessLogFinding(row.seq, "altered (hash does not match its content)")
                prev, expected_seq, checked = row.record_hash, expected_seq + 1, checked + 1
