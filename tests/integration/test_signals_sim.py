"""The signal engine on traffic played through a real proxy (``tests/support/traffic_sim.py``):
the right signals fire for the right people, none for the ordinary engineers, and the shipped alert
rules turn them into alerts that name those people and link their calls.

The volume signal compares a day with earlier days: that history is written straight into the
hourly roll-up (30 calls a day for each ordinary engineer, 15 for the heavy one, five days) — the
only traffic not sent through the proxy. The thresholds the sim cannot reach in seconds are lowered
through ``SignalConfig`` (the volume floor); every other threshold is the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from proxy.alerts.evaluate import Evaluator
from proxy.alerts.rules import load_rules
from proxy.signals import SignalConfig, SignalEngine
from proxy.store.db import create_db_engine
from proxy.store.models import EventRollupRow, EventRow
from proxy.store.signal_views import list_alerts, recent_signals
from tests.support.fixtures_pg import PgServer
from tests.support.fixtures_proxy import ProxyFactory
from tests.support.traffic_sim import mix, play

HISTORY = {"olga0": 30, "olga1": 30, "olga2": 30, "hugo": 15}


def write_history(engine: Engine) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [
        {"scope": f"principal={name}", "hour": today - timedelta(days=back) + timedelta(hours=10),
         "breakdown": "decision", "value": "allow", "events": per_day, "input_tokens": 0, "output_tokens": 0}
        for name, per_day in HISTORY.items() for back in range(1, 6)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(EventRollupRow), rows)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'provproxy.db'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        yield server.new_database()


def test_signals_fire_for_the_right_people(start_proxy: ProxyFactory, database: str) -> None:
    proxy = start_proxy(database_url=database, key_cache_ttl_s="0.2", anthropic_api_key="sk-ant-org-key-sim")
    actors = mix()
    play(proxy, list(actors.values()))
    statuses = [status for _, status in actors["evader"].answers]
    assert statuses[0] != 200 and statuses[1:].count(200) >= 2, statuses  # blocked, then got through
    assert all(status == 200 for actor in actors.values() if actor.name != "eve" for _, status in actor.answers)
    calls = sum(len(actor.answers) for actor in actors.values())
    proxy.events(at_least=calls + len(actors), timeout=30)  # + the key check of each actor
    engine = create_db_engine(database)
    try:
        write_history(engine)
        signals = SignalEngine(engine, SignalConfig(volume_min_calls=60))
        while signals.run_once(200):
            pass
        with Session(engine) as session:
            found = recent_signals(session, limit=1000)
    finally:
        engine.dispose()
    by_person: dict[str, set[str]] = {}
    for hit in found:
        for name in hit["principals"]:
            by_person.setdefault(name, set()).add(hit["signal"])
    expected = {
        "sam": {"sweep"},
        "rita": {"reasoning"},
        "dina": {"dataset"},
        "eve": {"evasion"},
        "batchbot": {"scripted"},
        "hugo": {"volume"},
        **{f"contractor{k}": {"coordination"} for k in range(4)},
    }
    assert by_person == expected, by_person
    (group,) = [hit for hit in found if hit["signal"] == "coordination"]
    assert group["scope_kind"] == "group" and len(group["principals"]) == 4
    assert_alerts_follow_the_hits(database, found)


def assert_alerts_follow_the_hits(database: str, found: list[dict[str, Any]]) -> None:
    """The shipped alert rules raise an alert for every hit at or above a rule's threshold, none for
    the ordinary engineers, and each alert's evidence is calls of the people it names."""
    rules = load_rules()
    engine = create_db_engine(database)
    try:
        raised = Evaluator(engine, rules).run_once()
        with Session(engine) as session:
            alerts = list_alerts(session, limit=1000)
            callers = {row[0]: row[1] for row in session.execute(select(EventRow.id, EventRow.principal))}
    finally:
        engine.dispose()
    assert sorted(raised) == sorted(alert["id"] for alert in alerts)
    due = {
        (rule.name, hit["scope"])
        for hit in found
        for rule in rules
        if rule.matches(hit["signal"], hit["scope_kind"]) and hit["score"] >= rule.threshold
    }
    assert {(alert["rule"], alert["scope"]) for alert in alerts} == due
    assert {"sweep", "reasoning", "dataset", "evasion", "coordination"} <= {alert["signal"] for alert in alerts}
    for alert in alerts:
        assert alert["event_ids"], alert
        assert {callers[event_id] for event_id in alert["event_ids"]} <= set(alert["principals"]), alert
        assert not any(name.startswith("olga") for name in alert["principals"]), alert
