"""Prometheus metrics: what the platform team watches on ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, is_dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from proxy.events import Event

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _RecorderCollector(Collector):
    """Exposes the recorder's own counters (``stats`` dataclass) as gauges at scrape time."""

    def __init__(self, recorder: object) -> None:
        self._recorder = recorder

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = getattr(self._recorder, "stats", None)
        if stats is None or not is_dataclass(stats) or isinstance(stats, type):
            return
        values: dict[str, Any] = asdict(stats)
        for name, value in values.items():
            if isinstance(value, bool | int | float):
                yield GaugeMetricFamily(f"provproxy_recorder_{name}", f"recorder {name}", value=float(value))
        depth = getattr(self._recorder, "queue_depth", None)
        if isinstance(depth, int):
            help_text = "events held in memory: not yet in the spool or the database"
            yield GaugeMetricFamily("provproxy_recorder_queue_depth", help_text, value=depth)


class _PoolCollector(Collector):
    """The upstream pools' use at scrape time: a full pool is the proxy's limit, not a slow vendor."""

    def __init__(self, usage: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self._usage = usage

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        in_use = GaugeMetricFamily(
            "provproxy_upstream_connections_in_use",
            "calls using or waiting for one of the upstream pool's connections",
            labels=("vendor",),
        )
        exhausted = CounterMetricFamily(
            "provproxy_upstream_pool_exhausted",
            "calls refused (503) because every pooled upstream connection stayed busy",
            labels=("vendor",),
        )
        for vendor, (using, refused) in sorted(self._usage().items()):
            in_use.add_metric((vendor,), using)
            exhausted.add_metric((vendor,), refused)
        yield in_use
        yield exhausted


class Metrics:
    def __init__(self, recorder: object, pool_usage: Callable[[], dict[str, tuple[int, int]]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "provproxy_calls",
            "Calls through the proxy",
            ("vendor", "endpoint", "outcome", "decision"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "provproxy_call_duration_seconds",
            "Whole-call duration as the proxy saw it",
            ("vendor",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttfb = Histogram(
            "provproxy_time_to_first_byte_seconds",
            "Request arrival to first upstream byte relayed",
            ("vendor",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_RecorderCollector(recorder))
        if pool_usage is not None:
            self.registry.register(_PoolCollector(pool_usage))

    def observe(self, event: Event) -> None:
        vendor = event.vendor or "unknown"
        self.calls.labels(vendor, event.endpoint or "none", event.outcome, event.decision).inc()
        if event.latency_ms is not None:
            self.latency.labels(vendor).observe(event.latency_ms / 1000)
        if event.ttfb_ms is not None:
            self.ttfb.labels(vendor).observe(event.ttfb_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
