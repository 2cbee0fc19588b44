"""Query parameters shared by the event routes: validated before any of them reaches a query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import HTTPException, Query

from proxy.durations import parse_duration
from proxy.store.event_query import EventFilter

# Names as the proxy records them (users, teams, tools, models, sessions, rules): word characters and
# @ : + = - with single dots or slashes between them. No quotes, no "..", nothing a query could misread.
NAME_PATTERN = r"^[\w@:+=-]+([./][\w@:+=-]+)*$"
TIME_PATTERN = r"^[0-9][0-9A-Za-z:.+-]*$"
# Free text sent in a body or q=: anything but NUL, which no one types and PostgreSQL cannot store.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str | None, Query(max_length=255, pattern=NAME_PATTERN)]
Time = Annotated[
    str | None,
    Query(max_length=40, pattern=TIME_PATTERN, description="ISO 8601 time, or a duration back from now (2h, 7d)"),
]


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        delta = parse_duration(value)
        if delta is not None:
            return datetime.now(UTC) - delta
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise HTTPException(400, "time must be ISO 8601 or a duration like 7d") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def event_filter(
    user: Name = None,
    team: Name = None,
    tool: Name = None,
    vendor: Literal["anthropic", "openai", "gemini"] | None = None,
    model: Name = None,
    session: Name = None,
    since: Time = None,
    until: Time = None,
    outcome: Literal["completed", "client_disconnected", "upstream_error", "blocked", "rejected"] | None = None,
    decision: Literal["allow", "flag", "block"] | None = None,
    label: Name = None,
    policy_rule: Name = None,
    q: Annotated[
        str | None,
        # NUL is no text anyone searches for, and PostgreSQL refuses it in a string.
        Query(min_length=1, max_length=500, pattern=NO_NUL, description="text in the instruction or completion"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventFilter:
    return EventFilter(
        principal=user,
        team=team,
        tool=tool,
        vendor=vendor,
        model=model,
        session=session,
        since=parse_time(since),
        until=parse_time(until),
        outcome=outcome,
        decision=decision,
        label=label,
        policy_rule=policy_rule,
        text=q,
        limit=limit,
    )
