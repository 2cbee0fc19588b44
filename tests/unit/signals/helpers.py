"""Calls written straight into a migrated store, sealed in order (``seq``), with their instruction
body (unless ``body=False``: metadata-only retention) and the hourly roll-up kept in step, as the
loader does."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from proxy.store import stats_rollup
from proxy.store.models import EventBodyRow, EventRollupRow, EventRow
from proxy.store.rows import compress

NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seq = 0
        self.ids: dict[str, list[str]] = {}  # principal -> their event ids

    def call(
        self,
        principal: str,
        instruction: str | None,
        ts: datetime,
        *,
        team: str = "payments",
        tool: str = "claude-code",
        turns: int = 1,
        output_tokens: int = 200,
        decision: str = "allow",
        label: str | None = "code_generation",
        body: bool = True,
    ) -> str:
        self.seq += 1
        event_id = str(uuid.UUID(int=(int(ts.timestamp() * 1000) << 80) | self.seq))
        row: dict[str, Any] = {
            "id": event_id,
            "ts": ts,
            "method": "POST",
            "path": "/v1/messages",
            "vendor": "anthropic",
            "endpoint": "messages",
            "principal": principal,
            "principal_kind": "proxy_key",
            "team": team,
            "tool": tool,
            "stream": False,
            "turn_count": turns,
            "decision": decision,
            "use_label": label,
            "scores": {},
            "rule_hits": [],
            "outcome": "completed",
            "output_truncated": False,
            "output_tokens": output_tokens,
            "input_tokens": 100,
            "instruction_sha256": None if instruction is None else hashlib.sha256(instruction.encode()).hexdigest(),
            "seq": self.seq,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(EventRow), [row])
            if body and instruction is not None:
                conn.execute(
                    insert(EventBodyRow),
                    [{"event_id": event_id, "instruction": compress(instruction), "created_at": ts}],
                )
            stats_rollup.add_events(conn, [row])
        self.ids.setdefault(principal, []).append(event_id)
        return event_id

    def history(self, principal: str, per_day: int, days: int, before: datetime, team: str = "payments") -> None:
        """Earlier days' call counts, straight into the roll-up (the volume baselines read only it),
        and one sealed-less call a day so that team membership sees them."""
        rows = []
        for back in range(1, days + 1):
            hour = (before - timedelta(days=back)).replace(hour=10, minute=0, second=0, microsecond=0)
            rows.append(
                {"scope": f"principal={principal}", "hour": hour, "breakdown": "decision", "value": "allow",
                 "events": per_day, "input_tokens": 0, "output_tokens": 0}
            )  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(insert(EventRollupRow), rows)
            conn.execute(
                insert(EventRow),
                [{**_bare(principal, team, before - timedelta(days=1))}],
            )


def _bare(principal: str, team: str, ts: datetime) -> dict[str, Any]:
    """A call never sealed (no seq): the engine does not read it, membership queries see it."""
    return {
        "id": str(uuid.uuid4()),
        "ts": ts,
        "method": "POST",
        "path": "/v1/messages",
        "principal": principal,
        "team": team,
        "stream": False,
        "turn_count": 1,
        "decision": "allow",
        "scores": {},
        "rule_hits": [],
        "outcome": "completed",
        "output_truncated": False,
    }


def hits(engine: Engine) -> list[dict[str, Any]]:
    from sqlalchemy.orm import Session

    from proxy.store.signal_views import recent_signals

    with Session(engine) as session:
        return recent_signals(session, limit=1000)


def fired(engine: Engine) -> set[tuple[str, str]]:
    """``(signal, scope)`` of every hit."""
    return {(hit["signal"], hit["scope"]) for hit in hits(engine)}
