"""Codex CLI (``codex exec``) through the proxy to the fake OpenAI Responses upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_runner import CodexCli
from tests.e2e.conftest import (
    BLOCKED_PROMPT,
    ORDINARY_PROMPT,
    Turn,
    assert_blocked_promptly,
    assert_stored,
    assert_tagged_calls,
    take_turn,
)
from tests.support.fake_vendor import FakeVendor
from tests.support.fixtures_proxy import ProxyProcess

pytestmark = pytest.mark.cli

GREETING = "Hello from the fake openai upstream."


def _base_url(proxy: ProxyProcess) -> str:
    return proxy.url + "/openai/v1"


@pytest.fixture(scope="module")
def plain_turn(
    codex_binary: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
    fake_vendor: FakeVendor,
    shared_proxy: ProxyProcess,
) -> Turn:
    """One plain turn, shared by the checks below (CLI start-up is slow)."""
    cli = CodexCli(*codex_binary, tmp_path_factory.mktemp("codex-plain"))
    return take_turn(cli, "Say hello.", _base_url(shared_proxy), fake_vendor, shared_proxy)


def test_plain_turn_completes(plain_turn: Turn) -> None:
    run = plain_turn.run
    assert run.returncode == 0, run.describe()
    assert plain_turn.cli.answer(run) == GREETING, run.describe()


def test_plain_turn_reaches_the_vendor_through_the_proxy(plain_turn: Turn) -> None:
    # A custom provider speaks plain HTTP + SSE: one POST /v1/responses, no WebSocket attempt, no /models.
    assert [(r.method, r.path) for r in plain_turn.requests] == [("POST", "/v1/responses")], plain_turn.run.describe()
    request = plain_turn.requests[0]
    assert request.headers["authorization"] == "Bearer sk-test-e2e"
    assert request.body["stream"] is True
    assert_tagged_calls(plain_turn, tool="codex-cli", vendor="openai")


def test_tool_round_trip(codex: CodexCli, fake: FakeVendor, shared_proxy: ProxyProcess) -> None:
    turn = take_turn(
        codex, "Run the check. [[fake:tool_call]]", _base_url(shared_proxy), fake, shared_proxy, allow_shell=True
    )
    assert turn.run.returncode == 0, turn.run.describe()
    assert len(turn.requests) == 2, turn.run.describe()
    # Codex ran the fake's `echo fake-tool-ran` and sent its output back as function_call_output.
    outputs = [item for item in turn.requests[1].body["input"] if item.get("type") == "function_call_output"]
    assert outputs and "fake-tool-ran" in outputs[-1]["output"], turn.run.describe()
    assert "Tool result received" in codex.answer(turn.run), turn.run.describe()
    assert_tagged_calls(turn, tool="codex-cli", vendor="openai")


def test_policy_block_is_shown_at_once_and_ordinary_work_continues(
    codex: CodexCli, fake: FakeVendor, shared_proxy: ProxyProcess
) -> None:
    """The shipped policy blocks eval-task generation: Codex shows the block message at once,
    the prompt never reaches the vendor, and an ordinary prompt afterwards is answered."""
    blocked = take_turn(codex, BLOCKED_PROMPT, _base_url(shared_proxy), fake, shared_proxy)
    assert_blocked_promptly(blocked, must_block={"responses"})

    ordinary = take_turn(codex, ORDINARY_PROMPT, _base_url(shared_proxy), fake, shared_proxy)
    assert ordinary.run.returncode == 0, ordinary.run.describe()
    assert codex.answer(ordinary.run) == GREETING, ordinary.run.describe()


def test_calls_are_stored_with_tool_version_and_session(plain_turn: Turn, shared_proxy: ProxyProcess) -> None:
    """Every call is a stored event naming Codex, its version and the session id it sent."""
    sessions = {r.headers.get("session-id") for r in plain_turn.requests}
    assert sessions == {CodexCli.session_id(plain_turn.run)} and None not in sessions, sessions
    assert_stored(plain_turn, shared_proxy, sessions.pop())
