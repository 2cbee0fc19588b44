"""``/api/v1/events``, ``/events/{id}``, ``/sessions/{id}``, ``/principals/{id}``, ``/stats``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from proxy.console.auth import Caller, requires
from proxy.console.params import NAME_PATTERN, Time, event_filter, parse_time
from proxy.console.schemas import EventDetail, EventPage, PrincipalOut, SessionOut, StatsOut
from proxy.store.access_log import AccessEntry, append
from proxy.store.console_session import read_session
from proxy.store.console_views import principal_activity, session_events, stats
from proxy.store.event_query import BadCursor, EventFilter, page_events
from proxy.store.queries import get_event
from proxy.store.triage import verdicts_for

router = APIRouter()
PathName = Annotated[str, Path(max_length=255, pattern=NAME_PATTERN)]
Bucket = Annotated[Literal["hour", "day"], Query()]
Filter = Annotated[EventFilter, Depends(event_filter)]


@router.get("/events", response_model=EventPage)
def list_events(
    request: Request,
    f: Filter,
    _: Annotated[Caller, Depends(requires("viewer"))],
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")] = None,
) -> dict[str, Any]:
    """Events matching every filter given, newest first; follow ``next_cursor`` for the next page."""
    with read_session(request.app.state.engine) as session:
        try:
            events, next_cursor = page_events(session, f, cursor)
        except BadCursor:
            raise HTTPException(400, "invalid cursor") from None
    return {"events": events, "next_cursor": next_cursor}


@router.get("/events/{event_id}", response_model=EventDetail)
def event_detail(
    request: Request, event_id: PathName, caller: Annotated[Caller, Depends(requires("auditor"))]
) -> dict[str, Any]:
    """One event with its stored request and completion; the read is recorded in the access log."""
    with read_session(request.app.state.engine) as session:
        event = get_event(session, event_id)
        if event is None:
            raise HTTPException(404, "no such event")
        event["verdicts"] = verdicts_for(session, event_id)
    log_access(request, caller, "read_body", event_id)
    return event


@router.get("/sessions/{session_id}", response_model=SessionOut)
def session_view(
    request: Request, session_id: PathName, _: Annotated[Caller, Depends(requires("viewer"))]
) -> dict[str, Any]:
    """Every call of one agent session, in order."""
    with read_session(request.app.state.engine) as session:
        events = session_events(session, session_id)
    if not events:
        raise HTTPException(404, "no such session")
    return {"session_id": session_id, "events": events}


@router.get("/principals/{principal}", response_model=PrincipalOut)
def principal_view(
    request: Request,
    principal: PathName,
    _: Annotated[Caller, Depends(requires("viewer"))],
    since: Time = "30d",
    bucket: Bucket = "day",
) -> dict[str, Any]:
    """A person's activity over time, and their latest calls."""
    with read_session(request.app.state.engine) as session:
        activity = principal_activity(session, principal, parse_time(since), bucket)
        recent, _next = page_events(session, EventFilter(principal=principal, limit=50), None)
    if not activity["total"]["events"]:
        raise HTTPException(404, "no activity for this principal")
    return {"principal": principal, "activity": activity, "recent": recent}


@router.get("/stats", response_model=StatsOut)
def stats_view(
    request: Request, f: Filter, _: Annotated[Caller, Depends(requires("viewer"))], bucket: Bucket = "day"
) -> dict[str, Any]:
    """Counts and tokens by label, decision, tool, vendor and team, and per time bucket."""
    with read_session(request.app.state.engine) as session:
        return stats(session, f, bucket)


def log_access(request: Request, caller: Caller, action: str, target: str | None, **detail: Any) -> None:
    """Record a body read or a change: who, when, what, from where."""
    entry = AccessEntry(caller.name, caller.role, action, target, caller.client_addr, {"via": caller.via, **detail})
    append(request.app.state.engine, entry)
