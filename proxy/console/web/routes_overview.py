"""``/``: the overview — traffic, blocks and flags over time, who is most active, what waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from proxy.console.auth import Caller
from proxy.console.params import Time, parse_time
from proxy.console.web.charts import bars, columns
from proxy.console.web.page_auth import page_caller
from proxy.console.web.provenance_view import health
from proxy.console.web.render import render
from proxy.console.web.signals_view import alerts_or_none
from proxy.store.console_session import read_session
from proxy.store.console_views import STAT_DIMENSIONS, stats, top_principals
from proxy.store.event_query import EventFilter, page_events
from proxy.store.triage import open_flags

router = APIRouter(include_in_schema=False)
HOURLY_LIMIT = timedelta(days=8)  # hourly columns beyond a week cost more than a page may take: days then


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    caller: Annotated[Caller, Depends(page_caller("viewer"))],
    since: Time = "7d",
    bucket: Annotated[Literal["hour", "day"], Query()] = "day",
) -> HTMLResponse:
    start = parse_time(since)
    if bucket == "hour" and (start is None or datetime.now(UTC) - start > HOURLY_LIMIT):
        bucket = "day"
    with read_session(request.app.state.engine) as session:
        every = stats(session, EventFilter(since=start), bucket)
        recent, _ = page_events(session, EventFilter(limit=50), None)  # the newest sealed call
        principals = top_principals(session, start, None)
        triage = open_flags(session, EventFilter(limit=10)) if caller.role != "viewer" else None
        alerts = alerts_or_none(session, limit=10)
    newest_seq = max((e["seq"] for e in recent[:50] if e["seq"] is not None), default=None)
    app = request.app.state
    return render(
        request,
        "overview.html",
        caller,
        since=since,
        bucket=bucket,
        total=every["total"],
        decisions={row["key"]: row["events"] for row in every["decision"]},
        timeline=columns(
            every["over_time"],
            every["decision_over_time"].get("flag", []),
            every["decision_over_time"].get("block", []),
        ),
        breakdowns={name: bars(every[name]) for name in STAT_DIMENSIONS if name != "decision"},
        principals=principals,
        triage=triage,
        alerts=alerts,
        checks=health(app.settings, app.engine, newest_seq, app.write_path),
    )
