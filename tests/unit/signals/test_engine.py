"""Volume, scripted traffic, restarts, missing bodies and a failing database, on a real store."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy import Engine, func, select

from proxy.signals import SignalConfig, SignalEngine
from proxy.store.db import create_db_engine
from proxy.store.signal_state import SignalInstructionRow
from tests.support import store_fixtures
from tests.unit.signals.helpers import NOON, Store, fired, hits
from tests.unit.signals.test_text_signals import ORDINARY, TOPICS, ordinary_day, run

database_url = store_fixtures.database_url
engine = store_fixtures.engine


def test_volume_is_far_above_own_and_team_baselines_not_a_busy_day(engine: Engine) -> None:
    store = Store(engine)
    for name, per_day in (("hugo", 20), ("bea", 40), ("olga", 30), ("tom", 30)):
        store.history(name, per_day, days=5, before=NOON)
    rng = random.Random(1)
    for name, today in (("hugo", 130), ("bea", 75), ("olga", 35)):  # bea: busy (~2x), not far above
        for i in range(today):
            store.call(name, f"{rng.choice(ORDINARY)} #{i}", NOON + timedelta(seconds=20 * i))
    signals = SignalEngine(engine, SignalConfig(volume_min_calls=100))
    while signals.run_once(50):
        pass
    assert {(s, p) for s, p in fired(engine) if s == "volume"} == {("volume", "hugo")}
    (hit,) = [h for h in hits(engine) if h["signal"] == "volume"]
    assert hit["detail"]["calls"] == 130 and hit["detail"]["own_baseline"] == 20
    assert hit["detail"]["team_baseline"] == 30 and hit["event_ids"] == store.ids["hugo"][-130:]


def test_scripted_is_steady_single_turn_sdk_traffic_with_large_outputs(engine: Engine) -> None:
    store = Store(engine)
    rng = random.Random(2)
    at = NOON
    for i in range(40):
        at += timedelta(seconds=30 + rng.uniform(-3, 3))
        store.call("bot", f"Summarise document {i} of the archive", at, tool="anthropic-sdk-python", output_tokens=900)
    at = NOON
    for i in range(40):  # a person with the SDK: same sizes, human pauses
        at += timedelta(seconds=rng.expovariate(1 / 120))
        store.call("ann", f"Summarise document {i} of the wiki", at, tool="anthropic-sdk-python", output_tokens=900)
    ordinary_day(store, "olga")  # an agent: many single-turn-ish calls, interactive tool
    run(engine)
    assert {(s, p) for s, p in fired(engine) if s == "scripted"} == {("scripted", "bot")}
    (hit,) = [h for h in hits(engine) if h["signal"] == "scripted"]
    assert hit["detail"]["cv"] < 0.5 and hit["detail"]["calls"] >= 30


def sweep_and_coordination(store: Store, body: bool = True) -> None:
    ordinary_day(store, "olga")
    for i, topic in enumerate(TOPICS):
        prompt = f"Write a detailed tutorial about {topic} in Python with three worked examples and exercises"
        store.call("sam", prompt, NOON + timedelta(minutes=i), body=body)
        store.call("sam", prompt, NOON + timedelta(minutes=i, seconds=5), body=body)  # re-sent
    for i in range(18):
        store.call(f"k{i % 3}", "Rate this answer from 1 to 10 and explain", NOON + timedelta(minutes=i), body=body)
    store.call("dana", "Produce training examples", NOON, label="training_data_generation", decision="flag", body=body)


def test_a_restart_resumes_from_the_cursor_without_counting_twice(engine: Engine) -> None:
    store = Store(engine)
    sweep_and_coordination(store)
    first = SignalEngine(engine)
    first.run_once(57)
    first.run_once(33)
    second = SignalEngine(engine)  # a new process: memory from the store, then on from the cursor
    assert second.run_once(10) == 10 and second.cursor == 100
    while second.run_once(40):
        pass
    after_restart = {(h["signal"], h["scope"]): (h["score"], h["event_ids"], h["detail"]) for h in hits(engine)}
    with engine.connect() as conn:
        calls = conn.execute(select(func.sum(SignalInstructionRow.calls))).scalar()
    assert calls == store.seq  # every call counted once
    with engine.begin() as conn:
        for table in ("signal_hits", "signal_instructions", "signal_state", "settings_kv"):
            conn.execute(SignalInstructionRow.metadata.tables[table].delete())
    run(engine)  # the same traffic in one go
    once = {(h["signal"], h["scope"]): (h["score"], h["event_ids"], h["detail"]) for h in hits(engine)}
    assert after_restart == once and ("sweep", "sam") in once


def test_without_bodies_the_signals_fall_back_to_labels_and_exact_repeats(engine: Engine) -> None:
    store = Store(engine)
    sweep_and_coordination(store, body=False)
    SignalEngine(engine, SignalConfig(dataset_min_distinct=1)).run_once(1000)
    found = fired(engine)
    assert ("sweep", "sam") not in found  # near-duplicates need the text
    assert ("dataset", "dana") in found  # the classifier's label is metadata
    (group,) = [h for h in hits(engine) if h["signal"] == "coordination"]
    assert group["principals"] == ["k0", "k1", "k2"] and group["detail"]["mode"] == "exact"


def test_with_bodies_an_exact_repeat_over_several_people_is_not_a_template(engine: Engine) -> None:
    store = Store(engine)
    sweep_and_coordination(store)
    run(engine)
    assert {signal for signal, _ in fired(engine)} == {"sweep"}


def test_a_failing_database_does_not_end_the_thread(tmp_path: Path, database_url: str) -> None:
    missing = create_db_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    signals = SignalEngine(missing, SignalConfig(poll_interval_s=0.01))
    with structlog.testing.capture_logs() as logs:
        signals.start()
        deadline = time.monotonic() + 15
        while sum(entry["event"] == "signals.batch_failed" for entry in logs) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(entry["event"] == "signals.batch_failed" for entry in logs) >= 2  # failed, and tried again
        assert signals._thread.is_alive()
        signals.stop()
    good = create_db_engine(database_url)
    Store(good).call("olga", ORDINARY[0], NOON)
    working = SignalEngine(good, SignalConfig(poll_interval_s=0.01))
    working.start()
    while working.cursor == 0 and time.monotonic() < deadline + 10:
        time.sleep(0.05)
    working.stop()
    assert working.cursor == 1
    good.dispose()
