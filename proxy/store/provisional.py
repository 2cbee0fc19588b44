"""Provisional records: what a crash leaves of calls that were in flight.

When a call is forwarded the recorder spools a provisional record (the event as it
stood then: who, what, which model, the decision; no bodies, no chain link), and the
event's own record completes it when the call ends. The loader never inserts a
provisional record; it keeps the spool segments that hold one until the completion
arrives. After ``kill -9`` the next start finds the provisional records nobody
completed and records each as its call, with the outcome "outcome_unknown": forwarded,
and the upstream may have answered. So a crash leaves "forwarded, outcome unknown"
rather than nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from proxy.events import Event, Outcome
from proxy.store.rows import EVENT_COLUMNS, Row, decode_spooled
from proxy.store.spool import Spool

log = structlog.get_logger("provproxy.store")

UNKNOWN_OUTCOME_ERROR = "the proxy stopped before the call ended; the upstream may have answered"


def unfinished_calls(spool: Spool, segments: Sequence[int]) -> list[Row]:
    """The provisional records in ``segments`` that no event record completes, oldest first."""
    started: dict[str, Row] = {}
    ended: set[str] = set()
    for segment in segments:
        try:
            for payload, _ in spool.read(segment):
                record = decode_spooled(payload)
                if isinstance(record, dict):
                    started[record["id"]] = record
                else:
                    ended.add(record[0]["id"])
        except OSError:  # deleted meanwhile: it held nothing unfinished
            continue
    return [row for event_id, row in started.items() if event_id not in ended]


def outcome_unknown(row: Row) -> Event:
    """The event of a call whose provisional record was never completed."""
    event = Event(**{name: row[name] for name in EVENT_COLUMNS if name in row})
    event.outcome = Outcome.OUTCOME_UNKNOWN.value
    event.error = UNKNOWN_OUTCOME_ERROR
    return event


def unfinished_events(spool: Spool, segments: Sequence[int]) -> list[Event]:
    """The events of the calls an earlier run left unfinished in ``segments``, outcome unknown."""
    events = [outcome_unknown(row) for row in unfinished_calls(spool, segments)]
    if events:
        log.warning("calls an earlier run left unfinished are recorded as outcome_unknown", count=len(events))
    return events


def ended_unknown(in_flight: Iterable[Event]) -> list[Event]:
    """Calls still in flight when the recorder stops: their outcome is unknown too."""
    events = list(in_flight)
    for event in events:
        event.outcome, event.error = Outcome.OUTCOME_UNKNOWN.value, UNKNOWN_OUTCOME_ERROR
    return events
