"""Console page speed over a large store: p50/p95 server time of each web page (goal: p95 ≤ 300 ms
with 1,000,000 events on a 2-core machine).

    PYTHONPATH=. .venv/bin/python bench/bench_console_pages.py [--events 1000000] [--runs 20] [--postgres]

Loads the same synthetic events as bench_console.py, then requests each page from the console app
in process (routing, auth, store reads, template rendering; no network), signed in with an auditor
token so that the pages that show bodies and the triage queue are included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from bench.bench_console import run_on_loaded_databases, timed
from proxy.config import Settings
from proxy.console.app import create_console_app
from proxy.store.admin_tokens import create_token
from proxy.store.console_session import read_session
from proxy.store.event_query import EventFilter, page_events


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
    run_on_loaded_databases(
        __doc__.split("\n\n")[0], lambda args: lambda url, workdir: measure(url, workdir, args.runs)
    )


if __name__ == "__main__":
    main()
