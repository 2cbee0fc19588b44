"""The console's store pieces on a real SQLite file: token checks and the access log's chain."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from proxy.store.access_log import AccessEntry, append, verify_access_log
from proxy.store.admin_tokens import authenticate, create_token, revoke_token
from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade

SALT = b"unit-salt"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


def test_a_token_works_until_revoked_or_expired_and_is_stored_only_hashed(engine: Engine) -> None:
    with Session(engine) as session:
        issued = create_token(session, SALT, "alice", "auditor")
        soon = create_token(session, SALT, "bob", "viewer", datetime.now(UTC) + timedelta(hours=1))
        holder = authenticate(session, SALT, issued.token)
        assert holder is not None and (holder.name, holder.role) == ("alice", "auditor")
        assert authenticate(session, SALT, issued.token + "x") is None
        assert authenticate(session, SALT, soon.token) is not None
        assert authenticate(session, SALT, soon.token, now=datetime.now(UTC) + timedelta(hours=2)) is None
        revoke_token(session, issued.id)
        assert authenticate(session, SALT, issued.token) is None
    with engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.execute(text("SELECT * FROM admin_tokens")))
    assert issued.token not in dump and soon.token not in dump


@pytest.mark.parametrize(
    ("tamper", "finding_seq"),
    [
        ("UPDATE access_log SET target = 'other' WHERE seq = 2", 2),
        ("DELETE FROM access_log WHERE seq = 2", 2),
        ('UPDATE access_log SET detail = \'{"via": "sso"}\' WHERE seq = 3', 3),
    ],
)
def test_the_access_log_chain_names_the_first_edited_or_removed_entry(
    engine: Engine, tamper: str, finding_seq: int
) -> None:
    for i in range(4):
        append(engine, AccessEntry("alice", "auditor", "read_body", f"event-{i}", "10.0.0.1", {"via": "token:x"}))
    assert verify_access_log(engine) == (4, None)
    with engine.begin() as conn:
        conn.execute(text(tamper))
    _checked, finding = verify_access_log(engine)
    assert finding is not None and finding.seq == finding_seq


def test_stats_from_the_rollup_equal_each_breakdown_counted_on_its_own(engine: Engine) -> None:
    """The hourly roll-up plus the partial edge hours (bench/bench_console.py: the 1 s goal) must
    add up exactly like counting every breakdown separately, for any filter and time range."""
    from collections import Counter

    from proxy.events import Event, new_event_id
    from proxy.store.console_views import stats
    from proxy.store.event_query import EventFilter
    from proxy.store.inserts import insert_pairs
    from proxy.store.rows import event_row

    rng = random.Random(5)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        Event(
            id=new_event_id(),
            ts=start + timedelta(minutes=rng.randrange(0, 60 * 24 * 5)),
            method="POST",
            path="/v1/messages",
            vendor=rng.choice(["anthropic", "openai", None]),
            tool=rng.choice(["claude-code", "codex-cli"]),
            team=rng.choice(["core", "ml", None]),
            decision=rng.choice(["allow", "flag", "block"]),
            use_label=rng.choice(["code_generation", "eval_task_generation", None]),
            principal=rng.choice(["ann", "bob"]),
            model=rng.choice(["claude-sonnet-4-5", "gpt-5"]),
            input_tokens=rng.choice([None, rng.randrange(1000)]),
            output_tokens=rng.randrange(500),
        )
        for _ in range(400)
    ]
    pairs = [(event_row(e), None) for e in events]
    with engine.begin() as conn:  # as the loader does, a replayed batch included
        insert_pairs(conn, pairs[:300])
        insert_pairs(conn, pairs[250:])
        totals = "SELECT sum(events) FROM event_rollup WHERE scope = '' AND breakdown = 'decision'"
        assert conn.execute(text(totals)).scalar() == len(events)
    since, until = start + timedelta(days=1, minutes=17), start + timedelta(days=3, hours=5, minutes=41)
    filters = (
        EventFilter(),
        EventFilter(since=since, principal="ann"),
        EventFilter(decision="flag", until=until),
        EventFilter(since=since, until=until, label="eval_task_generation"),
        EventFilter(since=since, until=until),  # partial hours at both edges
        EventFilter(since=since, until=since + timedelta(minutes=20)),  # within one hour
        EventFilter(since=since, model="claude-sonnet-4-5"),  # not in the roll-up: the events table
        EventFilter(since=since.replace(minute=0), until=until.replace(minute=0)),  # whole hours only
    )
    for f in filters:
        chosen = [
            e
            for e in events
            if (f.since is None or e.ts >= f.since)
            and (f.until is None or e.ts < f.until)
            and (f.principal is None or e.principal == f.principal)
            and (f.decision is None or e.decision == f.decision)
            and (f.label is None or e.use_label == f.label)
            and (f.model is None or e.model == f.model)
        ]
        with Session(engine) as session:
            result = stats(session, f, "day")
        fields = {"label": "use_label", "decision": "decision", "tool": "tool", "vendor": "vendor", "team": "team"}
        for name, attribute in fields.items():
            expected = Counter(getattr(e, attribute) for e in chosen)
            assert {r["key"]: r["events"] for r in result[name]} == dict(expected), name
            tokens: Counter[str | None] = Counter()
            for e in chosen:
                tokens[getattr(e, attribute)] += e.output_tokens or 0
            assert {r["key"]: r["output_tokens"] for r in result[name]} == dict(tokens), name
            assert [r["events"] for r in result[name]] == sorted((r["events"] for r in result[name]), reverse=True)
        days = Counter(e.ts.strftime("%Y-%m-%dT00:00:00") for e in chosen)
        assert [(r["key"], r["events"]) for r in result["over_time"]] == sorted(days.items())
        for decision in ("allow", "flag", "block"):
            per_day = Counter(e.ts.strftime("%Y-%m-%dT00:00:00") for e in chosen if e.decision == decision)
            shown = result["decision_over_time"].get(decision, [])
            assert [(r["key"], r["events"]) for r in shown] == sorted(per_day.items()), decision
        total_in = sum(e.input_tokens or 0 for e in chosen)
        assert result["total"] == {
            "events": len(chosen),
            "input_tokens": total_in,
            "output_tokens": sum(e.output_tokens or 0 for e in chosen),
        }
        if f.principal is None and f.decision is None and f.label is None and f.model is None:
            _assert_top_principals(engine, chosen, f)


def _assert_top_principals(engine: Engine, chosen: list[Any], f: Any) -> None:
    """The overview's most active people: the same counts as counting the chosen events."""
    from collections import Counter

    from proxy.store.console_views import top_principals

    calls = Counter(e.principal for e in chosen)
    flags = Counter(e.principal for e in chosen if e.decision == "flag")
    blocks = Counter(e.principal for e in chosen if e.decision == "block")
    expected = [
        {"principal": p, "calls": n, "flags": flags[p], "blocks": blocks[p]}
        for p, n in sorted(calls.items(), key=lambda item: (-item[1], item[0]))
    ]
    with Session(engine) as session:
        assert top_principals(session, f.since, f.until) == expected
        assert top_principals(session, f.since, f.until, limit=1) == expected[:1]
