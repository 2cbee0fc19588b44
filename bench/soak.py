"""The 10-minute soak (issue 11): mixed traffic at ~80 % of the proxy's peak, PostgreSQL
stopped and started every 2 minutes, one ``kill -9`` and restart of the proxy, then the books.

What it runs, all on loopback:

- ``bench/fast_upstream.py`` as the vendor (streams paced one event per millisecond);
- a real PostgreSQL cluster of its own (``tests/support/fixtures_pg.py``, durable settings);
- ``provproxy serve`` on that database with default (fail-open) recording;
- an aiohttp load generator: 70 % non-streamed Anthropic calls, 30 % streams split over
  Anthropic, OpenAI and Gemini. It first finds the peak rate (closed loop, ``--peak-s``),
  then sends at ``--load`` × peak (open loop, so a slow proxy meets a queue, not a pause).

Meanwhile it samples the RSS and open descriptors of the proxy and its loader every 5 s.

At the end, after the spool has drained, it checks what the issue asks for:
every call a client saw complete has its event, events = completed calls + provisional
records (``outcome_unknown``) + calls that failed visibly, RSS and descriptors flat, and
``provproxy verify --full`` clean against the published checkpoints.

    .venv/bin/python bench/soak.py                      # 10 minutes (+ ~1 min set-up and drain)
    .venv/bin/python bench/soak.py --duration 120 --db-every 40 --json bench/results/soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from bench.bench_proxy import child_pids, proc_cpu_s, wait_for  # noqa: E402
from tests.support.fixtures_pg import PgServer, find_pg_bin  # noqa: E402

HOST = "127.0.0.1"
SAMPLE_S = 5  # seconds between RSS/descriptor samples
PACE_HEADER = {"x-bench-chunk-delay-ms": "1"}
ANTHROPIC = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-soak", "content-type": "application/json"}
OPENAI = {"authorization": "Bearer sk-soak", "content-type": "application/json"}
GEMINI = {"x-goog-api-key": "soak-key", "content-type": "application/json"}


def _anthropic(stream: bool, n: int) -> bytes:
    prompt = f"Refactor function number {n} of the billing module to use dataclasses."
    body = {"model": "claude-sonnet-4-5", "max_tokens": 200, "stream": stream}
    return json.dumps({**body, "messages": [{"role": "user", "content": prompt}]}).encode()


def _openai(n: int) -> bytes:
    messages = [{"role": "user", "content": f"Explain the retry loop in worker {n}."}]
    return json.dumps({"model": "gpt-4o", "stream": True, "messages": messages}).encode()


def _gemini(n: int) -> bytes:
    return json.dumps({"contents": [{"role": "user", "parts": [{"text": f"Summarise module {n}."}]}]}).encode()


# (weight, path, headers, body maker, what ends a complete response)
MIX: list[tuple[int, str, dict[str, str], Any, bytes]] = [
    (70, "/v1/messages", ANTHROPIC, lambda n: _anthropic(False, n), b'"stop_reason"'),
    (10, "/v1/messages", {**ANTHROPIC, **PACE_HEADER}, lambda n: _anthropic(True, n), b"message_stop"),
    (10, "/v1/chat/completions", {**OPENAI, **PACE_HEADER}, _openai, b"[DONE]"),
    (
        10,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        {**GEMINI, **PACE_HEADER},
        _gemini,
        b'"finishReason"',
    ),
]


@dataclass
class Tally:
    completed: set[str] = field(default_factory=set)  # x-provenance-id of every call a client saw complete
    failed: Counter[str] = field(default_factory=Counter)  # what the client saw instead
    failed_ids: set[str] = field(default_factory=set)  # calls answered, but not completely (they have an id)
    latencies_ms: list[float] = field(default_factory=list)


async def one_call(session: aiohttp.ClientSession, base: str, n: int, tally: Tally) -> None:
    _, path, headers, make_body, end_marker = random.choices(MIX, weights=[m[0] for m in MIX])[0]
    started = time.perf_counter()
    call_id = ""
    try:
        async with session.post(base + path, data=make_body(n), headers=headers) as response:
            call_id = response.headers.get("x-provenance-id", "")
            body = await response.read()
            if response.status == 200 and end_marker in body and call_id:
                tally.completed.add(call_id)
                tally.latencies_ms.append((time.perf_counter() - started) * 1000)
                return
            tally.failed[f"status {response.status}"] += 1
    except (TimeoutError, aiohttp.ClientError) as exc:
        tally.failed[type(exc).__name__] += 1
    if call_id:
        tally.failed_ids.add(call_id)


async def closed_loop(base: str, seconds: float, concurrency: int, tally: Tally) -> float:
    """Calls per second with ``concurrency`` callers back to back: the proxy's peak."""
    before, deadline = len(tally.completed), time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def caller(worker: int) -> None:
            n = worker
            while time.monotonic() < deadline:
                await one_call(session, base, n, tally)
                n += concurrency

        started = time.monotonic()
        await asyncio.gather(*(caller(i) for i in range(concurrency)))
    return (len(tally.completed) - before) / (time.monotonic() - started)


async def open_loop(base: str, rate: float, seconds: float, tally: Tally) -> None:
    """Start ``rate`` calls per second for ``seconds``, whatever the proxy does meanwhile."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), connector=connector) as session:
        tasks: set[asyncio.Task[None]] = set()
        started, n = time.monotonic(), 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate)
            while n < due:
                task = asyncio.create_task(one_call(session, base, n, tally))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            await asyncio.sleep(0.002)
        if tasks:
            await asyncio.wait(tasks)


# -- the proxy process and what it holds ---------------------------------------------------


def process_figures(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open descriptors) of one process."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class ProxyRun:
    env: dict[str, str]
    workdir: Path
    url: str
    proc: subprocess.Popen[bytes] | None = None
    incarnations: list[list[tuple[float, int, int, int, int]]] = field(default_factory=list)

    def start(self) -> None:
        log = (self.workdir / "proxy.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve"], cwd=self.workdir, env=self.env, stdout=log, stderr=log
        )
        wait_for(self.url + "/healthz", self.proc, "provproxy serve", timeout=60)
        self.incarnations.append([])

    def kill9(self) -> None:
        assert self.proc is not None
        loaders = child_pids(self.proc.pid)
        self.proc.kill()  # SIGKILL: no shutdown, no flush
        self.proc.wait()
        for pid in loaders:  # the loader notices its parent is gone; make sure it is
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)

    def sample(self, t: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            rss, fds = process_figures(self.proc.pid)
            loaders = [process_figures(pid) for pid in child_pids(self.proc.pid)]
        except (FileNotFoundError, ProcessLookupError):
            return
        self.incarnations[-1].append((t, rss, fds, sum(r for r, _ in loaders), sum(f for _, f in loaders)))


def recorded_outcomes(pg: PgServer, database: str) -> dict[str, str]:
    """Every recorded call's id and outcome."""
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname={database}") as conn:
        return {str(event_id): str(outcome) for event_id, outcome in conn.execute("SELECT id, outcome FROM events")}


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        sys.exit("soak: PostgreSQL binaries not found (apt-get install postgresql)")
    workdir = Path(tempfile.mkdtemp(prefix="provproxy-soak-"))
    pg = PgServer(bin_dir, durable=True)
    pg.init()
    pg.start()
    database_url = pg.new_database()
    database = database_url.rsplit("/", 1)[1]
    upstream_port, proxy_port = args.port, args.port + 1
    upstream_url, proxy_url = f"http://{HOST}:{upstream_port}", f"http://{HOST}:{proxy_port}"
    upstream = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "fast_upstream.py"), "--port", str(upstream_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        **{f"PROVPROXY_UPSTREAM_{v}": upstream_url for v in ("ANTHROPIC", "OPENAI", "GEMINI")},
        "PROVPROXY_HOST": HOST,
        "PROVPROXY_PORT": str(proxy_port),
        "PROVPROXY_ADMIN_PORT": str(proxy_port + 1),
        "PROVPROXY_LOG_LEVEL": "warning",
        "PROVPROXY_DATABASE_URL": database_url,
        "PROVPROXY_SPOOL_DIR": str(workdir / "spool"),
        "PROVPROXY_SIGNING_KEY_FILE": str(workdir / "signing-key.pem"),
        "PROVPROXY_CHECKPOINT_DIR": str(workdir / "checkpoints"),
        "PROVPROXY_CHECKPOINT_EVERY_S": "30",  # published checkpoint files for verify
        "PYTHONPATH": str(REPO),
    }
    # The soak measures recording under faults, not the use policy: identical calls at volume
    # would trip the default policy's volume rules.
    policy = workdir / "allow-all.yaml"
    policy.write_text("version: 1\ndefault_action: allow\nrules: []\n")
    env["PROVPROXY_POLICY_FILE"] = str(policy)
    proxy = ProxyRun(env, workdir, proxy_url)
    tally = Tally()
    timeline: list[str] = []
    try:
        wait_for(upstream_url + "/health", upstream, "fast upstream")
        proxy.start()
        peak = await closed_loop(proxy_url, args.peak_s, args.concurrency, tally)
        rate = peak * args.load
        timeline.append(f"peak {peak:.0f} calls/s (closed loop, {args.concurrency} callers); soak at {rate:.0f}/s")
        print(timeline[-1], flush=True)
        cpu_before, t0 = proc_cpu_s(proxy.proc.pid) if proxy.proc else 0.0, time.monotonic()

        async def faults() -> None:
            nonlocal cpu_before
            kill_at = args.duration * 0.45
            next_db = args.db_every
            killed = False
            while (t := time.monotonic() - t0) < args.duration:
                proxy.sample(t)
                if t >= next_db:
                    timeline.append(f"{t:6.1f}s  PostgreSQL stopped for {args.db_down_s:.0f} s")
                    print(timeline[-1], flush=True)
                    await asyncio.to_thread(pg.stop)
                    await asyncio.sleep(args.db_down_s)
                    await asyncio.to_thread(pg.start)
                    timeline.append(f"{time.monotonic() - t0:6.1f}s  PostgreSQL started")
                    next_db += args.db_every
                    continue
                if not killed and t >= kill_at:
                    timeline.append(f"{t:6.1f}s  kill -9 of the proxy, restarted at once")
                    print(timeline[-1], flush=True)
                    proxy.kill9()
                    await asyncio.to_thread(proxy.start)
                    timeline.append(f"{time.monotonic() - t0:6.1f}s  proxy serving again")
                    killed = True
                await asyncio.sleep(SAMPLE_S)

        await asyncio.gather(open_loop(proxy_url, rate, args.duration, tally), faults())
        proxy.sample(time.monotonic() - t0)
        cpu_after = proc_cpu_s(proxy.proc.pid) if proxy.proc else 0.0
        # Drain: the spool empties into the database once it is reachable.
        deadline = time.monotonic() + 180
        last = -1
        while time.monotonic() < deadline:
            total = len(recorded_outcomes(pg, database))
            if total == last and not list((workdir / "spool").glob("*.spool"))[1:]:
                break
            last = total
            await asyncio.sleep(5)
        proxy.stop()
        verify = subprocess.run(
            [sys.executable, "-m", "proxy", "verify", "--full", "--checkpoints", str(workdir / "checkpoints")],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        recorded = recorded_outcomes(pg, database)
    finally:
        proxy.stop()
        upstream.terminate()
        upstream.wait()
        pg.destroy()

    unknown = {event_id for event_id, outcome in recorded.items() if outcome == "outcome_unknown"}
    missing = tally.completed - set(recorded)
    # Every event is a call a client saw complete, one it saw fail (it had an id), or one a crash cut short.
    unexplained = set(recorded) - tally.completed - tally.failed_ids - unknown
    rss_fd = [
        {
            "start": {"t_s": run[0][0], "rss_kib": run[0][1], "fds": run[0][2], "loader_rss_kib": run[0][3]},
            "end": {"t_s": run[-1][0], "rss_kib": run[-1][1], "fds": run[-1][2], "loader_rss_kib": run[-1][3]},
            "rss_kib_max": max(s[1] for s in run),
            "fds_max": max(s[2] for s in run),
            # one sample a minute: (t, proxy RSS KiB, descriptors, loader RSS KiB), to tell warm-up from growth
            "every_minute": [(round(s[0]), s[1], s[2], s[3]) for s in run[:: max(1, 60 // SAMPLE_S)]],
        }
        for run in proxy.incarnations
        if run
    ]
    return {
        "duration_s": args.duration,
        "peak_calls_per_s": round(peak, 1),
        "offered_calls_per_s": round(rate, 1),
        "completed_calls": len(tally.completed),
        "client_failures": dict(tally.failed),
        "events": len(recorded),
        "events_by_outcome": dict(Counter(recorded.values())),
        "completed_calls_missing_an_event": len(missing),
        "completed_calls_recorded_as_outcome_unknown": len(tally.completed & unknown),
        "events_unexplained": len(unexplained),
        "latency_ms_p50": round(statistics.median(tally.latencies_ms), 2) if tally.latencies_ms else None,
        "proxy_cpu_s_second_run": round(cpu_after - cpu_before, 1) if len(proxy.incarnations) == 1 else None,
        "processes": rss_fd,
        "verify_exit": verify.returncode,
        "verify_output": verify.stdout.strip().splitlines()[-3:],
        "timeline": timeline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of soak (default 600)")
    parser.add_argument("--db-every", type=float, default=120.0, help="stop PostgreSQL every N seconds")
    parser.add_argument("--db-down-s", type=float, default=15.0, help="how long it stays down")
    parser.add_argument("--load", type=float, default=0.8, help="fraction of the measured peak to offer")
    parser.add_argument("--peak-s", type=float, default=20.0, help="seconds of the peak measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="callers in the peak measurement")
    parser.add_argument("--port", type=int, default=18500, help="first of three loopback ports")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    ok = (
        result["completed_calls_missing_an_event"] == 0
        and result["events_unexplained"] == 0
        and result["verify_exit"] == 0
    )
    print("SOAK", "OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
