"""Delivery of alerts on a real SQLite file and a real PostgreSQL database: the Slack-compatible
message, a loopback webhook that refuses at first (retried, never lost, never sent twice across a
restart), and the alerts in the SIEM feed as OCSF Detection Findings with their own cursor."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from proxy.alerts.rules import parse_rules
from proxy.alerts.runner import AlertRunner, runner_from_settings
from proxy.alerts.slack import slack_message, slack_sink
from proxy.siem.feed import SiemFeed
from proxy.store.signal_views import list_alerts
from tests.support.webhook_receiver import WebhookReceiver
from tests.unit.alerts.support import T0, put_hit
from tests.unit.stored_events import event_row

RULES = parse_rules("rules: [{name: person-sweep, signal: sweep, threshold: 1, scope: person, cooldown: 6h}]")
CONSOLE = "https://console.example.com/"
CALL = "00000000-0000-7000-8000-000000000001"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(failures=2, path="/hooks/alerts")
    yield receiver
    receiver.close()


class Taker:
    """A SIEM sink that keeps what it was given."""

    name = "memory"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        self.records.extend(records)


def _raise(engine: Engine, scope: str = "alice", **fields: Any) -> dict[str, Any]:
    put_hit(engine, "sweep", scope, score=2.5, event_ids=[CALL], **fields)
    (alert_id,) = AlertRunner(engine, RULES, []).evaluator.run_once()
    with Session(engine) as session:
        return next(a for a in list_alerts(session) if a["id"] == alert_id)


def test_the_webhook_message_is_slack_json_linking_the_console(engine: Engine) -> None:
    alert = _raise(engine, "eve<@here>&co")
    message = slack_message(alert, CONSOLE)
    assert set(message) == {"text", "blocks"}
    assert message["text"] == f"Alert person-sweep: {alert['summary']}"
    header, summary, fields, people, evidence, context = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "Alert: person-sweep"}}
    assert summary["type"] == "section" and summary["text"]["type"] == "mrkdwn"
    assert "eve&lt;@here&gt;&amp;co" in summary["text"]["text"] and "<@here>" not in summary["text"]["text"]
    assert [f["text"].split("\n")[0] for f in fields["fields"]] == ["*Signal*", "*Score*", "*Scope*", "*Raised*"]
    assert fields["fields"][1]["text"] == "*Score*\n2.50 (threshold 1)"
    link = "<https://console.example.com/principals/eve%3C%40here%3E%26co|eve&lt;@here&gt;&amp;co>"
    assert people["text"]["text"] == f"*People:* {link}"
    assert evidence["text"]["text"] == f"*Evidence:* <https://console.example.com/events/{CALL}|{CALL}>"
    assert context["type"] == "context" and f"alert {alert['id']}" in context["elements"][0]["text"]


def test_a_refusing_webhook_is_retried_and_gets_each_alert_once_across_a_restart(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    first = _raise(engine, "alice")
    second = _raise(engine, "bob")
    sink = slack_sink(receiver.url, CONSOLE)
    runner = AlertRunner(engine, RULES, [sink])
    for _ in range(2):
        with pytest.raises(httpx.HTTPStatusError):
            runner.deliver_once(sink)
    assert runner.deliver_once(sink) == 1  # the refused alert again, not the next one
    new_sink = slack_sink(receiver.url, CONSOLE)
    restarted = AlertRunner(engine, RULES, [new_sink])  # a new process: the cursor comes from the database
    assert restarted.deliver_once(new_sink) == 1 and restarted.deliver_once(new_sink) == 0
    assert receiver.refused == 2
    assert [body["text"] for body in receiver.bodies] == [
        f"Alert person-sweep: {first['summary']}",
        f"Alert person-sweep: {second['summary']}",
    ]


def test_the_thread_evaluates_and_delivers_through_failures(engine: Engine, receiver: WebhookReceiver) -> None:
    runner = runner_from_settings(engine, RULES, receiver.url, CONSOLE, poll_interval_s=0.01)
    runner.start()
    try:
        put_hit(engine, "sweep", "alice", score=2.5)  # written while the thread runs, as the engine would
        deadline = time.monotonic() + 30
        while not receiver.bodies and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        runner.stop()
    assert receiver.refused == 2 and len(receiver.bodies) == 1
    assert receiver.bodies[0]["text"].startswith("Alert person-sweep: sweep signal on person alice")


def test_the_siem_feed_sends_alerts_as_detection_findings_on_their_own_cursor(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(event_row(1, T0, "block"))
        session.commit()
    taker = Taker()
    feed = SiemFeed(engine, [taker])
    assert feed.deliver_once(taker) == 1  # the blocked call; no alert yet
    alert = _raise(engine, "alice", principals=["alice"])
    assert feed.deliver_once(taker) == 1  # the alert alone: the calls' cursor stays where it was
    assert SiemFeed(engine, [taker]).deliver_once(taker) == 0  # restarted: nothing sent twice
    call, finding = taker.records
    assert call["metadata"]["uid"] == f"call:{CALL}"
    assert finding["metadata"]["uid"] == f"alert:{alert['id']}"
    assert (finding["class_uid"], finding["category_uid"], finding["activity_id"], finding["type_uid"]) == (
        2004,
        2,
        1,
        200401,
    )
    assert (finding["severity_id"], finding["status_id"]) == (4, 1)  # 2.5 is over twice the threshold
    assert finding["time"] == int(alert["created_at"].timestamp() * 1000)
    info = finding["finding_info"]
    assert info["uid"] == f"alert:{alert['id']}" and info["desc"] == alert["summary"] == finding["message"]
    assert info["analytic"] == {"name": "person-sweep", "uid": "person-sweep", "type_id": 1, "type": "Rule"}
    assert info["related_events"] == [{"uid": CALL}] and info["types"] == ["sweep"]
    assert finding["evidences"] == [{"actor": {"user": {"name": "alice"}}}]
    assert finding["resources"] == [{"uid": "alice", "name": "alice", "type": "principal"}]
    assert finding["unmapped"] == {
        "signal": "sweep",
        "scope_kind": "principal",
        "scope": "alice",
        "score": 2.5,
        "threshold": 1.0,
        "hit_id": alert["hit_id"],
    }
