from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from proxy.events import Event
from proxy.store.inserts import insert_pairs
from proxy.store.models import EventBodyRow, EventRow
from proxy.store.queries import EventFilter, get_event, list_events, purge
from proxy.store.rows import body_row, event_row
from tests.support import store_fixtures
from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture, for the PostgreSQL runs)
from tests.support.store_fixtures import make_event

# This module's fixtures (tests/support/store_fixtures.py says why they are assigned).
database_url = store_fixtures.database_url
engine = store_fixtures.engine

NOW = datetime.now(UTC)


def store(engine: Engine, events: list[Event]) -> None:
    with engine.begin() as conn:
        insert_pairs(conn, [(event_row(e), body_row(e, "full")) for e in events])


def seed(engine: Engine) -> dict[str, Event]:
    events = {
        "alice_old": make_event(ts=NOW - timedelta(days=40), completion_text="old answer"),
        "alice_codex": make_event(
            ts=NOW - timedelta(hours=2),
            vendor="openai",
            tool="codex-cli",
            model="gpt-5",
            session_id="s-1",
            completion_text="new answer",
        ),
        "bob_blocked": make_event(
            ts=NOW - timedelta(hours=1),
            principal="bob",
            team="ml",
            decision="block",
            use_label="eval_task_generation",
            outcome="blocked",
        ),
        "carol_gemini": make_event(
            ts=NOW - timedelta(minutes=5),
            principal="carol",
            vendor="gemini",
            tool="gemini-cli",
            outcome="client_disconnected",
        ),
    }
    store(engine, list(events.values()))
    return events


def ids(engine: Engine, **filters: object) -> list[str]:
    with Session(engine) as session:
        return [row["id"] for row in list_events(session, EventFilter(**filters))]  # type: ignore[arg-type]


def test_filters_newest_first(engine: Engine) -> None:
    ev = seed(engine)
    assert ids(engine) == [ev[k].id for k in ("carol_gemini", "bob_blocked", "alice_codex", "alice_old")]
    assert ids(engine, principal="alice") == [ev["alice_codex"].id, ev["alice_old"].id]
    assert ids(engine, team="ml") == [ev["bob_blocked"].id]
    assert ids(engine, tool="codex-cli") == ids(engine, vendor="openai") == ids(engine, model="gpt-5")
    assert ids(engine, session="s-1") == [ev["alice_codex"].id]
    assert ids(engine, decision="block") == ids(engine, label="eval_task_generation") == [ev["bob_blocked"].id]
    assert ids(engine, outcome="client_disconnected") == [ev["carol_gemini"].id]
    assert ids(engine, since=NOW - timedelta(hours=3), until=NOW - timedelta(minutes=30)) == [
        ev["bob_blocked"].id,
        ev["alice_codex"].id,
    ]
    assert ids(engine, limit=2, offset=1) == [ev["bob_blocked"].id, ev["alice_codex"].id]
    assert ids(engine, principal="nobody") == []


def test_get_event_returns_columns_and_bodies(engine: Engine) -> None:
    ev = seed(engine)
    with Session(engine) as session:
        event = get_event(session, ev["alice_codex"].id)
        assert get_event(session, "no-such-id") is None
    assert event is not None
    assert event["ts"] == ev["alice_codex"].ts and event["ts"].tzinfo is not None
    assert event["vendor"] == "openai" and event["scores"] == {} and event["rule_hits"] == []
    assert event["body"]["completion_text"] == "new answer"


def test_purge_bodies_then_events(engine: Engine) -> None:
    ev = seed(engine)
    with Session(engine) as session:
        assert purge(session, 30) == 1
        assert get_event(session, ev["alice_old"].id)["body"] is None  # type: ignore[index]
        assert session.scalar(select(func.count()).select_from(EventBodyRow)) == 1  # alice_codex's
        assert purge(session, 30, bodies_only=False) == 1
        assert session.scalar(select(func.count()).select_from(EventRow)) == 3


def test_stats_from_the_rollup_match_the_events_table(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The roll-up answers whole hours, the events table the edges: together exactly what the
    events table alone says, on both databases, before and after events are purged."""
    from proxy.store import stats_rollup
    from proxy.store.console_views import stats

    seed(engine)
    unaligned = NOW - timedelta(hours=1, minutes=30, seconds=7)
    filters = (
        EventFilter(),
        EventFilter(since=unaligned),
        EventFilter(since=NOW - timedelta(days=60), until=unaligned, principal="alice"),
        EventFilter(decision="block", since=unaligned),
    )
    with Session(engine) as session:
        for purged in (False, True):
            if purged:
                purge(session, 30, bodies_only=False)
            for f in filters:
                for bucket in ("hour", "day"):
                    via_rollup = stats(session, f, bucket)
                    with monkeypatch.context() as patch:
                        patch.setattr(stats_rollup, "scope_of", lambda _: None)
                        assert stats(session, f, bucket) == via_rollup, (f, bucket, purged)
            assert stats(session, EventFilter(), "day")["total"]["events"] == (3 if purged else 4)


def test_an_instruction_an_agent_loop_resends_is_indexed_once_and_still_found(engine: Engine) -> None:
    """Each call of a loop carries the same instruction: its first call is indexed with it, later
    calls with their completion only (the loader's search indexing cost ~1 ms per 64 KiB otherwise)."""
    from proxy.store.rows import digest_bodies

    loop = [
        make_event(
            ts=NOW - timedelta(minutes=10 - i),
            instruction="rotate the kafka credentials",
            completion_text=f"step {i} zebra{i}",
        )
        for i in range(3)
    ]
    for event in loop:
        digest_bodies(event)
    rolled_back = loop[0]
    try:  # the first call's batch fails once (database down): its retry must still index the instruction
        with engine.begin() as conn:
            insert_pairs(conn, [(event_row(rolled_back), body_row(rolled_back, "full"))])
            raise RuntimeError("connection lost")
    except RuntimeError:
        pass
    store(engine, loop)
    assert ids(engine, text="kafka credentials") == [loop[0].id]
    assert ids(engine, text="zebra2") == [loop[2].id]  # every completion is indexed
