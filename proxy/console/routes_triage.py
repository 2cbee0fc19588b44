"""``/api/v1/triage``: auditors work through flagged calls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from proxy.console.auth import Caller, requires
from proxy.console.params import NAME_PATTERN, NO_NUL, Time, event_filter, parse_time
from proxy.console.routes_events import log_access
from proxy.console.schemas import EventOut, Verdict, VerdictOut
from proxy.store.console_session import read_session
from proxy.store.db import Database
from proxy.store.event_query import EventFilter
from proxy.store.recorded_calls import settled_verdicts
from proxy.store.triage import add_verdict, open_flags, verdicts_for
from proxy.triage_examples import examples

JSONL = "application/x-ndjson"

router = APIRouter(prefix="/triage")
Auditor = Annotated[Caller, Depends(requires("auditor"))]


class NewVerdict(BaseModel):
    verdict: Verdict
    note: str | None = Field(default=None, max_length=10_000, pattern=NO_NUL)


@router.get("", response_model=list[EventOut])
def queue(request: Request, f: Annotated[EventFilter, Depends(event_filter)], _: Auditor) -> list[dict[str, Any]]:
    """Flagged calls without a settling verdict (benign or violation), newest first."""
    with read_session(request.app.state.engine) as session:
        return open_flags(session, f)


@router.get(
    "/examples",
    response_class=StreamingResponse,
    responses={200: {"content": {JSONL: {}}, "description": "one labelled example per line"}},
)
def labelled_examples(request: Request, caller: Auditor, since: Time = None) -> StreamingResponse:
    """Settled verdicts as labelled examples in ``provproxy classify`` input format (JSONL, streamed)."""
    after = parse_time(since)
    log_access(request, caller, "export_examples", None, since=since)
    return StreamingResponse(_example_lines(request.app.state.engine, after), media_type=JSONL)


def _example_lines(engine: Database, since: datetime | None) -> Iterator[bytes]:
    with read_session(engine) as session:
        for row in examples(settled_verdicts(session, since)):
            yield orjson.dumps(row) + b"\n"


@router.post("/{event_id}", response_model=list[VerdictOut], status_code=201)
def judge(
    request: Request,
    event_id: Annotated[str, Path(max_length=255, pattern=NAME_PATTERN)],
    body: NewVerdict,
    caller: Auditor,
) -> list[dict[str, Any]]:
    """Append a verdict to a call (its recorded decision stays as it was); returns all its verdicts."""
    with read_session(request.app.state.engine) as session:
        if not add_verdict(session, event_id, body.verdict, body.note, caller.name):
            raise HTTPException(404, "no such event")
        result = verdicts_for(session, event_id)
    log_access(request, caller, "triage", event_id, verdict=body.verdict)
    return result
