"""A recorded call as the store keeps it, for unit tests that read events back from a real file."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from proxy.store.models import EventRow


def event_row(n: int, at: datetime, decision: str, **fields: Any) -> EventRow:
    """Event number ``n`` (its id and chain position), ``n`` seconds after ``at``; ``fields`` override."""
    values: dict[str, Any] = {
        "id": f"00000000-0000-7000-8000-{n:012d}",
        "ts": at + timedelta(seconds=n),
        "method": "POST",
        "path": "/v1/messages",
        "vendor": "anthropic",
        "endpoint": "messages",
        "principal": "alice",
        "team": "ml",
        "tool": "claude-code",
        "client_addr": "10.0.0.7",
        "stream": False,
        "turn_count": 1,
        "decision": decision,
        "use_label": "eval_task_generation",
        "scores": {},
        "rule_hits": [],
        "policy_rule": f"{decision}-rule",
        "outcome": "completed",
        "output_truncated": False,
        "seq": n,
    }
    return EventRow(**(values | fields))
