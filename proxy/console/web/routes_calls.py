"""``/events`` (the filterable table) and ``/events/{id}`` (one call, explained and verifiable)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from proxy.console.auth import ROLE_RANK, Caller
from proxy.console.params import NAME_PATTERN, event_filter
from proxy.console.routes_events import log_access
from proxy.console.web.explain import explanation, live_policy, rule_description, tool_calls, top_scores
from proxy.console.web.page_auth import PageError, page_caller
from proxy.console.web.provenance_view import attestation, covering_checkpoint, verify_one
from proxy.console.web.render import SECURITY_HEADERS, render
from proxy.provenance.attest import AttestationError
from proxy.store.console_session import read_session
from proxy.store.event_query import BadCursor, EventFilter, page_events
from proxy.store.queries import get_event
from proxy.store.triage import verdicts_for

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Caller, Depends(page_caller("viewer"))]
EventId = Annotated[str, Path(max_length=255, pattern=NAME_PATTERN)]
FILTER_FIELDS = ("user", "team", "tool", "vendor", "model", "session", "since", "until", "outcome", "decision")
FILTER_FIELDS_MORE = ("label", "policy_rule", "q")


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    caller: Viewer,
    f: Annotated[EventFilter, Depends(event_filter)],
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")] = None,
) -> HTMLResponse:
    if "limit" not in request.query_params:
        f.limit = 50
    with read_session(request.app.state.engine) as session:
        try:
            events, next_cursor = page_events(session, f, cursor)
        except BadCursor:
            raise PageError(400, "That page link is not valid; start again from the first page.") from None
    # The export takes the same filters: the table's rows, all of them, as a file.
    filters = {k: v for k, v in request.query_params.items() if k in (*FILTER_FIELDS, *FILTER_FIELDS_MORE)}
    return render(
        request,
        "events.html",
        caller,
        events=events,
        next_cursor=next_cursor,
        filters=filters,
        fields=FILTER_FIELDS + FILTER_FIELDS_MORE,
        first_page=cursor is None,
    )


@router.get("/events/{event_id}", response_class=HTMLResponse)
def call_page(request: Request, event_id: EventId, caller: Viewer, verify: bool = False) -> HTMLResponse:
    state = request.app.state
    with read_session(state.engine) as session:
        event = get_event(session, event_id)
        if event is None:
            raise PageError(404, "There is no call with this id.")
        verdicts = verdicts_for(session, event_id)
    stored = event.pop("body")
    # Bodies go to auditors and admins only, as in the API; a viewer's page never holds them.
    body = stored if ROLE_RANK[caller.role] >= ROLE_RANK["auditor"] else None
    if body is not None:
        log_access(request, caller, "read_body", event_id)
    rule_text = rule_description(live_policy(state.settings), event.get("policy_rule"))
    return render(
        request,
        "call.html",
        caller,
        event=event,
        body=body,
        body_kept=stored is not None,
        verdicts=verdicts,
        explained=explanation(event, rule_text),
        scores=top_scores(event.get("scores")),
        tools=tool_calls(body["tool_calls"]) if body else [],
        checkpoint=covering_checkpoint(state.engine, event.get("seq")),
        verified=verify_one(state.settings, state.engine, event_id) if verify else None,
    )


@router.get("/events/{event_id}/attestation")
def attestation_download(request: Request, event_id: EventId, caller: Viewer) -> Response:
    """The call's signed attestation (record fields and hashes, no texts), as a file."""
    try:
        envelope = attestation(request.app.state.settings, request.app.state.engine, event_id)
    except AttestationError as exc:
        raise PageError(409, f"No attestation: {exc}") from None
    headers: dict[str, Any] = {
        **SECURITY_HEADERS,
        "content-disposition": f'attachment; filename="attestation-{event_id}.json"',
    }
    return Response(envelope, media_type="application/json", headers=headers)
