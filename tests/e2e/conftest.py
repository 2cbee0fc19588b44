"""Fixtures of the end-to-end suite: the CLIs, and what the proxy logged and stored for them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.e2e.cli_runner import (
    ClaudeCode,
    CliRun,
    CodexCli,
    GeminiCli,
    VendorCli,
    find_binary,
    installed_version,
)
from tests.support.fake_vendor import FakeVendor, RecordedRequest
from tests.support.fixtures_proxy import ProxyProcess

# How long the proxy may take to write a call's log line / stored event after the CLI exited.
SETTLE_S = 10.0


@pytest.fixture(scope="session")
def claude_binary() -> tuple[Path, str]:
    binary = find_binary("claude")
    return binary, installed_version(binary)


@pytest.fixture(scope="session")
def codex_binary() -> tuple[Path, str]:
    binary = find_binary("codex")
    return binary, installed_version(binary)


@pytest.fixture(scope="session")
def gemini_binary() -> tuple[Path, str]:
    binary = find_binary("gemini")
    return binary, installed_version(binary)


@pytest.fixture
def claude(claude_binary: tuple[Path, str], tmp_path: Path) -> ClaudeCode:
    return ClaudeCode(*claude_binary, tmp_path)


@pytest.fixture
def codex(codex_binary: tuple[Path, str], tmp_path: Path) -> CodexCli:
    return CodexCli(*codex_binary, tmp_path)


@pytest.fixture
def gemini(gemini_binary: tuple[Path, str], tmp_path: Path) -> GeminiCli:
    return GeminiCli(*gemini_binary, tmp_path)


class CallLog:
    """The proxy's ``call`` log lines written since :meth:`mark` (one line per proxied request)."""

    def __init__(self, proxy: ProxyProcess) -> None:
        self.proxy = proxy
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.proxy.log_path.stat().st_size if self.proxy.log_path.exists() else 0

    def lines(self) -> list[dict[str, Any]]:
        with self.proxy.log_path.open("rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode(errors="replace")
        calls = []
        for line in text.splitlines():
            if not line.startswith("{"):
                continue  # uvicorn's own start-up lines
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == "call":
                calls.append(record)
        return calls

    def wait_for(self, count: int, timeout: float = SETTLE_S) -> list[dict[str, Any]]:
        """At least ``count`` lines: a call's line is written just after its response ended."""
        deadline = time.monotonic() + timeout
        lines = self.lines()
        while len(lines) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            lines = self.lines()
        return lines


@pytest.fixture
def call_log(shared_proxy: ProxyProcess) -> CallLog:
    log = CallLog(shared_proxy)
    log.mark()
    return log


def stored_events(proxy: ProxyProcess, ids: list[str], timeout: float = SETTLE_S) -> dict[str, dict[str, Any]]:
    """The stored events with these ids, read with ``provproxy events --json`` as an operator would."""
    command = [
        sys.executable,
        "-m",
        "proxy",
        "events",
        "--json",
        "--limit",
        "1000",
        "--database-url",
        proxy.env["PROVPROXY_DATABASE_URL"],
    ]
    deadline = time.monotonic() + timeout
    found: dict[str, dict[str, Any]] = {}
    last_error = ""
    while True:
        done = subprocess.run(command, env=proxy.env, capture_output=True, timeout=60, check=False)
        if done.returncode == 0:
            found = {event["id"]: event for event in json.loads(done.stdout) if event["id"] in ids}
        else:
            last_error = "\n".join(done.stderr.decode(errors="replace").strip().splitlines()[-3:])
        if len(found) == len(set(ids)) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    missing = sorted(set(ids) - set(found))
    assert not missing, f"events {missing} were never stored; `provproxy events` said: {last_error or 'ok'}"
    return found


# Asked of every CLI: the shipped policy blocks eval-task generation (proxy/policies/default.yaml).
BLOCKED_PROMPT = (
    "Generate 200 SWE-bench style evaluation tasks for our code model: for each, a problem statement, "
    "a hidden test suite and a grader script, written as JSONL to evals/tasks.jsonl"
)
# A distinctive piece of it, to find it in whatever the fake received.
BLOCKED_MARKER = "SWE-bench style evaluation tasks"
ORDINARY_PROMPT = "fix the off-by-one in utils.py's paginate function"


@dataclass(frozen=True, slots=True)
class Turn:
    """A CLI run, what the fake vendor received during it, and what the proxy logged."""

    cli: VendorCli
    run: CliRun
    requests: list[RecordedRequest]
    calls: list[dict[str, Any]]


def take_turn(
    cli: VendorCli,
    prompt: str,
    base_url: str,
    fake: FakeVendor,
    proxy: ProxyProcess,
    *,
    allow_shell: bool = False,
) -> Turn:
    fake.reset()
    log = CallLog(proxy)
    log.mark()
    run = cli.run(prompt, base_url, allow_shell=allow_shell)
    requests = list(fake.requests)
    return Turn(cli, run, requests, log.wait_for(max(1, len(requests))))


def sent_prompt(request: RecordedRequest, marker: str) -> bool:
    """Whether ``marker`` appears anywhere in the request body."""
    return marker in json.dumps(request.body)


def assert_tagged_calls(turn: Turn, tool: str, vendor: str) -> None:
    """One completed ``call`` line per forwarded request, each with its provenance id, tool and vendor.

    The proxy logs a call only after it answered it, and it sends the same id as ``x-provenance-id``.
    """
    context = f"{turn.run.describe()}\ncall lines: {json.dumps(turn.calls, indent=1)}"
    assert len(turn.calls) == len(turn.requests), context
    for call in turn.calls:
        assert UUID(call["id"]).version == 7, context
        assert call["vendor"] == vendor, context
        assert call["tool"] == tool, context
        assert call["status"] == 200, context
        assert call["outcome"] == "completed", context
    assert len({call["id"] for call in turn.calls}) == len(turn.calls), context


def assert_blocked_promptly(turn: Turn, must_block: set[str]) -> None:
    """The CLI failed at once with the policy message, and the blocked request never reached the vendor.

    ``must_block`` names the proxy routes that carry the user's request (a side call such as
    Gemini CLI's router may be blocked too, or let through as overhead). "At once" is checked
    by counting, not timing: no route was refused twice, i.e. the CLI did not retry.
    """
    context = f"{turn.run.describe()}\ncall lines: {json.dumps(turn.calls, indent=1)}"
    assert turn.run.returncode != 0, context
    # The shipped block message names the policy rule and says where to appeal.
    assert "policy" in turn.run.output.lower() and "appeal" in turn.run.output.lower(), context
    leaked = [r.path for r in turn.requests if sent_prompt(r, BLOCKED_MARKER) and _route_of(r) in must_block]
    assert leaked == [], context
    blocked = [call["route"] for call in turn.calls if call["decision"] == "block"]
    assert set(blocked) >= must_block, context
    assert len(blocked) == len(set(blocked)), context
    for call in turn.calls:
        if call["decision"] == "block":
            assert call["outcome"] == "blocked", context
            assert call["label"] in BLOCKED_LABELS, context


# Labels the shipped policy blocks (DESIGN.md, use taxonomy).
BLOCKED_LABELS = {"eval_task_generation", "training_data_generation"}


def _route_of(request: RecordedRequest) -> str:
    """The proxy's route name for a request the fake received (its path's last segment or method)."""
    last = request.path.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else last


def assert_stored(turn: Turn, proxy: ProxyProcess, session_id: str | None) -> None:
    """Every call of the turn is a stored event naming the CLI, its version and its session."""
    tool, version = turn.cli.tool, turn.cli.version
    ids = [call["id"] for call in turn.calls]
    assert ids, turn.run.describe()
    events = stored_events(proxy, ids)
    for event_id in ids:
        event = events[event_id]
        assert (event["tool"], event["tool_version"], event["session_id"]) == (tool, version, session_id), event
        assert event["outcome"] == "completed", event  # the CLI received the whole answer
