"""Metrics: what /metrics shows for calls and for the recorder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from proxy.events import Event, new_event_id
from proxy.metrics import Metrics


@dataclass
class Stats:
    events_spooled: int = 3
    spool_ok: bool = True
    label: str = "not a number"


class StatsRecorder:
    stats = Stats()
    queue_depth = 2


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def event(**fields: object) -> Event:
    values: dict[str, object] = {
        "id": new_event_id(),
        "ts": datetime.now(UTC),
        "method": "POST",
        "path": "/v1/messages",
    }
    return Event(**{**values, **fields})  # type: ignore[arg-type]


def test_calls_are_counted_by_vendor_endpoint_outcome_and_decision() -> None:
    metrics = Metrics(object())
    metrics.observe(event(vendor="anthropic", endpoint="messages", latency_ms=30.0, ttfb_ms=20.0))
    metrics.observe(event(vendor="anthropic", endpoint="messages", latency_ms=3.0, outcome="blocked", decision="block"))
    metrics.observe(event())  # a 404: no vendor, no endpoint, no timings
    seen = samples(metrics)
    labels = (("decision", "allow"), ("endpoint", "messages"), ("outcome", "completed"), ("vendor", "anthropic"))
    assert seen[("provproxy_calls_total", labels)] == 1
    blocked = (("decision", "block"), ("endpoint", "messages"), ("outcome", "blocked"), ("vendor", "anthropic"))
    assert seen[("provproxy_calls_total", blocked)] == 1
    unrouted = (("decision", "allow"), ("endpoint", "none"), ("outcome", "completed"), ("vendor", "unknown"))
    assert seen[("provproxy_calls_total", unrouted)] == 1
    assert seen[("provproxy_call_duration_seconds_count", (("vendor", "anthropic"),))] == 2
    assert seen[("provproxy_call_duration_seconds_sum", (("vendor", "anthropic"),))] == 0.033
    assert seen[("provproxy_time_to_first_byte_seconds_count", (("vendor", "anthropic"),))] == 1
    assert ("provproxy_call_duration_seconds_count", (("vendor", "unknown"),)) not in seen


def test_the_recorders_numeric_stats_and_queue_depth_are_gauges() -> None:
    seen = samples(Metrics(StatsRecorder()))
    assert seen[("provproxy_recorder_events_spooled", ())] == 3
    assert seen[("provproxy_recorder_spool_ok", ())] == 1
    assert seen[("provproxy_recorder_queue_depth", ())] == 2
    assert not any(name == "provproxy_recorder_label" for name, _ in seen)
    assert not any(name.startswith("provproxy_recorder") for name, _ in samples(Metrics(object())))
