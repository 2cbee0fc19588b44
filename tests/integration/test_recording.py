"""Every call attributed, recorded and tagged — checked in the database the proxy wrote."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from proxy.provenance.header import verify_header_signature
from proxy.provenance.signing_keys import load_keyring
from tests.support.fake_vendor import FakeVendor
from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess

ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-recording-test-0001"}
MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
EVAL_TASKS = (
    "Generate 200 SWE-bench style evaluation tasks for our code model: for each, a problem statement, "
    "a hidden test suite and a grader script, written as JSONL to evals/tasks.jsonl"
)


def _post(proxy: ProxyProcess, path: str, body: dict[str, object], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(proxy.url + path, content=json.dumps(body).encode(), headers=headers, timeout=30)


CALLS: list[tuple[str, dict[str, str], dict[str, object], str, str, bool]] = [
    # (path, headers, body, vendor, endpoint, stream)
    ("/v1/messages", ANTHROPIC_HEADERS, MESSAGES, "anthropic", "messages", False),
    ("/anthropic/v1/messages", ANTHROPIC_HEADERS, {**MESSAGES, "stream": True}, "anthropic", "messages", True),
    (
        "/openai/v1/responses",
        {"authorization": "Bearer sk-openai-recording-test"},
        {"model": "gpt-5", "input": "hi", "stream": True},
        "openai",
        "responses",
        True,
    ),
    (
        "/v1/chat/completions",
        {"authorization": "Bearer sk-openai-recording-test"},
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        "openai",
        "chat.completions",
        True,
    ),
    (
        "/gemini/v1beta/models/gemini-fake-pro:streamGenerateContent?alt=sse",
        {"x-goog-api-key": "gemini-recording-test-key"},
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "gemini",
        "streamGenerateContent",
        True,
    ),
    (
        "/v1/models/gemini-fake-pro:generateContent?key=gemini-query-key-secret",
        {},
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "gemini",
        "generateContent",
        False,
    ),
]


@pytest.mark.parametrize(("path", "headers", "body", "vendor", "endpoint", "stream"), CALLS)
def test_each_call_is_recorded_with_what_the_vendor_answered(
    shared_proxy: ProxyProcess,
    fake: FakeVendor,
    path: str,
    headers: dict[str, str],
    body: dict[str, object],
    vendor: str,
    endpoint: str,
    stream: bool,
) -> None:
    raw = json.dumps(body).encode()
    response = httpx.post(shared_proxy.url + path, content=raw, headers=headers, timeout=30)
    assert response.status_code == 200
    event = shared_proxy.event(response.headers["x-provenance-id"])
    assert (event["vendor"], event["endpoint"], event["stream"]) == (vendor, endpoint, stream)
    assert event["outcome"] == "completed" and event["status"] == 200 and event["upstream_status"] == 200
    assert event["request_sha256"] == hashlib.sha256(raw).hexdigest()
    # The response digest covers the upstream's bytes, not the proxy's end-of-stream tag.
    tag = response.content.rfind(b": provenance ")
    relayed = response.content[:tag] if tag >= 0 else response.content
    assert event["response_sha256"] == hashlib.sha256(relayed).hexdigest()
    assert event["input_tokens"] and event["output_tokens"]
    assert event["latency_ms"] > 0 and event["ttfb_ms"] > 0
    assert event["model"]
    assert event["decision"] in ("allow", "flag") and event["use_label"]
    assert event["seq"] >= 1 and len(event["record_hash"]) == 64
    assert "?" not in event["path"]  # query strings can carry keys
    completion = event["body"]["completion_text"]
    assert completion == f"Hello from the fake {vendor} upstream."


def test_stream_ends_with_the_record_hash_of_its_event(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    response = _post(shared_proxy, "/v1/messages", {**MESSAGES, "stream": True}, ANTHROPIC_HEADERS)
    last = response.text.rstrip("\n").splitlines()[-1]
    assert last.startswith(": provenance id=")
    fields = dict(part.split("=", 1) for part in last[2:].split()[1:])
    assert fields["id"] == response.headers["x-provenance-id"]
    event = shared_proxy.event(fields["id"])
    assert int(fields["seq"]) == event["seq"]
    assert fields["record-hash"] == "sha256:" + event["record_hash"]
    # The relayed stream minus that comment is exactly what the upstream sent.
    direct = httpx.post(fake.url + "/v1/messages", json={**MESSAGES, "stream": True}, headers=ANTHROPIC_HEADERS)
    strip = [ln for ln in response.text.splitlines() if not ln.startswith(": provenance")]
    assert [ln for ln in strip if ln.startswith("event:")] == [
        ln for ln in direct.text.splitlines() if ln.startswith("event:")
    ]


def test_header_signature_verifies_with_the_proxy_public_key(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    raw = json.dumps(MESSAGES).encode()
    response = httpx.post(shared_proxy.url + "/v1/messages", content=raw, headers=ANTHROPIC_HEADERS)
    keyring = load_keyring(Path(shared_proxy.env["PROVPROXY_SIGNING_KEY_FILE"]))
    signature = response.headers["x-provenance-signature"]
    event_id = response.headers["x-provenance-id"]
    request_sha = hashlib.sha256(raw).hexdigest()
    assert verify_header_signature(signature, event_id, request_sha, keyring)
    assert not verify_header_signature(signature, event_id, "0" * 64, keyring)


def test_tool_version_and_session_are_identified(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    session = "7efda166-620e-4ccf-88fc-407dbab6b149"
    headers = {
        **ANTHROPIC_HEADERS,
        "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
        "x-app": "cli",
        "x-claude-code-session-id": session,
    }
    response = _post(shared_proxy, "/v1/messages?beta=true", MESSAGES, headers)
    event = shared_proxy.event(response.headers["x-provenance-id"])
    assert (event["tool"], event["tool_version"], event["session_id"]) == ("claude-code", "2.1.197", session)
    codex = _post(
        shared_proxy,
        "/v1/responses",
        {"model": "gpt-5", "input": "hi"},
        {
            "authorization": "Bearer sk-x",
            "originator": "codex_exec",
            "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
            "session-id": "01a21397-2f63-7b30-b44c-f424c9c431cc",
        },
    )
    event = shared_proxy.event(codex.headers["x-provenance-id"])
    assert (event["tool"], event["tool_version"], event["session_id"]) == (
        "codex-cli",
        "0.169.0",
        "01a21397-2f63-7b30-b44c-f424c9c431cc",
    )


def _provproxy(proxy: ProxyProcess, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        env=proxy.env,
        cwd=proxy.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_proxy_issued_keys_identify_the_engineer_and_carry_the_org_key(
    start_proxy: ProxyFactory, fake: FakeVendor
) -> None:
    org_key = "sk-ant-org-key-never-seen-by-engineers"
    proxy = start_proxy(anthropic_api_key=org_key, key_cache_ttl_s="0.2")
    created = _provproxy(proxy, "keys", "create", "--user", "alice", "--team", "payments")
    key = next(word for word in created.split() if word.startswith("pp-"))
    headers = {"anthropic-version": "2023-06-01", "x-api-key": key}
    deadline = time.monotonic() + 10
    while (response := _post(proxy, "/v1/messages", MESSAGES, headers)).status_code == 401:
        assert time.monotonic() < deadline, "a new key was not picked up"
        time.sleep(0.1)
    assert response.status_code == 200
    [seen] = [r for r in fake.requests if r.path == "/v1/messages"]
    assert seen.headers["x-api-key"] == org_key  # the engineer's key never leaves the proxy
    event = proxy.event(response.headers["x-provenance-id"])
    assert (event["principal"], event["team"], event["principal_kind"]) == ("alice", "payments", "proxy_key")

    _provproxy(proxy, "keys", "revoke", key[:8])  # by the prefix `keys list` shows
    deadline = time.monotonic() + 10
    while (refused := _post(proxy, "/v1/messages", MESSAGES, headers)).status_code == 200:
        assert time.monotonic() < deadline, "a revoked key kept working"
        time.sleep(0.1)
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    unknown = _post(proxy, "/v1/messages", MESSAGES, {**headers, "x-api-key": "pp-" + "x" * 32})
    assert unknown.status_code == 401


def test_no_secret_is_stored_or_logged(start_proxy: ProxyFactory, fake: FakeVendor) -> None:
    secrets = {
        "anthropic": "sk-ant-api03-SECRET-anthropic-0123456789",
        "openai": "sk-proj-SECRET-openai-0123456789",
        "gemini_header": "AIzaSECRETgeminiHeader0123456789",
        "gemini_query": "AIzaSECRETgeminiQuery0123456789",
        "org": "sk-ant-api03-SECRET-org-key-0123456789",
    }
    proxy = start_proxy(anthropic_api_key=secrets["org"])
    key_line = _provproxy(proxy, "keys", "create", "--user", "bob")
    proxy_key = next(word for word in key_line.split() if word.startswith("pp-"))
    time.sleep(2.5)  # the key cache refreshes every 2 s
    calls = [
        ("/v1/messages", {"anthropic-version": "2023-06-01", "x-api-key": secrets["anthropic"]}, MESSAGES),
        ("/v1/messages", {"anthropic-version": "2023-06-01", "authorization": f"Bearer {proxy_key}"}, MESSAGES),
        ("/v1/chat/completions", {"authorization": f"Bearer {secrets['openai']}"}, CALLS[3][2]),
        ("/v1beta/models/g:generateContent", {"x-goog-api-key": secrets["gemini_header"]}, CALLS[5][2]),
        (f"/v1beta/models/g:generateContent?key={secrets['gemini_query']}", {}, CALLS[5][2]),
    ]
    ids = []
    for path, headers, body in calls:
        response = _post(proxy, path, body, headers)
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-provenance-id"])
    bad = _post(proxy, "/v1/messages", MESSAGES, {"x-api-key": "pp-" + "S" * 32})
    assert bad.status_code == 401
    events = [proxy.event(i) for i in ids]
    assert events[0]["principal"].startswith("vk:") and events[1]["principal"] == "bob"
    proxy.stop()  # flush everything to disk
    stored = b""
    for file in proxy.workdir.rglob("*"):
        if file.is_file():
            stored += file.read_bytes()
    for name, secret in [*secrets.items(), ("proxy key", proxy_key), ("bad key", "S" * 32)]:
        assert secret.encode() not in stored, f"{name} found in the database, spool, logs or checkpoints"


def test_blocked_calls_never_reach_the_vendor_and_are_recorded(shared_proxy: ProxyProcess, fake: FakeVendor) -> None:
    eval_request = {**MESSAGES, "messages": [{"role": "user", "content": EVAL_TASKS}]}
    anthropic = _post(shared_proxy, "/v1/messages", eval_request, ANTHROPIC_HEADERS)
    assert anthropic.status_code == 400
    assert anthropic.headers["x-should-retry"] == "false"
    error = anthropic.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert 'rule "block-eval-task-generation"' in error["message"] and "appeal" in error["message"]
    openai = _post(
        shared_proxy,
        "/v1/responses",
        {"model": "gpt-5", "input": [{"role": "user", "content": EVAL_TASKS}], "stream": True},
        {"authorization": "Bearer sk-x"},
    )
    assert openai.status_code == 400 and "block-eval-task-generation" in openai.json()["error"]["message"]
    gemini = _post(
        shared_proxy,
        "/v1beta/models/g:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": EVAL_TASKS}]}]},
        {"x-goog-api-key": "g"},
    )
    assert gemini.status_code == 403 and gemini.json()["error"]["status"] == "PERMISSION_DENIED"
    assert fake.count() == 0
    for response in (anthropic, openai, gemini):
        event = shared_proxy.event(response.headers["x-provenance-id"])
        assert event["outcome"] == "blocked" and event["decision"] == "block"
        assert event["use_label"] == "eval_task_generation"
        assert event["policy_rule"] == "block-eval-task-generation"
        assert event["rule_hits"] and event["scores"]["eval_task_generation"] > 0.5
        assert event["body"]["instruction"] == EVAL_TASKS
    ordinary = _post(
        shared_proxy,
        "/v1/messages",
        {**MESSAGES, "messages": [{"role": "user", "content": "Write pytest unit tests for the grader module"}]},
        ANTHROPIC_HEADERS,
    )
    assert ordinary.status_code == 200 and fake.count() == 1


def test_metadata_only_retention_keeps_no_bodies(start_proxy: ProxyFactory, fake: FakeVendor) -> None:
    proxy = start_proxy(retention="metadata-only")
    response = _post(proxy, "/v1/messages", MESSAGES, ANTHROPIC_HEADERS)
    event = proxy.event(response.headers["x-provenance-id"])
    assert event["body"] is None and event["request_sha256"]


def test_the_benchmark_baseline_without_recording_still_tags_and_signs(
    start_proxy: ProxyFactory, fake: FakeVendor
) -> None:
    """``PROVPROXY_RECORD=false`` (bench_proxy's rec=off) leaves out the write path only."""
    proxy = start_proxy(record="false")
    raw = json.dumps(MESSAGES).encode()
    response = httpx.post(proxy.url + "/v1/messages", content=raw, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 200
    keyring = load_keyring(Path(proxy.env["PROVPROXY_SIGNING_KEY_FILE"]))
    request_sha = hashlib.sha256(raw).hexdigest()
    assert verify_header_signature(
        response.headers["x-provenance-signature"], response.headers["x-provenance-id"], request_sha, keyring
    )
    assert proxy.events(at_least=1, timeout=1.0) == []


def test_recorded_calls_verify_and_export_as_attestations(start_proxy: ProxyFactory, fake: FakeVendor) -> None:
    proxy = start_proxy(checkpoint_every_events="3", checkpoint_every_s="0.2")
    ids = [_post(proxy, "/v1/messages", MESSAGES, ANTHROPIC_HEADERS).headers["x-provenance-id"] for _ in range(4)]
    proxy.event(ids[-1])
    proxy.stop()  # the checkpointer signs a final checkpoint at shutdown
    verify = subprocess.run(
        [sys.executable, "-m", "proxy", "verify"], env=proxy.env, cwd=proxy.workdir, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    attestation = proxy.workdir / "attestation.json"
    _provproxy(proxy, "provenance", "export", ids[1], "-o", str(attestation))
    public = proxy.workdir / "public.pem"
    public.write_text(_provproxy(proxy, "keys", "public"))
    _provproxy(proxy, "provenance", "verify", str(attestation), "--public-key", str(public))
    tampered = bytearray(attestation.read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    attestation.write_bytes(bytes(tampered))
    check = subprocess.run(
        [sys.executable, "-m", "proxy", "provenance", "verify", str(attestation), "--public-key", str(public)],
        env=proxy.env,
        capture_output=True,
        text=True,
    )
    assert check.returncode != 0
