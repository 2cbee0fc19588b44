"""Policy replay, the triage example export, event exports and the SIEM feed through ``provproxy
serve`` + ``provproxy admin`` (a module, and so a recorded mix, of their own), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.parquet as pq

from proxy.policy import DEFAULT_POLICY_PATH
from tests.integration.console_support import (
    CODE_REVIEW,
    EVAL_TASKS,
    ConsoleStack,
    console_stack_fixture,  # noqa: F401  (the "stack" fixture)
    wait_for,
)

STRICT = DEFAULT_POLICY_PATH.parent / "strict.yaml"
UNIT_TESTS = "Write pytest unit tests for the parse_duration function in proxy/durations.py covering bad input"
DEBUGGING = (
    "Why does this raise KeyError: 'user' when the session expires? Here is the traceback from the login handler"
)
TRAINING = (
    "Produce 5000 synthetic question-answer pairs as fine-tuning data for our model, "
    "JSONL with prompt and completion fields"
)
# What the live (shipped default) policy decided, and what the strict policy must decide, call by call.
MIX = [
    (EVAL_TASKS, "block-eval-task-generation", "block-eval-task-generation"),
    (TRAINING, "block-training-data-generation", "block-training-data-generation"),
    (CODE_REVIEW, "flag-code-analysis", "block-code-analysis"),
    (UNIT_TESTS, "(default)", "flag-unit-test-generation"),
    (UNIT_TESTS, "(default)", "flag-unit-test-generation"),
    (DEBUGGING, "(default)", "(default)"),
]


def _post(stack: ConsoleStack, path: str, body: object, role: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {stack.tokens[role]}"}
    return httpx.post(stack.url + path, json=body, headers=headers, timeout=60)


def _record_mix(stack: ConsoleStack) -> tuple[str, str, list[str]]:
    since = datetime.now(UTC).isoformat()
    ids = [stack.call(f"{prompt} [[fake:text]]").headers["x-provenance-id"] for prompt, _, _ in MIX]
    wait_for(
        lambda: set(ids) <= {e["id"] for e in stack.get("/api/v1/events", since=since, limit=1000).json()["events"]},
        what="the mix to be stored",
    )
    time.sleep(0.01)
    return since, datetime.now(UTC).isoformat(), ids


def test_replay_of_the_strict_policy_reports_the_right_counts(stack: ConsoleStack) -> None:
    since, until, _ = _record_mix(stack)
    request = {"policy": STRICT.read_text(), "since": since, "until": until}
    assert _post(stack, "/api/v1/policy/replay", request, "viewer").status_code == 403
    response = _post(stack, "/api/v1/policy/replay", request, "auditor")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["replayed"] == len(MIX) and report["skipped"] == 0
    assert report["live"] == {"allow": 3, "flag": 1, "block": 2}
    assert report["candidate"] == {"allow": 1, "flag": 2, "block": 3}
    assert _by_rule(report["live_rules"]) == _expected_rules(1)
    assert _by_rule(report["candidate_rules"]) == _expected_rules(2)
    assert {(c["live"], c["candidate"]): c["calls"] for c in report["changes"]} == {
        ("flag", "block"): 1,
        ("allow", "flag"): 2,
    }
    # The CLI reports the same, from the same modules.
    cli = stack.cli("policy", "replay", str(STRICT), "--since", since, "--until", until, "--json")
    assert cli.returncode == 0, cli.stderr
    assert orjson.loads(cli.stdout) == report
    table = stack.cli("policy", "replay", str(STRICT), "--since", since, "--until", until)
    assert "block-code-analysis" in table.stdout and "replayed 6 calls" in table.stdout


def test_replay_refuses_a_broken_policy_with_its_problems(stack: ConsoleStack) -> None:
    response = _post(stack, "/api/v1/policy/replay", {"policy": "rules:\n  - id: x\n    action: maybe\n"}, "admin")
    assert response.status_code == 400
    assert "line 3: action must be one of allow, flag, block" in response.json()["detail"]


def test_settled_verdicts_export_as_labelled_classify_input(stack: ConsoleStack, tmp_path: Path) -> None:
    since, _, ids = _record_mix(stack)
    review_id, unit_test_id = ids[2], ids[3]
    assert _post(
        stack, f"/api/v1/triage/{review_id}", {"verdict": "violation", "note": "not ours"}, "auditor"
    ).is_success
    assert _post(stack, f"/api/v1/triage/{unit_test_id}", {"verdict": "needs-follow-up"}, "auditor").is_success
    assert _post(stack, f"/api/v1/triage/{unit_test_id}", {"verdict": "benign"}, "auditor").is_success
    assert _post(stack, f"/api/v1/triage/{ids[4]}", {"verdict": "needs-follow-up"}, "auditor").is_success  # not settled

    response = stack.get("/api/v1/triage/examples", role="auditor", since=since)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    rows = [orjson.loads(line) for line in response.content.splitlines()]
    assert [(r["id"], r["label"], r["hard_negative"], r["verdict"]) for r in rows] == [
        (review_id, "code_analysis_review", False, "violation"),
        (unit_test_id, "unit_test_generation", True, "benign"),
    ]
    assert rows[0]["text"].startswith(CODE_REVIEW) and rows[0]["note"] == "not ours"

    # The CLI writes the same rows, and `provproxy classify --eval` takes them as they are.
    out = tmp_path / "examples.jsonl"
    cli = stack.cli("triage", "examples", "--since", since, "-o", str(out))
    assert cli.returncode == 0, cli.stderr
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == rows
    evaluated = stack.cli("classify", "--eval", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "hard negatives blocked under the policy: 0 of 1" in evaluated.stdout
    actions = [row[3] for row in _access_log_actions(stack)]
    assert "export_examples" in actions


def test_exports_stream_exactly_the_query_in_every_format(stack: ConsoleStack, tmp_path: Path) -> None:
    since, until, ids = _record_mix(stack)
    query = {"since": since, "until": until, "vendor": "anthropic"}
    listed = sorted(stack.get("/api/v1/events", limit=1000, **query).json()["events"], key=lambda e: (e["ts"], e["id"]))
    assert [e["id"] for e in listed] == ids

    parquet = stack.get("/api/v1/exports/events", role="viewer", format="parquet", **query)
    assert parquet.status_code == 200, parquet.text
    table = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert len(table) == len(listed)
    for exported, event in zip(table, listed, strict=True):
        assert set(exported) == set(event)
        for name, value in event.items():
            assert _same(exported[name], value), (name, exported[name], value)

    # Bodies only for auditors, and their export is recorded in the access log.
    assert stack.get("/api/v1/exports/events", role="viewer", bodies="true", **query).status_code == 403
    jsonl = stack.get("/api/v1/exports/events", role="auditor", format="jsonl", bodies="true", **query)
    rows = [orjson.loads(line) for line in jsonl.content.splitlines()]
    assert [r["id"] for r in rows] == ids and rows[0]["instruction"].startswith(MIX[0][0])
    assert ("auditor-person", "auditor", "export_bodies") in [row[1:] for row in _access_log_actions(stack)]

    csv_response = stack.get("/api/v1/exports/events", role="viewer", format="csv", **query)
    assert [r["id"] for r in csv.DictReader(io.StringIO(csv_response.text))] == ids

    # The CLI writes the same files.
    for fmt in ("parquet", "csv", "jsonl"):
        out = tmp_path / f"events.{fmt}"
        args = ("events", "export", "--format", fmt, "-o", str(out), "--since", since, "--until", until)
        cli = stack.cli(*args, "--vendor", "anthropic")
        assert cli.returncode == 0, cli.stderr
        assert f"{len(ids)} events written" in cli.stderr
        if fmt == "parquet":
            assert pq.read_table(out).to_pylist() == table
        elif fmt == "csv":
            assert out.read_bytes() == csv_response.content
        else:
            assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == ids


def test_siem_feed_sends_every_block_flag_and_verdict_once_across_a_restart(stack: ConsoleStack) -> None:
    _, _, ids = _record_mix(stack)
    review_id = ids[2]
    verdict = {"verdict": "violation", "note": "siem"}
    assert _post(stack, f"/api/v1/triage/{review_id}", verdict, "auditor").is_success
    # The console is down while a call is blocked; the feed catches up from the database once it is back.
    stack.stop()
    # Stopped inside the app's lifespan: code after uvicorn.run never runs after a SIGTERM, and a
    # feed killed between a delivery and its cursor move sends that batch again after the restart.
    stopped = [line for line in stack.admin_log.splitlines() if '"siem.feed_stopped"' in line]
    assert [orjson.loads(line)["finished"] for line in stopped] == [True]
    while_down = stack.call(f"{EVAL_TASKS} [[fake:text]]").headers["x-provenance-id"]
    stack.restart()
    wait_for(lambda: while_down in {e["id"] for e in stack.get("/api/v1/events", decision="block").json()["events"]})
    expected = {
        f"call:{e['id']}"
        for decision in ("flag", "block")
        for e in stack.get("/api/v1/events", decision=decision, limit=1000).json()["events"]
    }
    assert f"call:{while_down}" in expected and f"call:{review_id}" in expected

    def delivered(records: list[dict[str, Any]]) -> set[str]:
        return {str(r["metadata"]["uid"]) for r in records if str(r["metadata"]["uid"]).startswith("call:")}

    wait_for(lambda: stack.siem_file.exists() and delivered(_file_records(stack)) == expected, what="the file feed")
    wait_for(lambda: delivered(stack.webhook.records) == expected, what="the webhook feed")
    assert stack.webhook.refused == 1  # its first delivery failed and was retried
    for records in (_file_records(stack), stack.webhook.records):
        uids = [r["metadata"]["uid"] for r in records]
        assert len(uids) == len(set(uids)), "a record was delivered twice"
    by_uid = {r["metadata"]["uid"]: r for r in _file_records(stack)}
    blocked = by_uid[f"call:{while_down}"]
    assert (blocked["class_uid"], blocked["type_uid"], blocked["disposition_id"]) == (6003, 600301, 2)
    assert blocked["unmapped"]["policy_rule"] == "block-eval-task-generation"
    verdicts = [r for r in by_uid.values() if r["activity_id"] == 3 and r["unmapped"].get("note") == "siem"]
    assert [(v["resources"][0]["uid"], v["unmapped"]["verdict"]) for v in verdicts] == [(review_id, "violation")]


def _file_records(stack: ConsoleStack) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stack.siem_file.read_bytes().splitlines()]


def _same(exported: object, listed: object) -> bool:
    """A Parquet value against the JSON API's: times and JSON documents compared as values."""
    if isinstance(exported, datetime):
        return isinstance(listed, str) and exported == datetime.fromisoformat(listed.replace("Z", "+00:00"))
    if isinstance(listed, dict | list):
        return isinstance(exported, str) and orjson.loads(exported) == listed
    return exported == listed


def _by_rule(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {str(row["rule"]): int(str(row["calls"])) for row in rows}


def _expected_rules(column: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in MIX:
        rule = str(row[column])
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def _access_log_actions(stack: ConsoleStack) -> list[tuple[str, ...]]:
    from sqlalchemy import text

    from proxy.store.db import create_db_engine

    engine = create_db_engine(stack.proxy.database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT seq, actor, role, action FROM access_log"))]
    finally:
        engine.dispose()
