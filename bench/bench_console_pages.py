"""Console page speed over a large store: p50/p95 server time of each web page (goal: p95 ≤ 300 ms
with 1,000,000 events on a 2-core machine).

    PYTHONPATH=. .venv/bin/python bench/bench_console_pages.py [--events 1000000] [--runs 20] [--postgres]

Loads the same synthetic events as bench_console.py, then requests each page from the console app
in process (routing, auth, store reads, template rendering; no network), signed in with an auditor
token so that the pages that show bodies and the triage queue are included.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from bench.bench_console import load_postgres, load_sqlite, timed
from proxy.config import Settings
from proxy.console.app import create_console_app
from proxy.store.admin_tokens import create_token
from proxy.store.console_session import read_session
from proxy.store.event_query import EventFilter, page_events
from proxy.store.migrate import upgrade


def pages(client: TestClient, some: dict[str, str]) -> dict[str, str]:
    return {
        "overview (7d)": "/",
        "overview (30d)": "/?since=30d",
        "overview (7d, by hour)": "/?since=7d&bucket=hour",
        "events (first page)": "/events",
        "events (user+decision, 7d)": f"/events?user={some['principal']}&decision=flag&since=7d",
        "events (search + vendor)": "/events?q=ticket-50000&vendor=anthropic",
        "one call (with body)": f"/events/{some['event']}",
        "session": f"/sessions/{some['session']}",
        "principal (30d)": f"/principals/{some['principal']}",
        "triage": "/triage",
        "policy": "/policy",
    }


def measure(url: str, workdir: Path, runs: int) -> dict[str, tuple[float, float]]:
    settings = Settings(
        database_url=url,
        key_salt="bench-salt",
        spool_dir=workdir / "spool",
        checkpoint_dir=workdir / "checkpoints",
        signing_key_file=workdir / "signing-key.pem",
    )
    app = create_console_app(settings)
    with read_session(app.state.engine) as session:
        token = create_token(session, app.state.salt, "bench", "auditor").token
        events, _ = page_events(session, EventFilter(limit=5000), None)
    # A call that kept its instruction (every tenth does) in a session well inside the month.
    kept = next(e for e in events[1000:] if int(e["seq"]) % 10 == 1)
    some = {"event": kept["id"], "session": kept["session_id"], "principal": kept["principal"]}
    results: dict[str, tuple[float, float]] = {}
    with TestClient(app, headers={"authorization": f"Bearer {token}"}) as client:
        for name, path in pages(client, some).items():

            def get(path: str = path) -> None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])

            call: Callable[[], None] = get
            results[name] = timed(call, runs)
    app.state.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL (the tests' fixture)")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        targets = [("sqlite", f"sqlite:///{workdir / 'bench.db'}", load_sqlite)]
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
                for name, (p50, p95) in measure(url, workdir, args.runs).items():
                    print(f"  {name:<28} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
        finally:
            if server is not None:
                server.destroy()


if __name__ == "__main__":
    main()
