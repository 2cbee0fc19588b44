"""Helpers of the alert tests: signal hits written as the signal engine writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from proxy.store.signal_models import SignalHitRow

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def put_hit(
    engine: Engine,
    signal: str = "sweep",
    scope: str = "alice",
    score: float = 2.0,
    scope_kind: str = "principal",
    **fields: Any,
) -> int:
    """Insert or update (same signal, scope and window) a hit, stamped now as the engine does."""
    with Session(engine) as session:
        row = session.scalars(
            select(SignalHitRow).where(
                SignalHitRow.signal == signal,
                SignalHitRow.scope_kind == scope_kind,
                SignalHitRow.scope == scope,
                SignalHitRow.window_start == fields.get("window_start", T0),
            )
        ).first()
        values: dict[str, Any] = {
            "window_start": T0,
            "window_end": T0 + timedelta(days=1),
            "principals": [scope] if scope_kind == "principal" else ["alice", "bob", "carol"],
            "event_ids": ["00000000-0000-7000-8000-000000000001"],
            "detail": {"distinct_instructions": 42},
            **fields,
            "score": score,
            "updated_at": datetime.now(UTC),
        }
        if row is None:
            row = SignalHitRow(signal=signal, scope_kind=scope_kind, scope=scope, **values)
            session.add(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        session.commit()
        return row.id
