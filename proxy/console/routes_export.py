"""``/api/v1/exports/events``: filtered events as CSV, JSONL or Parquet, streamed as they are read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from proxy.console.auth import FORBIDDEN, ROLE_RANK, Caller, requires
from proxy.console.params import event_filter
from proxy.console.routes_events import log_access
from proxy.exports import MEDIA_TYPES, encoder
from proxy.store.console_session import read_session
from proxy.store.db import Database
from proxy.store.event_export import export_batches, export_columns
from proxy.store.event_query import EventFilter

router = APIRouter(prefix="/exports")


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}, "description": "the events"}},
)
def export_events(
    request: Request,
    f: Annotated[EventFilter, Depends(event_filter)],
    caller: Annotated[Caller, Depends(requires("viewer"))],
    format: Literal["csv", "jsonl", "parquet"] = "jsonl",
    bodies: Annotated[bool, Query(description="include instruction, completion and request (auditor)")] = False,
) -> StreamingResponse:
    """Every event matching the filters (``limit`` ignored), oldest first, streamed."""
    if bodies and ROLE_RANK[caller.role] < ROLE_RANK["auditor"]:
        raise FORBIDDEN
    if bodies:
        log_access(request, caller, "export_bodies", None, format=format)
    headers = {"content-disposition": f'attachment; filename="events.{format}"'}
    return StreamingResponse(
        _chunks(request.app.state.engine, f, format, bodies), media_type=MEDIA_TYPES[format], headers=headers
    )


def _chunks(engine: Database, f: EventFilter, fmt: str, bodies: bool) -> Iterator[bytes]:
    with read_session(engine) as session:
        yield from encoder(fmt)(export_batches(session, f, bodies), export_columns(bodies))
