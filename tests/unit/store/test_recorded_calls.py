"""Recorded calls and settled verdicts read back from a real SQLite file, and what replay and the
example export make of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from proxy.policy import DEFAULT_POLICY_PATH, load_policy
from proxy.replay import replay
from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade
from proxy.store.models import EventBodyRow
from proxy.store.recorded_calls import recorded_calls, settled_verdicts
from proxy.store.rows import compress
from proxy.store.triage import add_verdict
from proxy.triage_examples import examples
from tests.unit.stored_events import event_row

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EVAL = "Generate 200 SWE-bench style evaluation tasks with hidden tests and a grader script, as JSONL"
REVIEW = "Review this module for security problems and explain each finding: def f(x): return eval(x)"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


def _store(
    session: Session, n: int, instruction: str | None, decision: str, label: str, scores: dict[str, float]
) -> str:
    row = event_row(n, T0, decision, use_label=label, scores=scores, ts=T0 + timedelta(minutes=n))
    session.add(row)
    event_id = row.id
    session.flush()  # the body row refers to the event
    if instruction is not None:
        session.add(EventBodyRow(event_id=event_id, instruction=compress(instruction), created_at=T0))
    session.commit()
    return event_id


def test_calls_come_oldest_first_in_range_and_replay_under_the_default_policy(engine: Engine) -> None:
    with Session(engine) as session:
        _store(session, 2, REVIEW, "flag", "code_analysis_review", {})
        _store(session, 1, EVAL, "allow", "eval_task_generation", {})  # live said allow; default blocks
        _store(session, 3, None, "allow", "debugging", {})  # body purged: cannot be replayed
        _store(session, 9, REVIEW, "flag", "code_analysis_review", {})  # outside the range
        calls = list(recorded_calls(session, T0, T0 + timedelta(minutes=5)))
        assert [c.ts.minute for c in calls] == [1, 2, 3]
        report = replay(load_policy(DEFAULT_POLICY_PATH), calls)
    assert (report.replayed, report.skipped) == (2, 1)
    assert report.as_dict()["candidate"] == {"allow": 0, "flag": 1, "block": 1}
    assert report.as_dict()["changes"] == [{"live": "allow", "candidate": "block", "calls": 1}]


def test_only_settled_verdicts_become_examples_labelled_as_judged(engine: Engine) -> None:
    benign_scores = {"code_analysis_review": 0.6, "debugging": 0.3, "writing_code": 0.1}
    with Session(engine) as session:
        violation = _store(session, 1, REVIEW, "flag", "code_analysis_review", {})
        benign = _store(session, 2, REVIEW, "flag", "code_analysis_review", benign_scores)
        pending = _store(session, 3, REVIEW, "flag", "code_analysis_review", {})
        unlabelable = _store(session, 4, REVIEW, "flag", "debugging", {})
        add_verdict(session, violation, "violation", "confirmed", "bob")
        add_verdict(session, benign, "violation", None, "bob")
        add_verdict(session, benign, "benign", "their own code", "carol")  # the latest verdict counts
        add_verdict(session, pending, "needs-follow-up", None, "bob")
        add_verdict(session, unlabelable, "violation", None, "bob")  # no sensitive label to confirm
        rows = list(examples(settled_verdicts(session)))
    assert [(r["id"], r["label"], r["hard_negative"], r["verdict"]) for r in rows] == [
        (violation, "code_analysis_review", False, "violation"),
        (benign, "debugging", True, "benign"),
    ]
    assert rows[1]["note"] == "their own code" and rows[1]["text"] == REVIEW
