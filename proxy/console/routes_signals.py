"""``/api/v1/signals`` and ``/api/v1/alerts``: distillation signals and the alerts raised on them.

Signals and alerts are metadata (who, which signal, how strong, which calls): viewers see them;
the calls' bodies stay behind ``/events/{id}`` (auditor). Acknowledging an alert is a change:
auditors and admins only, and recorded in the access log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from proxy.alerts.rules import Signal
from proxy.console.auth import Caller, requires
from proxy.console.params import NAME_PATTERN, Name, Time, parse_time
from proxy.console.routes_events import log_access
from proxy.console.schemas_signals import AlertOut, PrincipalSignalsOut, SignalHitOut
from proxy.store.alert_store import acknowledge
from proxy.store.console_session import read_session
from proxy.store.signal_views import list_alerts, principal_signals, recent_signals, signal_hit

router = APIRouter(tags=["signals"])
Viewer = Annotated[Caller, Depends(requires("viewer"))]
Auditor = Annotated[Caller, Depends(requires("auditor"))]
# Ids are database integers: bounded, so that no value reaches the database as an overflow.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/signals", response_model=list[SignalHitOut])
def signals(request: Request, _: Viewer, signal: Signal | None = None, limit: Limit = 50) -> list[dict[str, Any]]:
    """The most recently updated signal hits, newest first."""
    with read_session(request.app.state.engine) as session:
        return recent_signals(session, limit, signal)


@router.get("/signals/{hit_id}", response_model=SignalHitOut)
def signal(request: Request, hit_id: RowId, _: Viewer) -> dict[str, Any]:
    """One signal hit with what it measured and the calls behind it."""
    with read_session(request.app.state.engine) as session:
        hit = signal_hit(session, hit_id)
    if hit is None:
        raise HTTPException(404, "no such signal hit")
    return hit


@router.get("/principals/{principal}/signals", response_model=PrincipalSignalsOut)
def principal_signal_hits(
    request: Request,
    principal: Annotated[str, Path(max_length=255, pattern=NAME_PATTERN)],
    _: Viewer,
    since: Time = "30d",
) -> dict[str, Any]:
    """A person's signal hits, their own and their groups', strongest first (none: an empty list)."""
    with read_session(request.app.state.engine) as session:
        hits = principal_signals(session, principal, parse_time(since))
    return {"principal": principal, "signals": hits}


@router.get("/alerts", response_model=list[AlertOut])
def alerts(
    request: Request,
    _: Viewer,
    open: Annotated[bool, Query(description="only alerts not yet acknowledged")] = False,
    principal: Name = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Alerts, newest first; ``principal``: those on that person or a group they are in."""
    with read_session(request.app.state.engine) as session:
        return list_alerts(session, limit, open_only=open, principal=principal)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def ack(request: Request, alert_id: RowId, caller: Auditor) -> dict[str, Any]:
    """Acknowledge an alert (the first acknowledgement stays; a repeat changes nothing)."""
    with read_session(request.app.state.engine) as session:
        alert = acknowledge(session, alert_id, caller.name)
    if alert is None:
        raise HTTPException(404, "no such alert")
    log_access(request, caller, "alert_ack", f"alert:{alert_id}")
    return alert
