"""The alerting thread of ``provproxy admin``: evaluates new signal hits against the rules, then
hands each new alert to every alert sink (the Slack-compatible webhook), moving that sink's
cursor only after it took the alert. A failing sink is retried with growing pauses while the
evaluation goes on; a restart resumes from the cursors in the database, so nothing is lost or
sent twice (an alert cut short by a crash between delivery and cursor move is the exception).
The SIEM feed (:mod:`proxy.siem.feed`) sends the alerts on its own cursors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from proxy.alerts.evaluate import Evaluator
from proxy.alerts.rules import AlertRule
from proxy.alerts.slack import slack_sink
from proxy.siem.feed import Sink
from proxy.siem.loop import RetryLoop, Step
from proxy.store.alert_store import mark_alerts_delivered, next_alerts
from proxy.store.db import Database

log = structlog.get_logger(__name__)
SINK_BATCH = 1  # one alert per delivery: a chat message each, and a cursor move after each


class AlertRunner:
    """The evaluator and the deliveries, in a daemon thread: ``start()`` and ``stop()``."""

    def __init__(
        self, engine: Database, rules: Sequence[AlertRule], sinks: Sequence[Sink], poll_interval_s: float = 1.0
    ) -> None:
        self._engine = engine
        self.evaluator = Evaluator(engine, rules)
        steps = [Step("evaluator", self._evaluate, "alerts.evaluation_failed")]
        steps += [Step(sink.name, self._step(sink), "alerts.delivery_failed") for sink in sinks]
        self._loop = RetryLoop(steps, poll_interval_s, "alerts")

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        log.info("alerts.runner_stopped", finished=self._loop.stop(timeout_s))

    def deliver_once(self, sink: Sink) -> int:
        """Hand ``sink`` its next alert; returns how many went out (0: nothing new)."""
        alerts = next_alerts(self._engine, sink.name, SINK_BATCH)
        if not alerts:
            return 0
        sink.deliver(alerts)
        mark_alerts_delivered(self._engine, sink.name, int(alerts[-1]["id"]))
        return len(alerts)

    def _evaluate(self) -> bool:
        self.evaluator.run_once()  # runs until every changed hit was judged
        return False

    def _step(self, sink: Sink) -> Callable[[], bool]:
        return lambda: self.deliver_once(sink) >= SINK_BATCH


def runner_from_settings(
    engine: Database, rules: Sequence[AlertRule], webhook_url: str | None, console_url: str, poll_interval_s: float
) -> AlertRunner:
    """The runner for the configured webhook (without one, alerts go to the console and the SIEM only)."""
    sinks: list[Sink] = [slack_sink(webhook_url, console_url)] if webhook_url else []
    return AlertRunner(engine, rules, sinks, poll_interval_s)
