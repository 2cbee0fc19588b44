"""The proxy's overhead while the security console is queried (issue 14).

Starts the rig of ``bench_proxy.py`` with one recording proxy, then ``provproxy admin`` on the
same database (its own process, as deployed to scale apart, pinned with the load) and a
querier process that asks it, back to back, for a filtered list page, 30-day statistics, a
search and a session view. Each test is measured three ways in the same repeat: DIRECT,
THROUGH the proxy with the querier paused (SIGSTOP), and THROUGH with it running (SIGCONT).
The figures that matter are the proxy's own CPU per request and its latency, quiet vs queried.

    .venv/bin/python bench/bench_console_overhead.py --repeat 3
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.bench_proxy import (  # noqa: E402
    anthropic_body,
    measure,
    parse_args,
    run_wrk,
    settle,
    start_rig,
)

QUERIER = """
import sys, time, httpx
url, token = sys.argv[1], sys.argv[2]
paths = ["/api/v1/events?decision=allow&since=7d&limit=100", "/api/v1/stats?since=30d&bucket=day",
         "/api/v1/events?q=refactor&limit=50", "/api/v1/events?vendor=anthropic&limit=500"]
done = 0
with httpx.Client(base_url=url, headers={"authorization": "Bearer " + token}, timeout=30) as client:
    while True:
        for path in paths:
            client.get(path).raise_for_status()
            done += 1
            if done % 50 == 0:
                print(done, time.monotonic(), flush=True)
"""


def main() -> None:
    argv = sys.argv[1:]
    args = parse_args(["--record-modes", "on", *argv])
    os.sched_setaffinity(0, {int(c) for c in args.load_cpu.replace("-", ",").split(",")})
    body_file = Path(tempfile.mkstemp(suffix=".json")[1])
    body_file.write_bytes(anthropic_body(args.body_kb, stream=False))
    stream_file = Path(tempfile.mkstemp(suffix=".json")[1])
    stream_file.write_bytes(anthropic_body(args.body_kb, stream=True))
    files = {"json_body": body_file, "stream_body": stream_file}
    rig = start_rig(args)
    proxy = rig.proxies[0]
    data = rig.workdir / "proxy-0"
    env = {
        **os.environ,
        "PROVPROXY_DATABASE_URL": f"sqlite:///{data / 'provproxy.db'}",
        "PROVPROXY_LOG_LEVEL": "warning",
    }
    admin_port = args.proxy_port + 150
    admin_url = f"http://127.0.0.1:{admin_port}"
    pin = ["taskset", "-c", args.load_cpu]
    admin = querier = None
    runs: list[dict[str, Any]] = []
    try:
        run_wrk(proxy.url, 8, 3, body_file, args.load_cpu)  # some events for the console to read
        settle(rig, proxy.proc.pid)
        token = (
            subprocess.run(
                [sys.executable, "-m", "proxy", "admin", "tokens", "create", "--name", "bench", "--role", "auditor"],
                cwd=data,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        admin = subprocess.Popen(
            [*pin, sys.executable, "-m", "proxy", "admin", "--port", str(admin_port)],
            cwd=data,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_console(admin_url, admin)
        querier = subprocess.Popen(
            [*pin, sys.executable, "-c", QUERIER, admin_url, token], stdout=subprocess.PIPE, text=True
        )
        assert querier.stdout is not None
        querier.stdout.readline()  # it answers
        os.kill(querier.pid, signal.SIGSTOP)
        for repeat in range(args.repeat):
            for test in args.tests:
                plan = [("direct", rig.upstream_url, None, False), ("quiet", proxy.url, proxy.proc.pid, False)]
                plan.append(("queried", proxy.url, proxy.proc.pid, True))
                for target, url, pid, queried in plan:
                    if queried:
                        os.kill(querier.pid, signal.SIGCONT)
                        time.sleep(0.5)
                    figures = measure(rig, target, url, pid, test, args, files, None)
                    if queried:
                        os.kill(querier.pid, signal.SIGSTOP)
                    runs.append({"repeat": repeat, "test": test, "target": target, "figures": figures})
                    print(f"r{repeat} {test:12} {target:8} " + _brief(figures), file=sys.stderr, flush=True)
    finally:
        for process in (querier, admin):
            if process is not None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
                process.wait()
        rig.close()
        body_file.unlink()
        stream_file.unlink()
    _report(runs, args.tests)


def _wait_for_console(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"provproxy admin exited with {process.returncode}")
        try:
            if httpx.get(url + "/api/v1/events", timeout=1).status_code == 401:  # up, and refusing strangers
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("provproxy admin did not answer")


def _brief(figures: dict[str, float]) -> str:
    names = ("rps", "p50_ms", "p99_ms", "ttfb_p50_ms", "proxy_cpu_ms_per_req", "foreign_cores")
    return " ".join(f"{k}={figures[k]:.4g}" for k in names if k in figures)


def _report(runs: list[dict[str, Any]], tests: list[str]) -> None:
    print(f"\n{'test':12} {'figure':22} {'direct':>10} {'quiet':>10} {'queried':>10} {'queried/quiet':>14}")
    for test in tests:
        rows = [r for r in runs if r["test"] == test]
        for name in ("p50_ms", "p99_ms", "ttfb_p50_ms", "rps", "proxy_cpu_ms_per_req"):
            medians = {}
            for target in ("direct", "quiet", "queried"):
                values = [r["figures"][name] for r in rows if r["target"] == target and name in r["figures"]]
                medians[target] = statistics.median(values) if values else None
            if medians["quiet"] is None or medians["queried"] is None:
                continue
            ratio = medians["queried"] / medians["quiet"] if medians["quiet"] else float("nan")
            direct = f"{medians['direct']:10.3f}" if medians["direct"] is not None else f"{'-':>10}"
            print(f"{test:12} {name:22} {direct} {medians['quiet']:10.3f} {medians['queried']:10.3f} {ratio:14.2f}")


if __name__ == "__main__":
    main()
