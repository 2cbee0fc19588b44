"""A signal's finding for one scope and window, as the ``signal_hits`` row it is upserted into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DAY = timedelta(days=1)


def day_of(ts: datetime) -> datetime:
    """The UTC day holding ``ts`` (its midnight): every signal's window."""
    return ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def ratio_score(measured: float, threshold: float, cap: float) -> float:
    """``measured / threshold``: 1.0 at the definition's threshold."""
    return min(cap, measured / threshold) if threshold > 0 else cap


@dataclass(slots=True)
class Hit:
    signal: str
    scope_kind: str  # principal | team | group
    scope: str
    window_start: datetime
    score: float
    principals: list[str]
    event_ids: list[str]
    detail: dict[str, Any] = field(default_factory=dict)

    def row(self, cap: int, now: datetime) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "scope_kind": self.scope_kind,
            "scope": self.scope,
            "window_start": self.window_start,
            "window_end": self.window_start + DAY,
            "score": round(self.score, 4),
            "principals": sorted(self.principals),
            "event_ids": self.event_ids[-cap:],
            "detail": self.detail,
            "updated_at": now,
        }
