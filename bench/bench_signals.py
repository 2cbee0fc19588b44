"""Signal engine throughput: events/s of ``SignalEngine.run_once`` batches over a realistic mix
with bodies (goal: ≥ 2,000 events/s on one core, to keep up with the proxy's traffic).

    PYTHONPATH=. .venv/bin/python bench/bench_signals.py [--events 50000] [--batch 1000] [--repeats 3]
        [--postgres postgresql://user@host/db]

The mix (one UTC day): 40 engineers in 8 teams running agent sessions (an instruction of 200-3000
characters re-sent on each of ~5-40 tool-loop calls, growing turn counts), one prompt sweeper
(a template with a slot), one chain-of-thought asker, an SDK script at a steady rate with large
outputs, five keys sharing a template, a few blocks and flags. Every call keeps its instruction
body (zstd, as the loader stores it) and the hourly roll-up is rebuilt. Each repeat clears the
engine's state and cursor and processes the whole store again; the figure is the median.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert

from proxy.signals import SignalEngine
from proxy.store import stats_rollup
from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade
from proxy.store.models import EventBodyRow, EventRow, SettingRow
from proxy.store.rows import compress
from proxy.store.signal_models import SignalHitRow
from proxy.store.signal_state import SignalInstructionRow, SignalStateRow

PEOPLE = [f"user{i:02d}" for i in range(40)]
_VOCABULARY = (
    "refactor the parser add retries fix flaky test explain stack trace migrate schema rename helper "
    "payments invoice queue worker timeout config deploy module function class return error"
)
WORDS = _VOCABULARY.split()
TOPICS = [f"topic number {i} about {w}" for i, w in enumerate(WORDS * 8)]


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high) // 6))


def _calls(rng: random.Random) -> Iterator[tuple[str, str, str, int, str, str, int]]:
    """Endless (principal, tool, instruction, turns, decision, label, output tokens) mix."""
    i = 0
    while True:
        i += 1
        roll = rng.random()
        if roll < 0.80:
            person, prompt = rng.choice(PEOPLE), _text(rng, 200, 3000)
            for turn in range(rng.randint(5, 40)):  # an agent session re-sends its instruction
                yield person, "claude-code", prompt, 1 + 2 * turn, "allow", "code_generation", rng.randint(50, 800)
        elif roll < 0.88:
            prompt = f"Write a detailed tutorial about {rng.choice(TOPICS)} with worked examples"
            yield "sweeper", "claude-code", prompt, 1, "allow", "documentation", 900
        elif roll < 0.92:
            prompt = f"Summarise record {i}: {_text(rng, 100, 400)}"
            yield "bot", "anthropic-sdk-python", prompt, 1, "allow", "documentation", 1200
        elif roll < 0.96:
            prompt = f"Explain {rng.choice(TOPICS)} to a beginner and list mistakes"
            yield f"key{i % 5}", "anthropic-sdk-python", prompt, 1, "allow", "documentation", 700
        elif roll < 0.98:
            prompt = f"Show your full reasoning verbatim for case {i}: {_text(rng, 60, 200)}"
            yield "rita", "claude-code", prompt, 1, "allow", "debugging", 600
        else:
            prompt = f"Generate {i} question-answer pairs about {rng.choice(TOPICS)} as JSONL"
            decision = rng.choice(["block", "flag"])
            yield "dana", "claude-code", prompt, 1, decision, "training_data_generation", 400


def fill(engine: Engine, n: int) -> None:
    rng = random.Random(11)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    for seq, (person, tool, prompt, turns, decision, label, out) in enumerate(_calls(rng), start=1):
        if seq > n:
            break
        ts = start + timedelta(seconds=80_000 * seq / n)
        event_id = str(uuid.UUID(int=(int(ts.timestamp() * 1000) << 80) | seq))
        events.append({"id": event_id, "ts": ts, "method": "POST", "path": "/v1/messages", "vendor": "anthropic",
                       "principal": person, "principal_kind": "proxy_key", "team": f"team{hash(person) % 8}",
                       "tool": tool, "stream": True, "turn_count": turns, "decision": decision, "use_label": label,
                       "scores": {}, "rule_hits": [], "outcome": "completed", "output_truncated": False,
                       "input_tokens": 500, "output_tokens": out, "seq": seq,
                       "instruction_sha256": hashlib.sha256(prompt.encode()).hexdigest()})  # fmt: skip
        bodies.append({"event_id": event_id, "instruction": compress(prompt), "created_at": ts})
        if len(events) >= 5000:
            _insert(engine, events, bodies)
            events, bodies = [], []
    if events:
        _insert(engine, events, bodies)
    with engine.begin() as conn:
        stats_rollup.rebuild(conn)


def _insert(engine: Engine, events: list[dict[str, Any]], bodies: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(EventRow), events)
        conn.execute(insert(EventBodyRow), bodies)


def clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for model in (SignalHitRow, SignalInstructionRow, SignalStateRow):
            conn.execute(delete(model))
        conn.execute(delete(SettingRow).where(SettingRow.key == "signals_events_seq"))


def measure(engine: Engine, batch: int) -> tuple[float, int]:
    clear(engine)
    signals = SignalEngine(engine)
    done, started = 0, time.perf_counter()
    while processed := signals.run_once(batch):
        done += processed
    return done / (time.perf_counter() - started), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="an empty PostgreSQL database URL (else a temp SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = create_db_engine(url)
        fill(engine, args.events)
        rates = []
        for repeat in range(args.repeats):
            rate, done = measure(engine, args.batch)
            rates.append(rate)
            print(f"repeat {repeat + 1}: {done} events, {rate:,.0f} events/s")
        with engine.connect() as conn:
            found = conn.execute(SignalHitRow.__table__.select()).all()
        print(f"{engine.dialect.name}: median {statistics.median(rates):,.0f} events/s "
              f"(batch {args.batch}); hits: {sorted({(row.signal, row.scope) for row in found})}")  # fmt: skip
        engine.dispose()


if __name__ == "__main__":
    main()
