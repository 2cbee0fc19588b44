"""Search, sessions, principals, statistics and the triage queue through ``provproxy serve`` +
``provproxy admin`` (a module of its own: it purges bodies, which the other console tests read)."""

from __future__ import annotations

import uuid

import httpx
import orjson

from tests.integration.console_support import (
    CODE_REVIEW,
    ConsoleStack,
    console_stack_fixture,  # noqa: F401  (the "stack" fixture)
    wait_for,
)


def _ids(response_json: dict[str, list[dict[str, str]]]) -> list[str]:
    return [e["id"] for e in response_json["events"]]


def test_a_session_comes_back_whole_and_in_order(stack: ConsoleStack) -> None:
    session = str(uuid.uuid4())
    sent = [stack.call(f"Step {i}: rename the helper. [[fake:text]]", session=session) for i in range(3)]
    ids = [r.headers["x-provenance-id"] for r in sent]
    view = wait_for(
        lambda: (
            (r := stack.get(f"/api/v1/sessions/{session}", role="viewer")).status_code == 200
            and len(r.json()["events"]) == 3
            and r.json()
        ),
        what="the session",
    )
    assert [e["id"] for e in view["events"]] == ids


def test_principal_activity_and_stats_add_up(stack: ConsoleStack) -> None:
    event_id = stack.call("Explain this stack trace. [[fake:text]]").headers["x-provenance-id"]
    # Wait for this very call: counting while the loader still inserts it compares two moments.
    events = wait_for(
        lambda: [e for e in stack.get("/api/v1/events", limit=1000).json()["events"] if e["id"] == event_id],
        what="the call's event",
    )
    principal = events[0]["principal"]
    stats = stack.get("/api/v1/stats", role="viewer", since="1d", bucket="hour").json()
    every = stack.get("/api/v1/events", since="1d", limit=1000).json()["events"]
    assert stats["total"]["events"] == len(every)
    for dimension in ("label", "decision", "tool", "vendor", "team", "over_time"):
        assert sum(m["events"] for m in stats[dimension]) == len(every), dimension
    assert stats["total"]["output_tokens"] == sum(e["output_tokens"] or 0 for e in every)
    person = stack.get(f"/api/v1/principals/{principal}", role="viewer").json()
    assert person["activity"]["total"]["events"] == sum(1 for e in every if e["principal"] == principal)
    assert all(e["principal"] == principal for e in person["recent"])


def test_search_finds_a_fresh_instruction_and_forgets_it_after_purge(stack: ConsoleStack) -> None:
    leaked = f"sk-live-{uuid.uuid4().hex[:16]}"
    response = stack.call(f"Why does the deploy fail with key {leaked} set? [[fake:text]]")
    event_id = response.headers["x-provenance-id"]
    found = wait_for(lambda: _ids(stack.get("/api/v1/events", q=leaked).json()), what="the search hit")
    assert found == [event_id]
    # Combined with filters, and from the CLI (the same query module).
    assert _ids(stack.get("/api/v1/events", q=leaked, vendor="anthropic").json()) == [event_id]
    assert _ids(stack.get("/api/v1/events", q=leaked, vendor="openai").json()) == []
    cli = stack.cli("events", "--text", leaked, "--json")
    assert cli.returncode == 0, cli.stderr
    assert [e["id"] for e in orjson.loads(cli.stdout)] == [event_id]
    # An operator SQL/FTS syntax in the text is just text.
    assert stack.get("/api/v1/events", q='" OR 1=1 --').status_code == 200
    assert stack.cli("purge", "--days", "0").returncode == 0
    assert _ids(stack.get("/api/v1/events", q=leaked).json()) == []
    assert [e["id"] for e in orjson.loads(stack.cli("events", "--text", leaked, "--json").stdout)] == []


def test_triage_appends_a_verdict_and_settles_the_flag(stack: ConsoleStack) -> None:
    flagged = stack.call(f"{CODE_REVIEW} [[fake:text]]")
    event_id = flagged.headers["x-provenance-id"]
    queue = wait_for(
        lambda: [e["id"] for e in stack.get("/api/v1/triage", role="auditor").json() if e["id"] == event_id],
        what="the flag in the queue",
    )
    assert queue == [event_id]
    verdict = {"verdict": "needs-follow-up", "note": "ask the team"}
    headers = {"authorization": f"Bearer {stack.tokens['auditor']}"}
    first = httpx.post(f"{stack.url}/api/v1/triage/{event_id}", json=verdict, headers=headers)
    assert first.status_code == 201
    assert event_id in [e["id"] for e in stack.get("/api/v1/triage", role="auditor").json()]
    second = httpx.post(f"{stack.url}/api/v1/triage/{event_id}", json={"verdict": "benign"}, headers=headers)
    assert [v["verdict"] for v in second.json()] == ["needs-follow-up", "benign"]
    assert event_id not in [e["id"] for e in stack.get("/api/v1/triage", role="auditor").json()]
    detail = stack.get(f"/api/v1/events/{event_id}", role="auditor").json()
    assert detail["decision"] == "flag"  # the recorded decision is never overwritten
    assert [v["verdict"] for v in detail["verdicts"]] == ["needs-follow-up", "benign"]
    bad = httpx.post(f"{stack.url}/api/v1/triage/{event_id}", json={"verdict": "fine"}, headers=headers)
    assert bad.status_code == 422
