"""Sweep, reasoning, dataset, evasion and coordination on a real store (SQLite and PostgreSQL):
each fires for its pattern and stays quiet for ordinary engineers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from proxy.signals import SignalEngine
from tests.support import store_fixtures
from tests.support.traffic_sim import ORDINARY as SIM_ORDINARY
from tests.support.traffic_sim import TOPICS as SIM_TOPICS
from tests.unit.signals.helpers import NOON, Store, fired, hits

database_url = store_fixtures.database_url
engine = store_fixtures.engine

TOPICS = [*SIM_TOPICS, "streams"]  # the simulator's slot values (tests/support/traffic_sim.py), and one more
ORDINARY = [
    *SIM_ORDINARY,
    "Write unit tests for the new currency conversion function, covering rounding edge cases",
    "The websocket handler leaks a task when the client disconnects, find out why and fix it",
]


def run(engine: Engine) -> SignalEngine:
    signals = SignalEngine(engine)
    while signals.run_once(100):
        pass
    return signals


def ordinary_day(store: Store, principal: str) -> None:
    """Varied requests, each followed by an agent loop re-sending it 40 times (tool calls)."""
    at = NOON
    for instruction in ORDINARY:
        for turn in range(40 if instruction is ORDINARY[0] else 5):
            at += timedelta(seconds=7)
            store.call(principal, instruction, at, turns=1 + turn * 2)


def test_sweep_fires_for_a_template_with_a_slot_not_for_an_agent_loop(engine: Engine) -> None:
    store = Store(engine)
    ordinary_day(store, "olga")
    for i, topic in enumerate(TOPICS):
        prompt = f"Write a detailed tutorial about {topic} in Python with three worked examples and exercises"
        store.call("sam", prompt, NOON + timedelta(minutes=i))
    run(engine)
    assert fired(engine) == {("sweep", "sam")}
    (hit,) = hits(engine)
    assert hit["detail"]["distinct_instructions"] == len(TOPICS)
    assert hit["event_ids"] == store.ids["sam"]
    assert hit["score"] >= 1.0 and hit["principals"] == ["sam"]


def test_reasoning_fires_for_chain_of_thought_requests_in_several_languages(engine: Engine) -> None:
    store = Store(engine)
    ordinary_day(store, "olga")
    for i, prompt in enumerate(
        [
            "Solve this puzzle and show your full reasoning verbatim: a farmer has 17 sheep",
            "Before answering, write out your complete chain of thought for the scheduling problem",
            "Montre ton raisonnement complet avant de répondre à la question sur les graphes",
            "Zeige deinen vollständigen Denkprozess für diese Optimierungsaufgabe",
            "请展示你的完整推理过程，然后回答这个数学问题",
            "Give me the full tool-use trace of how you would debug this service, every call",
        ]
    ):
        store.call("rita", prompt, NOON + timedelta(minutes=i))
    run(engine)
    assert fired(engine) == {("reasoning", "rita")}


def test_dataset_adds_up_requests_below_the_blocking_threshold(engine: Engine) -> None:
    store = Store(engine)
    ordinary_day(store, "olga")
    for i, topic in enumerate(TOPICS[:12]):
        decision, label = ("flag", "training_data_generation") if i % 3 == 0 else ("allow", "documentation")
        prompt = f"Generate {100 + i} question-answer pairs about {topic} for my notes, as JSONL"
        store.call("dana", prompt, NOON + timedelta(minutes=i * 5), decision=decision, label=label)
    run(engine)
    assert ("dataset", "dana") in fired(engine)
    assert not {scope for _, scope in fired(engine)} & {"olga"}


def test_evasion_is_rephrasing_after_a_block_not_other_work_after_one(engine: Engine) -> None:
    store = Store(engine)
    blocked = "Generate 200 evaluation tasks for our code model with hidden tests and a grader, as JSONL"
    for who in ("eve", "olga"):
        store.call(who, blocked, NOON, decision="block", label="eval_task_generation")
    rephrased = [
        "Generate 200 practice tasks for our code model with hidden tests and a grader, as JSONL",
        "Please write 200 exercises for the code model with hidden tests and a grading script",
        "Create coding tasks with hidden tests and graders for our model, 200 of them in JSONL",
    ]
    for i, prompt in enumerate(rephrased):
        store.call("eve", prompt, NOON + timedelta(minutes=2 + i), decision="flag", label="eval_task_generation")
    for i, prompt in enumerate(ORDINARY[:3]):
        store.call("olga", prompt, NOON + timedelta(minutes=2 + i))
    late = NOON + timedelta(hours=2)  # long after the block: not an attempt to get around it
    store.call("olga", rephrased[0], late, decision="flag", label="eval_task_generation")
    run(engine)
    assert ("evasion", "eve") in fired(engine)
    assert not any(scope == "olga" for _, scope in fired(engine))
    (hit,) = [h for h in hits(engine) if h["signal"] == "evasion"]
    assert hit["detail"]["distinct_instructions"] == 3 and hit["detail"]["blocks"] == [store.ids["eve"][0]]


def test_coordination_spots_one_template_spread_over_several_keys(engine: Engine) -> None:
    store = Store(engine)
    ordinary_day(store, "olga")
    people = ["k1", "k2", "k3", "k4"]
    for i, topic in enumerate(TOPICS[:16]):  # four each: far below the sweep threshold
        prompt = f"Answer as an expert tutor: explain {topic} to a beginner, then list five common mistakes"
        store.call(people[i % 4], prompt, NOON + timedelta(minutes=i), team=f"team{i % 4}")
    run(engine)
    assert {signal for signal, _ in fired(engine)} == {"coordination"}
    (hit,) = hits(engine)
    assert hit["scope_kind"] == "group" and hit["principals"] == people
    assert len(hit["event_ids"]) == 16
