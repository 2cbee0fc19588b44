"""``/triage`` (the queue, verdicts posted from the keyboard) and ``/policy`` (the live policy, and
a candidate replayed over recorded calls). Both change or read bodies: auditor and up, as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from proxy.console.auth import Caller
from proxy.console.params import NAME_PATTERN, event_filter
from proxy.console.routes_events import log_access
from proxy.console.routes_policy import ReplayRequest, replay_policy
from proxy.console.web.explain import live_policy_path
from proxy.console.web.page_auth import PageError, Posted, form_caller, page_caller
from proxy.console.web.render import SECURITY_HEADERS, render
from proxy.console.web.routes_login import local_path
from proxy.store.console_session import read_session
from proxy.store.event_query import EventFilter
from proxy.store.triage import VERDICTS, add_verdict, open_flags

router = APIRouter(include_in_schema=False)
EventId = Annotated[str, Path(max_length=255, pattern=NAME_PATTERN)]
MAX_NOTE = 10_000


@router.get("/triage", response_class=HTMLResponse)
def triage_page(
    request: Request,
    caller: Annotated[Caller, Depends(page_caller("auditor"))],
    f: Annotated[EventFilter, Depends(event_filter)],
) -> HTMLResponse:
    with read_session(request.app.state.engine) as session:
        queue = open_flags(session, f)
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "triage.html", caller, queue=queue, back=back, verdicts=VERDICTS)


@router.post("/triage/{event_id}")
def post_verdict(
    request: Request, event_id: EventId, posted: Annotated[Posted, Depends(form_caller("auditor"))]
) -> RedirectResponse:
    """The same store function as ``POST /api/v1/triage/{id}``: a verdict appended, the read logged."""
    verdict, note = posted.form.get("verdict", ""), posted.form.get("note", "").strip() or None
    if verdict not in VERDICTS:
        raise PageError(400, f"A verdict is one of {', '.join(VERDICTS)}.")
    if note is not None and (len(note) > MAX_NOTE or "\x00" in note):
        raise PageError(400, "That note is too long.")
    with read_session(request.app.state.engine) as session:
        if not add_verdict(session, event_id, verdict, note, posted.caller.name):
            raise PageError(404, "There is no call with this id.")
    log_access(request, posted.caller, "triage", event_id, verdict=verdict)
    return RedirectResponse(local_path(posted.form.get("back") or "/triage"), status_code=303, headers=SECURITY_HEADERS)


def _live_policy_text(request: Request) -> tuple[str, str]:
    path = live_policy_path(request.app.state.settings)
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as exc:
        return str(path), f"(cannot read the policy file: {exc.strerror or exc})"


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, caller: Annotated[Caller, Depends(page_caller("viewer"))]) -> HTMLResponse:
    source, text = _live_policy_text(request)
    return render(request, "policy.html", caller, source=source, live=text, form={}, report=None, error=None)


@router.post("/policy/replay", response_class=HTMLResponse)
def policy_replay(request: Request, posted: Annotated[Posted, Depends(form_caller("auditor"))]) -> HTMLResponse:
    """The API's replay route itself, called with the form's fields: one logic, one access log entry."""
    form = {k: posted.form.get(k, "") for k in ("policy", "since", "until")}
    report: dict[str, Any] | None = None
    error = None
    try:
        body = ReplayRequest(policy=form["policy"], since=form["since"] or "7d", until=form["until"] or None)
        report = replay_policy(request, body, posted.caller)
    except ValidationError as exc:
        error = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    except HTTPException as exc:
        error = str(exc.detail)
    source, text = _live_policy_text(request)
    shown = {"source": source, "live": text, "form": form, "report": report, "error": error}
    return render(request, "policy.html", posted.caller, status=400 if error else 200, **shown)
