"""The evaluator on a real SQLite file and a real PostgreSQL database: thresholds, scopes, the
tool scope, the cooldown (held by the alerts table, so across a restart) and the hit cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from proxy.alerts.evaluate import Evaluator
from proxy.alerts.rules import parse_rules
from proxy.store.signal_models import AlertRow
from tests.unit.alerts.support import T0, put_hit
from tests.unit.stored_events import event_row

RULES = parse_rules("""
rules:
  - {name: person-sweep, signal: sweep, threshold: 1.5, scope: person, cooldown: 6h}
  - {name: team-volume, signal: volume, threshold: 2, scope: team, cooldown: 1d}
  - {name: group-coordination, signal: coordination, threshold: 1, scope: group, cooldown: 6h}
  - {name: cursor-datasets, signal: dataset, threshold: 1, scope: tool, tool: cursor, cooldown: 6h}
""")


def _alerts(engine: Engine) -> list[AlertRow]:
    with Session(engine) as session:
        return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))


def test_a_hit_at_the_threshold_raises_one_alert_with_its_evidence(engine: Engine) -> None:
    put_hit(engine, "sweep", "bob", score=1.4)  # under the threshold
    hit_id = put_hit(engine, "sweep", "alice", score=1.5, event_ids=["e-1", "e-2"])
    put_hit(engine, "sweep", "payments", score=9.0, scope_kind="team")  # a person rule: not a team's hit
    raised = Evaluator(engine, RULES).run_once()
    (alert,) = _alerts(engine)
    assert raised == [alert.id]
    assert (alert.rule, alert.signal, alert.scope_kind, alert.scope) == ("person-sweep", "sweep", "principal", "alice")
    assert (alert.score, alert.threshold, alert.hit_id) == (1.5, 1.5, hit_id)
    assert alert.principals == ["alice"] and alert.event_ids == ["e-1", "e-2"]
    assert alert.acknowledged_at is None and alert.created_at <= datetime.now(UTC)
    assert alert.summary == (
        "sweep signal on person alice: score 1.50 reached the threshold 1.5 of rule person-sweep "
        "(2 calls as evidence, 2026-01-05 09:00 to 2026-01-06 09:00 UTC; distinct_instructions 42)"
    )


def test_team_and_group_scopes(engine: Engine) -> None:
    put_hit(engine, "volume", "payments", score=2.5, scope_kind="team", principals=["alice", "dan"])
    put_hit(engine, "volume", "alice", score=5.0)  # a team rule: not a person's hit
    put_hit(engine, "coordination", "grp-1", score=1.0, scope_kind="group")
    Evaluator(engine, RULES).run_once()
    alerts = {(a.rule, a.scope) for a in _alerts(engine)}
    assert alerts == {("team-volume", "payments"), ("group-coordination", "grp-1")}
    group = next(a for a in _alerts(engine) if a.scope == "grp-1")
    assert group.principals == ["alice", "bob", "carol"]
    assert "group grp-1 (3 people: alice, bob, carol)" in group.summary


def test_a_tool_rule_needs_evidence_from_that_tool(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all([event_row(1, T0, "allow", tool="cursor"), event_row(2, T0, "allow", tool="claude-code")])
        session.commit()
    cursor_call, other_call = "00000000-0000-7000-8000-000000000001", "00000000-0000-7000-8000-000000000002"
    put_hit(engine, "dataset", "alice", score=3.0, event_ids=[other_call, cursor_call])
    put_hit(engine, "dataset", "bob", score=3.0, event_ids=[other_call])
    put_hit(engine, "dataset", "carol", score=3.0, event_ids=[])
    Evaluator(engine, RULES).run_once()
    assert [(a.rule, a.scope) for a in _alerts(engine)] == [("cursor-datasets", "alice")]


def test_the_cooldown_holds_across_a_restart_and_ends(engine: Engine) -> None:
    put_hit(engine, "sweep", "alice", score=2.0)
    assert len(Evaluator(engine, RULES).run_once()) == 1
    put_hit(engine, "sweep", "alice", score=3.0)  # the same hit grows
    put_hit(engine, "sweep", "alice", score=3.0, window_start=T0 + timedelta(days=1))  # and the next day's
    restarted = Evaluator(engine, RULES)  # a new process: its memory is the alerts table
    assert restarted.run_once() == []
    put_hit(engine, "sweep", "bob", score=2.0)  # another scope has its own cooldown
    assert len(restarted.run_once()) == 1
    with Session(engine) as session:  # the first alert is now older than the 6h cooldown
        session.execute(update(AlertRow).where(AlertRow.scope == "alice").values(created_at=T0))
        session.commit()
    put_hit(engine, "sweep", "alice", score=3.5)
    assert len(Evaluator(engine, RULES).run_once()) == 1
    assert [(a.scope, a.score) for a in _alerts(engine)] == [("alice", 2.0), ("bob", 2.0), ("alice", 3.5)]


def test_the_cursor_judges_each_change_once_in_batches(engine: Engine) -> None:
    for n in range(7):
        put_hit(engine, "sweep", f"user-{n}", score=2.0)
    evaluator = Evaluator(engine, RULES, batch=3)  # three full batches and a short one
    assert len(evaluator.run_once()) == 7
    assert evaluator.run_once() == []
    assert Evaluator(engine, RULES).run_once() == []  # the cursor is in the database
    with Session(engine) as session:  # every cooldown over: only a hit that changes alerts again
        session.execute(update(AlertRow).values(created_at=T0))
        session.commit()
    assert Evaluator(engine, RULES).run_once() == []
    put_hit(engine, "sweep", "user-3", score=2.5)
    assert len(Evaluator(engine, RULES).run_once()) == 1
    assert [a.scope for a in _alerts(engine)][7:] == ["user-3"]
