"""Durable writer throughput (budget ≥ 3,000 events/s on SQLite) and ``commit()`` latency.

    PYTHONPATH=. .venv/bin/python bench/bench_writer.py [--events 20000] [--runs 3] [--no-postgres]

PYTHONPATH=. because it borrows the tests' synthetic event, request bodies and
PostgreSQL server. Every event carries a real 55 KB Claude Code request body and
a 1.5 KB completion, retention "full", and goes through the provenance chain's
sealing (:class:`proxy.provenance.chain.HashChain`), as in the proxy.

* **submit**: N events submitted at once; the clock stops when ``stop()``
  returns, i.e. every event is fdatasync'd in the spool *and* committed to the
  database. This is what the writer sustains.
* **commit c64**: 64 coroutines each ``await commit(event)`` in a loop (the
  proxy under load: every response waits for its own event); same end point.
* **commit c1**: sequential ``await commit(event)`` on an otherwise idle writer:
  the time a response's last chunk waits for its event to be durable. p50/p99.
* **cpu/event**: CPU per event during the submit run: this process (all threads)
  and the recorder's loader process (reaped by ``stop()``, so in RUSAGE_CHILDREN).

PostgreSQL runs with its default durability (fsync on, synchronous_commit on).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.bench_proxy import child_pids, proc_cpu_s
from proxy.events import Event
from proxy.provenance.chain import HashChain
from proxy.store.migrate import upgrade
from proxy.store.writer import DurableRecorder
from tests.support.fixtures_pg import PgServer, find_pg_bin
from tests.support.store_fixtures import make_event, make_settings

REPO = Path(__file__).resolve().parents[1]
REQUEST = (REPO / "tests/data/bodies/claude_code_multi_turn.json").read_bytes()
COMPLETION = "def handler(request):\n    return respond(request.json())\n" * 25
LATENCY_SAMPLES = 500
COMMITTERS = 64


def cpu_s() -> float:
    """CPU of this process and its loaders: reaped ones from rusage, live ones from /proc.

    The PostgreSQL server is a child too, but lives through the whole run: never reaped, not counted."""
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    loaders = [pid for pid in child_pids(os.getpid()) if b"proxy.store.loader" in _cmdline(pid)]
    return time.process_time() + reaped.ru_utime + reaped.ru_stime + sum(map(proc_cpu_s, loaders))


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def new_event() -> Event:
    return make_event(completion_text=COMPLETION, request_body=REQUEST, stream=True)


def new_recorder(database_url: str, spool_dir: Path) -> DurableRecorder:
    chain = HashChain(last_sealed=lambda: None)
    return DurableRecorder(make_settings(database_url, spool_dir, writer_load_linger_s=0.1), chainer=chain)


async def submit_rate(database_url: str, spool_dir: Path, count: int) -> tuple[float, float]:
    """(events/s, CPU ms per event) with every event submitted at once."""
    recorder = new_recorder(database_url, spool_dir)
    await recorder.start()
    events = [new_event() for _ in range(count)]
    cpu, started = cpu_s(), time.perf_counter()
    for event in events:
        recorder.submit(event)
    await recorder.stop()
    elapsed, cpu = time.perf_counter() - started, cpu_s() - cpu
    assert recorder.stats.events_written == count, recorder.snapshot()
    return count / elapsed, cpu * 1000 / count


async def commit_rate(database_url: str, spool_dir: Path, count: int) -> float:
    """Events/s with COMMITTERS coroutines awaiting ``commit()`` in a loop, until all are in the database."""
    recorder = new_recorder(database_url, spool_dir)
    await recorder.start()
    remaining = count

    async def committer() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await recorder.commit(new_event())

    started = time.perf_counter()
    await asyncio.gather(*(committer() for _ in range(COMMITTERS)))
    await recorder.stop()
    elapsed = time.perf_counter() - started
    assert recorder.stats.events_written == count, recorder.snapshot()
    return count / elapsed


async def commit_latency_ms(database_url: str, spool_dir: Path) -> tuple[float, float]:
    recorder = new_recorder(database_url, spool_dir)
    await recorder.start()
    samples = []
    for _ in range(LATENCY_SAMPLES):
        event = new_event()
        started = time.perf_counter()
        await recorder.commit(event)
        samples.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.002)  # a call every few ms, as at concurrency 1: the loader works meanwhile
    await recorder.stop()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


def run_database(name: str, new_url: Callable[[int], str], events: int, runs: int, workdir: Path) -> None:
    rates, cpus, commit_rates, p50s, p99s = [], [], [], [], []
    for run in range(runs):
        url = new_url(run)
        upgrade(url)
        rate, cpu = asyncio.run(submit_rate(url, workdir / f"{name}-submit-{run}", events))
        rates.append(rate)
        cpus.append(cpu)
        # A fresh database for each recorder: each starts a new chain (seq 1, 2, ...).
        url = new_url(runs + run)
        upgrade(url)
        commit_rates.append(asyncio.run(commit_rate(url, workdir / f"{name}-commit-{run}", events)))
        url = new_url(2 * runs + run)
        upgrade(url)
        p50, p99 = asyncio.run(commit_latency_ms(url, workdir / f"{name}-lat-{run}"))
        p50s.append(p50)
        p99s.append(p99)

    def runs_of(values: list[float], fmt: str) -> str:
        return f"{statistics.median(values):{fmt}} (runs: {', '.join(f'{v:{fmt}}' for v in values)})"

    print(f"{name}")
    print(f"  submit        {runs_of(rates, '.0f')} events/s, cpu {runs_of(cpus, '.3f')} ms/event")
    print(f"  commit c{COMMITTERS}    {runs_of(commit_rates, '.0f')} events/s")
    print(f"  commit c1     p50 {runs_of(p50s, '.3f')} ms, p99 {runs_of(p99s, '.3f')} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provproxy-bench-") as tmp:
        workdir = Path(tmp)  # the spool must be on a real disk (not tmpfs): its fdatasync is measured
        print(f"{args.events} events per run, {args.runs} runs, {len(REQUEST)} B request bodies, retention full")
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
