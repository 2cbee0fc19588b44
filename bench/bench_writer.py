"""Durable writer throughput (budget ≥ 3,000 events/s on SQLite) and ``commit()`` latency.

    PYTHONPATH=. .venv/bin/python bench/bench_writer.py [--events 20000] [--runs 3] [--no-postgres]

PYTHONPATH=. because it borrows the tests' synthetic event and PostgreSQL server.

Throughput: N events (with a 1.5 KB completion and a request body, retention
"full") are submitted at once; the clock stops when ``stop()`` returns, i.e.
every event is fsync'd in the spool *and* committed to the database.
Latency: sequential ``await commit(event)`` on an idle writer (the time a
response's last chunk waits for its event to be durable: group commit + fsync).
PostgreSQL runs with its default durability (fsync on, synchronous_commit on).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from proxy.store.migrate import upgrade
from proxy.store.writer import DurableRecorder
from tests.fixtures_pg import PgServer, find_pg_bin
from tests.store.conftest import make_event, make_settings

COMPLETION = "def handler(request):\n    return respond(request.json())\n" * 25
REQUEST = b'{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"write a handler"}]}' * 8


async def throughput(database_url: str, spool_dir: Path, count: int) -> float:
    recorder = DurableRecorder(make_settings(database_url, spool_dir))
    await recorder.start()
    events = [make_event(completion_text=COMPLETION, request_body=REQUEST) for _ in range(count)]
    started = time.perf_counter()
    for event in events:
        recorder.submit(event)
    await recorder.stop()
    elapsed = time.perf_counter() - started
    assert recorder.stats.events_written == count, recorder.snapshot()
    return count / elapsed


async def commit_latency_ms(database_url: str, spool_dir: Path, count: int = 500) -> tuple[float, float]:
    recorder = DurableRecorder(make_settings(database_url, spool_dir))
    await recorder.start()
    samples = []
    for _ in range(count):
        event = make_event(completion_text=COMPLETION)
        started = time.perf_counter()
        await recorder.commit(event)
        samples.append((time.perf_counter() - started) * 1000)
    await recorder.stop()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


def run_database(name: str, new_url: object, events: int, runs: int, workdir: Path) -> None:
    rates, p50s, p99s = [], [], []
    for run in range(runs):
        url = new_url(run)  # type: ignore[operator]
        upgrade(url)
        rates.append(asyncio.run(throughput(url, workdir / f"{name}-spool-{run}", events)))
        p50, p99 = asyncio.run(commit_latency_ms(url, workdir / f"{name}-lat-spool-{run}"))
        p50s.append(p50)
        p99s.append(p99)
    print(
        f"{name:<10} throughput median {statistics.median(rates):8.0f} events/s "
        f"(runs: {', '.join(f'{r:.0f}' for r in rates)}); "
        f"commit() latency median p50 {statistics.median(p50s):.3f} ms, p99 {statistics.median(p99s):.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provproxy-bench-") as tmp:
        workdir = Path(tmp)
        print(f"{args.events} events per run, {args.runs} runs, retention full")
        run_database("sqlite", lambda run: f"sqlite:///{workdir}/events-{run}.db", args.events, args.runs, workdir)
        bin_dir = find_pg_bin()
        if args.no_postgres or bin_dir is None:
            print("postgresql skipped" + ("" if args.no_postgres else ": no PostgreSQL binaries found"))
            return
        server = PgServer(bin_dir, durable=True)
        try:
            server.init()
            server.start()
            run_database("postgresql", lambda run: server.new_database(), args.events, args.runs, workdir)
        finally:
            server.destroy()


if __name__ == "__main__":
    main()
