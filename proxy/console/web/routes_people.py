"""``/sessions/{id}`` (an agent session on one timeline) and ``/principals/{id}`` (one person)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from proxy.console.auth import Caller
from proxy.console.params import NAME_PATTERN, Time, parse_time
from proxy.console.web.charts import bars, columns
from proxy.console.web.page_auth import PageError, page_caller
from proxy.console.web.render import render
from proxy.console.web.signals_view import alerts_or_none, signals_or_none
from proxy.store.console_session import read_session
from proxy.store.console_views import SESSION_LIMIT, principal_activity, session_events
from proxy.store.event_query import EventFilter, page_events

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Caller, Depends(page_caller("viewer"))]
PathName = Annotated[str, Path(max_length=255, pattern=NAME_PATTERN)]


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: PathName, caller: Viewer) -> HTMLResponse:
    with read_session(request.app.state.engine) as session:
        events = session_events(session, session_id)
    if not events:
        raise PageError(404, "No calls were recorded in this session.")
    first, last = events[0]["ts"], events[-1]["ts"]
    span = max((last - first).total_seconds(), 1.0)
    # Each call's place on the session's timeline, in percent of its span (SVG x attributes).
    marks = [round(100 * (e["ts"] - first).total_seconds() / span, 2) for e in events]
    return render(
        request,
        "session.html",
        caller,
        session_id=session_id,
        events=events,
        marks=list(zip(events, marks, strict=True)),
        truncated=len(events) >= SESSION_LIMIT,
        people=sorted({e["principal"] or "(unknown)" for e in events}),
        decisions={d: sum(e["decision"] == d for e in events) for d in ("allow", "flag", "block")},
    )


@router.get("/principals/{principal}", response_class=HTMLResponse)
def principal_page(
    request: Request,
    principal: PathName,
    caller: Viewer,
    since: Time = "30d",
    bucket: Annotated[Literal["hour", "day"], Query()] = "day",
) -> HTMLResponse:
    start = parse_time(since)
    with read_session(request.app.state.engine) as session:
        activity = principal_activity(session, principal, start, bucket)
        recent, _ = page_events(session, EventFilter(principal=principal, since=start, limit=50), None)
        signals = signals_or_none(session, principal)
        alerts = alerts_or_none(session, limit=50, principal=principal)
    return render(
        request,
        "principal.html",
        caller,
        principal=principal,
        since=since,
        bucket=bucket,
        total=activity["total"],
        timeline=columns(
            activity["over_time"],
            activity["decision_over_time"].get("flag", []),
            activity["decision_over_time"].get("block", []),
        ),
        breakdowns={name: bars(activity[name]) for name in ("label", "vendor", "tool", "decision")},
        recent=recent,
        signals=signals,
        alerts=alerts,
    )
