"""Signals and alerts through real processes: ``provproxy admin`` with alert rules, a Slack-style
webhook on loopback and the SIEM feed; signal hits are written into its database as the signal
engine writes them. Run on SQLite and on the PostgreSQL fixture."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.orm import Session

from proxy.store.db import create_db_engine
from proxy.store.signal_models import SignalHitRow
from tests.integration.console_support import (
    CODE_REVIEW,
    ConsoleStack,
    access_log_rows,
    database_for,
    run_cli,
    start_console,
    wait_for,
)
from tests.support.fixtures_proxy import ProxyFactory
from tests.support.webhook_receiver import WebhookReceiver

CONSOLE_URL = "https://console.example.com"
RULES = """
rules:
  - {name: it-sweep, signal: sweep, threshold: 50, scope: person, cooldown: 6h}
"""
ROUTES = [  # (method, path, lowest role allowed); ids that do not exist: a permitted caller gets 404
    ("GET", "/api/v1/signals", "viewer"),
    ("GET", "/api/v1/signals/2147483647", "viewer"),
    ("GET", "/api/v1/principals/nobody/signals", "viewer"),
    ("GET", "/api/v1/alerts", "viewer"),
    ("POST", "/api/v1/alerts/2147483647/ack", "auditor"),
]
RANK = {"viewer": 1, "auditor": 2, "admin": 3}


@dataclass
class AlertStack:
    console: ConsoleStack
    chat: WebhookReceiver

    def request(self, method: str, path: str, role: str | None = "admin", **params: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.console.tokens[role]}"} if role else {}
        return httpx.request(method, self.console.url + path, params=params, headers=headers, timeout=30)

    def put_hit(self, principal: str, score: float, event_ids: list[str]) -> int:
        """A sweep hit for ``principal`` today, inserted or updated as the signal engine does it."""
        engine = create_db_engine(self.console.env["PROVPROXY_DATABASE_URL"])
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            with Session(engine) as session:
                row = session.query(SignalHitRow).filter_by(signal="sweep", scope=principal).one_or_none()
                if row is None:
                    row = SignalHitRow(signal="sweep", scope_kind="principal", scope=principal, window_start=day)
                    session.add(row)
                row.window_end, row.score, row.principals = day + timedelta(days=1), score, [principal]
                row.event_ids, row.detail, row.updated_at = event_ids, {"distinct": 80}, datetime.now(UTC)
                session.commit()
                return row.id
        finally:
            engine.dispose()

    def messages_about(self, principal: str) -> list[dict[str, Any]]:
        return [body for body in self.chat.bodies if f"person {principal}:" in body["text"]]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_vendor: object
) -> Iterator[AlertStack]:
    workdir: Path = tmp_path_factory.mktemp("alerts")
    factory = ProxyFactory(workdir, fake_vendor.url)  # type: ignore[attr-defined]
    console = start_console(factory, database_for(request, workdir))
    chat = WebhookReceiver(failures=1, path="/hooks/alerts")  # its first message is refused: the runner must retry
    (workdir / "alert-rules.yaml").write_text(RULES)
    console.admin_env |= {
        "PROVPROXY_ALERT_RULES_FILE": str(workdir / "alert-rules.yaml"),
        "PROVPROXY_ALERT_WEBHOOK_URL": chat.url,
        "PROVPROXY_CONSOLE_URL": CONSOLE_URL,
        "PROVPROXY_SIGNALS_POLL_INTERVAL_S": "0.1",
    }
    console.restart()
    yield AlertStack(console, chat)
    console.stop()
    console.webhook.close()
    chat.close()
    factory.stop_all()


@pytest.mark.parametrize(("method", "path", "lowest"), ROUTES)
def test_every_route_answers_by_role(stack: AlertStack, method: str, path: str, lowest: str) -> None:
    assert stack.request(method, path, role=None).status_code == 401
    for role in ("viewer", "auditor", "admin"):
        status = stack.request(method, path, role=role).status_code
        if RANK[role] < RANK[lowest]:
            assert status == 403, (role, path)
        else:
            assert status in (200, 404), (role, path, status)


def test_a_hit_over_the_threshold_is_an_alert_delivered_once_across_a_restart(stack: AlertStack) -> None:
    call = stack.console.call(f"{CODE_REVIEW} [[fake:text]]").headers["x-provenance-id"]
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    stack.put_hit(alice, 40.0, [call])  # under the rule's threshold of 50
    hit_id = stack.put_hit(alice, 60.0, [call])
    (message,) = wait_for(lambda: stack.messages_about(alice), what="the webhook message")
    assert stack.chat.refused == 1  # refused once, delivered on a retry
    assert f"<{CONSOLE_URL}/principals/{alice}|{alice}>" in str(message["blocks"])
    assert f"<{CONSOLE_URL}/events/{call}|{call}>" in str(message["blocks"])
    (alert,) = stack.request("GET", "/api/v1/alerts", role="viewer", principal=alice).json()
    assert (alert["rule"], alert["scope"], alert["hit_id"], alert["score"]) == ("it-sweep", alice, hit_id, 60.0)
    assert alert["event_ids"] == [call] and alert["principals"] == [alice]
    assert message["text"] == f"Alert it-sweep: {alert['summary']}"
    wait_for(lambda: f"alert:{alert['id']}" in _siem_uids(stack), what="the finding in the SIEM feed")

    stack.console.restart()
    for worker in ("signals.engine_stopped", "alerts.runner_stopped", "siem.feed_stopped"):
        # stopped inside the lifespan, both times (the fixture's restart and this one)
        stopped = [line for line in stack.console.admin_log.splitlines() if f'"{worker}"' in line]
        assert [orjson.loads(line)["finished"] for line in stopped] == [True, True], worker
    stack.put_hit(alice, 90.0, [call])  # within the cooldown: no second alert, even after a restart
    stack.put_hit(bob, 70.0, [call])
    wait_for(lambda: stack.messages_about(bob), what="the other scope's message")
    assert len(stack.messages_about(alice)) == 1
    assert len(stack.request("GET", "/api/v1/alerts", principal=alice).json()) == 1
    uids = _siem_uids(stack)
    assert len(uids) == len(set(uids)), "a SIEM record was delivered twice"


def test_signals_are_listed_by_signal_id_and_principal(stack: AlertStack) -> None:
    carol = f"carol-{uuid.uuid4().hex[:8]}"
    hit_id = stack.put_hit(carol, 3.0, ["e-1"])
    listed = stack.request("GET", "/api/v1/signals", role="viewer", signal="sweep", limit=1000).json()
    assert hit_id in {hit["id"] for hit in listed} and {hit["signal"] for hit in listed} == {"sweep"}
    assert stack.request("GET", "/api/v1/signals", signal="volume").json() == []
    assert stack.request("GET", "/api/v1/signals", signal="not-a-signal").status_code == 422
    hit = stack.request("GET", f"/api/v1/signals/{hit_id}", role="viewer").json()
    assert (hit["scope"], hit["score"], hit["event_ids"], hit["detail"]) == (carol, 3.0, ["e-1"], {"distinct": 80})
    mine = stack.request("GET", f"/api/v1/principals/{carol}/signals", role="viewer").json()
    assert mine["principal"] == carol and [h["id"] for h in mine["signals"]] == [hit_id]
    assert stack.request("GET", "/api/v1/principals/nobody/signals").json() == {"principal": "nobody", "signals": []}


def test_an_auditor_acknowledges_an_alert_in_the_access_log(stack: AlertStack) -> None:
    dave = f"dave-{uuid.uuid4().hex[:8]}"
    stack.put_hit(dave, 55.0, ["e-2"])
    (alert,) = wait_for(lambda: stack.request("GET", "/api/v1/alerts", principal=dave).json(), what="the alert")
    path = f"/api/v1/alerts/{alert['id']}/ack"
    assert stack.request("POST", path, role="viewer").status_code == 403
    acked = stack.request("POST", path, role="auditor").json()
    assert acked["acknowledged_by"] == "auditor-person" and acked["acknowledged_at"] is not None
    again = stack.request("POST", path, role="admin").json()  # the first acknowledgement stays
    assert (again["acknowledged_by"], again["acknowledged_at"]) == (acked["acknowledged_by"], acked["acknowledged_at"])
    assert stack.request("GET", "/api/v1/alerts", open="true", principal=dave).json() == []
    assert [a["id"] for a in stack.request("GET", "/api/v1/alerts", open="false", principal=dave).json()] == [
        alert["id"]
    ]
    assert access_log_rows(stack.console, f"alert:{alert['id']}") == [
        ("auditor-person", "alert_ack"),
        ("admin-person", "alert_ack"),
    ]


def test_a_broken_rules_file_stops_the_start_in_one_line(stack: AlertStack, tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("rules:\n  - {name: x, signal: sweep, threshold: -1}\n")
    env = stack.console.admin_env | {"PROVPROXY_ALERT_RULES_FILE": str(broken), "PROVPROXY_ADMIN_PORT": "1"}
    result = run_cli(env, tmp_path, "admin")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Error: alert rules {broken}: rules[0] (x) threshold: Input should be greater than or equal to 0"
    ]


def _siem_uids(stack: AlertStack) -> list[str]:
    return [str(record["metadata"]["uid"]) for record in stack.console.webhook.records]
