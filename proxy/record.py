"""The record phase's input: one :class:`Event`, filled from what each phase returned.

The phases hand their results to the handler as values (route, CallView, Identity,
Verdict, what the relay observed); these functions write them into the event the
recorder persists, so that no phase reaches into another's state.
"""

from __future__ import annotations

from datetime import UTC, datetime

from proxy.adapters.base import Adapter, CallView, Route
from proxy.events import Event, Outcome, new_event_id
from proxy.hooks import Identity, Verdict
from proxy.relay import Relay


def new_event(method: str, path: str, adapter: Adapter, route: Route | None, client_addr: str | None) -> Event:
    return Event(
        id=new_event_id(),
        ts=datetime.now(UTC),
        method=method,
        path=route.upstream_path if route else path[:512],
        vendor=adapter.vendor,
        endpoint=route.endpoint if route else None,
        client_addr=client_addr,
    )


def note_request(event: Event, view: CallView, body: bytes, retention: str) -> None:
    event.model = view.model
    event.stream = view.stream
    event.turn_count = view.turn_count
    event.side_call = view.side_call
    event.instruction = view.instruction or None
    if retention == "full":
        event.request_body = body


def note_identity(event: Event, identity: Identity) -> None:
    event.principal = identity.principal
    event.principal_kind = identity.principal_kind
    event.team = identity.team
    event.tool = identity.tool
    event.tool_version = identity.tool_version
    event.session_id = identity.session_id


def note_verdict(event: Event, verdict: Verdict) -> None:
    event.decision = verdict.action.value
    event.use_label = verdict.label
    event.scores = verdict.scores
    event.rule_hits = verdict.rule_hits
    event.policy_rule = verdict.policy_rule
    # The earlier events a decision rests on are named in rule_hits ("session_event:<id>");
    # the session's evidence learns this event's id for later calls.
    if verdict.on_recorded is not None:
        verdict.on_recorded(event.id)


def note_relayed(event: Event, relay: Relay) -> None:
    """What the upstream answered, complete or partial."""
    event.upstream_status = event.status = relay.status
    event.vendor_request_id = relay.vendor_request_id
    event.ttfb_ms = relay.ttfb_ms
    event.response_sha256 = relay.response_sha256
    outcome = relay.outcome
    if outcome is None:  # failed before the response began
        return
    event.response_id = outcome.response_id
    event.response_model = outcome.model
    event.stop_reason = outcome.stop_reason
    event.input_tokens = outcome.usage.input_tokens
    event.output_tokens = outcome.usage.output_tokens
    event.cache_read_tokens = outcome.usage.cache_read_tokens
    event.cache_write_tokens = outcome.usage.cache_write_tokens
    event.output_truncated = outcome.truncated
    event.completion_text = outcome.text or None
    event.thinking_text = outcome.thinking or None
    event.tool_calls = [{"name": t.name, "id": t.call_id, "arguments": t.arguments} for t in outcome.tool_calls]
    if outcome.error_type or outcome.error_message:
        event.error = f"{outcome.error_type or 'error'}: {(outcome.error_message or '')[:400]}"
    if (relay.status is not None and relay.status >= 400) or outcome.error_type:
        event.outcome = Outcome.UPSTREAM_ERROR.value
