"""Console query speed over a large store: p50/p95 of a filtered list page, a session view, a
full-text search and 30-day statistics (goal on a 2-core machine: list, session and search
p95 ≤ 200 ms; stats over 1M events ≤ 1 s).

    PYTHONPATH=. .venv/bin/python bench/bench_console.py [--events 1000000] [--postgres] [--runs 20]

The generator loads synthetic events (40 people in 8 teams, 3 vendors, 4 tools, agent sessions of
~25 calls over 30 days, a tenth flagged or blocked) into a migrated database: SQLite in
executemany batches, PostgreSQL through COPY. Every tenth event keeps an indexed instruction
(retention keeps bodies for a minority). Timed are the store functions the console routes call.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from proxy.store import stats_rollup
from proxy.store.console_views import session_events, stats
from proxy.store.db import create_db_engine
from proxy.store.event_query import EventFilter, page_events
from proxy.store.migrate import upgrade
from proxy.store.models import EventRow

BATCH = 20_000
PEOPLE = [f"user{i:02d}" for i in range(40)]
VENDORS = [
    ("anthropic", "claude-sonnet-4-5", "messages"),
    ("openai", "gpt-5", "responses"),
    ("gemini", "gemini-2.5-pro", "generateContent"),
]
TOOLS = ["claude-code", "codex-cli", "gemini-cli", "anthropic-sdk"]
LABELS = [
    "code_generation",
    "debugging",
    "documentation",
    "unit_test_generation",
    "code_analysis_review",
    "eval_task_generation",
]
WORDS = [
    "refactor",
    "the",
    "parser",
    "add",
    "retries",
    "fix",
    "flaky",
    "test",
    "explain",
    "stack",
    "trace",
    "migrate",
    "schema",
    "rename",
    "helper",
]


def synthetic_events(n: int, now: datetime) -> Iterator[tuple[dict[str, Any], str | None]]:
    rng = random.Random(7)
    session_id, left = "", 0
    for i in range(n):
        if left == 0:
            session_id, left = str(uuid.uuid4()), rng.randint(5, 45)
        left -= 1
        person = PEOPLE[rng.randrange(len(PEOPLE))]
        vendor, model, endpoint = VENDORS[rng.randrange(3)]
        roll = rng.random()
        decision = "block" if roll < 0.02 else "flag" if roll < 0.1 else "allow"
        event = {
            "id": str(uuid.UUID(int=(i << 64) | rng.getrandbits(64))),
            "ts": now - timedelta(seconds=30 * 86400 * (n - i) / n),
            "method": "POST",
            "path": f"/v1/{endpoint}",
            "vendor": vendor,
            "endpoint": endpoint,
            "principal": person,
            "principal_kind": "proxy_key",
            "team": f"team{int(person[4:]) % 8}",
            "tool": TOOLS[rng.randrange(4)],
            "session_id": session_id,
            "model": model,
            "stream": True,
            "turn_count": rng.randint(1, 40),
            "decision": decision,
            "use_label": LABELS[rng.randrange(6)],
            "scores": {},
            "rule_hits": [],
            "policy_rule": None if decision == "allow" else f"{decision}-rule",
            "status": 200,
            "upstream_status": 200,
            "outcome": "completed",
            "input_tokens": rng.randint(100, 9000),
            "output_tokens": rng.randint(10, 2000),
            "latency_ms": rng.uniform(300, 9000),
            "output_truncated": False,
            "seq": i + 1,
        }
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        yield event, (f"{words} ticket-{i}" if i % 10 == 0 else None)


def load_sqlite(url: str, n: int, now: datetime) -> None:
    engine = create_db_engine(url)
    insert_search = text("INSERT INTO event_search (event_id, document) VALUES (:event_id, :document)")
    rows: list[dict[str, Any]] = []
    docs: list[dict[str, str]] = []
    with engine.begin() as conn:
        for event, doc in synthetic_events(n, now):
            rows.append(event)
            if doc:
                docs.append({"event_id": event["id"], "document": doc})
            if len(rows) >= BATCH:
                _insert(conn, rows, docs, insert_search)
                rows, docs = [], []
        if rows:
            _insert(conn, rows, docs, insert_search)
        stats_rollup.rebuild(conn)  # bulk loads bypass the loader, which keeps the roll-up in step
        conn.execute(text("ANALYZE"))
    engine.dispose()


def _insert(conn: Any, rows: list[dict[str, Any]], docs: list[dict[str, str]], insert_search: Any) -> None:
    conn.execute(insert(EventRow), rows)
    if docs:
        conn.execute(insert_search, docs)


def load_postgres(url: str, n: int, now: datetime) -> None:
    import psycopg

    columns = list(next(synthetic_events(1, now))[0])
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY events ({', '.join(columns)}) FROM STDIN") as copy:
            for event, _ in synthetic_events(n, now):
                copy.write_row([orjson.dumps(v).decode() if isinstance(v, dict | list) else v for v in event.values()])
        with cur.copy("COPY event_search (event_id, document) FROM STDIN") as copy:
            for event, doc in synthetic_events(n, now):
                if doc:
                    copy.write_row([event["id"], doc])
    engine = create_db_engine(url)
    with engine.begin() as sa_conn:
        stats_rollup.rebuild(sa_conn)  # bulk loads bypass the loader, which keeps the roll-up in step
        sa_conn.execute(text("ANALYZE"))
    engine.dispose()


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    call()  # warm the caches once, as a console in use would be
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def measure(url: str, runs: int, now: datetime) -> dict[str, tuple[float, float]]:
    engine = create_db_engine(url)
    rng = random.Random(11)
    with Session(engine) as session:
        some_session = session.scalar(text("SELECT session_id FROM events ORDER BY ts DESC LIMIT 1 OFFSET 5000"))
        month = now - timedelta(days=30)
        queries: dict[str, Callable[[], object]] = {
            "list page (user+decision, 7d)": lambda: page_events(
                session,
                EventFilter(principal=rng.choice(PEOPLE), decision="flag", since=now - timedelta(days=7), limit=100),
                None,
            ),
            "session view": lambda: session_events(session, str(some_session)),
            "search (phrase, + vendor)": lambda: page_events(
                session, EventFilter(text=f"ticket-{rng.randrange(0, 1000, 10) * 100}", vendor="anthropic"), None
            ),
            "stats 30d (by day)": lambda: stats(session, EventFilter(since=month), "day"),
        }
        results = {name: timed(query, runs) for name, query in queries.items()}
    engine.dispose()
    return results


Measure = Callable[[str, Path], dict[str, tuple[float, float]]]  # (url, workdir) -> name: (p50, p95) ms


def run_on_loaded_databases(description: str, measure_loaded: Callable[[argparse.Namespace], Measure]) -> None:
    """The console benches' shared driver: ``--events`` loaded into SQLite (and ``--postgres``, a
    throwaway server), then each database measured and printed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL (the tests' fixture)")
    args = parser.parse_args()
    measure_one = measure_loaded(args)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        targets: list[tuple[str, str, Callable[[str, int, datetime], None]]] = [
            ("sqlite", f"sqlite:///{workdir / 'bench.db'}", load_sqlite)
        ]
        server = None
        if args.postgres:
            from tests.support.fixtures_pg import PgServer, find_pg_bin

            pg_bin = find_pg_bin()
            if pg_bin is None:
                parser.error("--postgres: no PostgreSQL server binaries found")
            server = PgServer(pg_bin)
            server.init()
            server.start()
            targets.append(("postgresql", server.new_database(), load_postgres))
        try:
            for kind, url, load in targets:
                upgrade(url)
                start = time.perf_counter()
                load(url, args.events, now)
                print(f"{kind}: loaded {args.events:,} events in {time.perf_counter() - start:.0f} s")
                for name, (p50, p95) in measure_one(url, workdir).items():
                    print(f"  {name:<32} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
        finally:
            if server is not None:
                server.destroy()


def main() -> None:
    now = datetime.now(UTC)
    run_on_loaded_databases(__doc__.split("\n\n")[0], lambda args: lambda url, _workdir: measure(url, args.runs, now))


if __name__ == "__main__":
    main()
