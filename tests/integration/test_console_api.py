"""The console API through real processes: ``provproxy serve`` records, ``provproxy admin`` answers.

Run on SQLite and on the PostgreSQL fixture."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from proxy.store.db import create_db_engine
from tests.integration.console_support import (
    CODE_REVIEW,
    EVAL_TASKS,
    SSO_HEADER,
    TRUSTED_PEER,
    ConsoleStack,
    access_log_rows,
    console_stack_fixture,  # noqa: F401  (the "stack" fixture)
    local_client,
    wait_for,
)

# (method, path, JSON body, lowest role allowed). Ids that do not exist: a permitted caller gets 404.
MISSING = "00000000-0000-7000-8000-000000000000"
ROUTES = [
    ("GET", "/api/v1/openapi.json", None, "viewer"),
    ("GET", "/api/v1/events", None, "viewer"),
    ("GET", "/api/v1/stats", None, "viewer"),
    ("GET", f"/api/v1/sessions/{MISSING}", None, "viewer"),
    ("GET", "/api/v1/principals/nobody", None, "viewer"),
    ("GET", "/api/v1/exports/events", None, "viewer"),
    ("GET", f"/api/v1/events/{MISSING}", None, "auditor"),
    ("GET", "/api/v1/triage", None, "auditor"),
    ("POST", f"/api/v1/triage/{MISSING}", {"verdict": "benign"}, "auditor"),
    ("GET", "/api/v1/triage/examples", None, "auditor"),
    ("POST", "/api/v1/policy/replay", {"policy": "rules: []\n", "since": "1h"}, "auditor"),
    ("GET", "/api/v1/admin/tokens", None, "admin"),
    ("POST", "/api/v1/admin/tokens", {"name": "made-by-test", "role": "viewer"}, "admin"),
    ("DELETE", "/api/v1/admin/tokens/nosuchtoken", None, "admin"),
    ("GET", "/api/v1/admin/keys", None, "admin"),
    ("POST", "/api/v1/admin/keys", {"user": "carol"}, "admin"),
    ("DELETE", "/api/v1/admin/keys/nosuchkey", None, "admin"),
]
RANK = {"viewer": 1, "auditor": 2, "admin": 3}
# Credential → the role it carries, or None when the console must not believe it (401).
CREDENTIALS = {
    "no token": None,
    "wrong token": None,
    "revoked token": None,
    "expired token": None,
    "sso header from an untrusted address": None,
    "sso viewer from the trusted proxy": "viewer",
    "viewer token": "viewer",
    "auditor token": "auditor",
    "admin token": "admin",
}


def _send(stack: ConsoleStack, credential: str, method: str, path: str, body: object) -> httpx.Response:
    headers: dict[str, str] = {}
    client = httpx.Client(timeout=30)
    if credential == "no token":
        pass
    elif credential == "wrong token":
        headers["authorization"] = "Bearer ppa-" + "x" * 43
    elif credential.endswith(" token"):
        headers["authorization"] = f"Bearer {stack.tokens[credential.removesuffix(' token')]}"
    elif credential.startswith("sso"):
        headers[SSO_HEADER] = "sso-viewer@example.com"
        if "trusted proxy" in credential:
            client = local_client(TRUSTED_PEER)
    with client:
        return client.request(method, stack.url + path, headers=headers, json=body)


@pytest.mark.parametrize("credential", list(CREDENTIALS))
def test_every_route_admits_exactly_the_roles_it_should(stack: ConsoleStack, credential: str) -> None:
    role = CREDENTIALS[credential]
    for method, path, body, lowest in ROUTES:
        response = _send(stack, credential, method, path, body)
        if role is None:
            expected = 401
        elif RANK[role] < RANK[lowest]:
            expected = 403
        else:
            expected = None
        where = f"{credential}: {method} {path} → {response.status_code} {response.text[:200]}"
        if expected is None:
            assert response.status_code < 500 and response.status_code not in (401, 403), where
        else:
            assert response.status_code == expected, where
            # Neither answer says which part was wrong: one message per status, whatever the cause.
            assert response.json() == {"detail": "authentication required" if expected == 401 else "not permitted"}


def test_events_answer_every_filter_and_body_reads_are_logged(stack: ConsoleStack) -> None:
    marker = f"marker-{uuid.uuid4().hex[:12]}"
    allowed = stack.call(f"Fix the failing build in {marker} please. [[fake:text chunks=2]]")
    flagged = stack.call(f"{CODE_REVIEW} {marker}")
    blocked = stack.call(EVAL_TASKS)
    assert allowed.status_code == 200 and flagged.status_code == 200 and blocked.status_code == 400
    ids = {r.headers["x-provenance-id"] for r in (allowed, flagged, blocked)}
    wait_for(lambda: ids <= {e["id"] for e in stack.get("/api/v1/events", limit=1000).json()["events"]}, what="load")
    event = next(
        e for e in stack.get("/api/v1/events").json()["events"] if e["id"] == allowed.headers["x-provenance-id"]
    )
    filters = {
        "user": event["principal"],
        "team": event["team"],
        "tool": event["tool"],
        "vendor": event["vendor"],
        "model": event["model"],
        "session": event["session_id"],
        "outcome": event["outcome"],
        "decision": event["decision"],
        "label": event["use_label"],
        "since": "1h",
    }
    for name, value in filters.items():
        if value is None:
            continue
        found = stack.get("/api/v1/events", **{name: value}, limit=1000).json()["events"]
        assert event["id"] in {e["id"] for e in found}, name
        assert stack.get("/api/v1/events", **{name: value}, until="2000-01-01").json()["events"] == [], name
    blocked_events = stack.get("/api/v1/events", decision="block", policy_rule="block-eval-task-generation").json()
    assert blocked.headers["x-provenance-id"] in {e["id"] for e in blocked_events["events"]}
    assert all(e["decision"] == "block" for e in blocked_events["events"])

    detail = stack.get(f"/api/v1/events/{event['id']}", role="auditor")
    assert detail.status_code == 200 and marker in detail.json()["body"]["instruction"]
    log = access_log_rows(stack, event["id"])
    assert [(row[0], row[1]) for row in log] == [("auditor-person", "read_body")]


def test_verify_catches_an_edited_access_log_row(stack: ConsoleStack) -> None:
    stack.get("/api/v1/events/" + MISSING, role="auditor")  # a 404 reads no body and logs nothing
    event_id = stack.get("/api/v1/events", limit=1).json()["events"][0]["id"]
    assert stack.get(f"/api/v1/events/{event_id}", role="auditor").status_code == 200
    clean = stack.cli("verify", "--full")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    engine = create_db_engine(stack.env["PROVPROXY_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            seq = conn.execute(text("SELECT MAX(seq) FROM access_log WHERE action = 'read_body'")).scalar()
            conn.execute(text("UPDATE access_log SET actor = 'someone-else' WHERE seq = :seq"), {"seq": seq})
        tampered = stack.cli("verify", "--full")
        assert tampered.returncode == 1, tampered.stdout + tampered.stderr
        assert f"TAMPERED access log entry seq {seq}" in tampered.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE access_log SET actor = 'auditor-person' WHERE seq = :seq"), {"seq": seq})
        engine.dispose()


def test_pages_neither_repeat_nor_miss_rows_while_calls_are_recorded(stack: ConsoleStack) -> None:
    for i in range(12):
        assert stack.call(f"Explain the retry loop number {i}. [[fake:text]]").status_code == 200
    before = wait_for(lambda: _all_ids(stack) if len(_all_ids(stack)) >= 12 else None, what="events")
    stop = threading.Event()

    def keep_calling() -> None:
        while not stop.is_set():
            stack.call("Summarise the change log. [[fake:text]]")

    writer = threading.Thread(target=keep_calling, daemon=True)
    writer.start()
    try:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = stack.get("/api/v1/events", **params).json()
            seen += [e["id"] for e in page["events"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        writer.join(timeout=30)
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert before <= set(seen), "a row was missed"


def test_bad_cursor_and_injection_attempts_are_refused(stack: ConsoleStack) -> None:
    assert stack.get("/api/v1/events", cursor="bm90LWEtY3Vyc29y").status_code == 400
    for attempt in ("' OR 1=1 --", "../../etc/passwd", 'x"; DROP TABLE events; --', "..", "a/../b"):
        for name in ("user", "team", "tool", "model", "session", "label", "policy_rule", "since", "until"):
            response = stack.get("/api/v1/events", **{name: attempt})
            assert response.status_code == 422, (name, attempt, response.status_code)
    assert stack.get("/api/v1/events", vendor="anthropic' --").status_code == 422


def _all_ids(stack: ConsoleStack) -> set[str]:
    return {e["id"] for e in stack.get("/api/v1/events", limit=1000).json()["events"]}
