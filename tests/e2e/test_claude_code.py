"""Claude Code (``claude -p``) through the proxy to the fake Anthropic upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_runner import ClaudeCode
from tests.e2e.conftest import (
    BLOCKED_PROMPT,
    ORDINARY_PROMPT,
    Turn,
    assert_blocked_promptly,
    assert_stored,
    assert_tagged_calls,
    take_turn,
)
from tests.support.fake_vendor import FAKE_TOOL_COMMAND, TOOL_RESULT_PREFIX, FakeVendor
from tests.support.fixtures_proxy import ProxyProcess

pytestmark = pytest.mark.cli

GREETING = "Hello from the fake anthropic upstream."


@pytest.fixture(scope="module")
def plain_turn(
    claude_binary: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
    fake_vendor: FakeVendor,
    shared_proxy: ProxyProcess,
) -> Turn:
    """One plain turn against ``<proxy>/anthropic``, shared by the checks below (CLI start-up is slow)."""
    cli = ClaudeCode(*claude_binary, tmp_path_factory.mktemp("claude-plain"))
    return take_turn(cli, "Say hello.", shared_proxy.url + "/anthropic", fake_vendor, shared_proxy)


def test_plain_turn_completes(plain_turn: Turn) -> None:
    run = plain_turn.run
    assert run.returncode == 0, run.describe()
    assert plain_turn.cli.answer(run) == GREETING, run.describe()


def test_plain_turn_reaches_the_vendor_through_the_proxy(plain_turn: Turn) -> None:
    requests = plain_turn.requests
    assert requests, plain_turn.run.describe()
    for request in requests:
        assert (request.method, request.path) == ("POST", "/v1/messages")
        assert request.query.get("beta") == ["true"]  # Claude Code's query string is forwarded as is
        assert request.headers["x-api-key"] == "sk-ant-test-e2e"
    assert_tagged_calls(plain_turn, tool="claude-code", vendor="anthropic")


def test_plain_turn_via_the_unprefixed_root_url(
    claude: ClaudeCode, fake: FakeVendor, shared_proxy: ProxyProcess
) -> None:
    turn = take_turn(claude, "Say hello.", shared_proxy.url, fake, shared_proxy)
    assert turn.run.returncode == 0, turn.run.describe()
    assert claude.answer(turn.run) == GREETING, turn.run.describe()
    assert [r.path for r in turn.requests] == ["/v1/messages"] * len(turn.requests)
    assert_tagged_calls(turn, tool="claude-code", vendor="anthropic")


def test_tool_round_trip(claude: ClaudeCode, fake: FakeVendor, shared_proxy: ProxyProcess) -> None:
    turn = take_turn(
        claude,
        "Run the check. [[fake:tool_call]]",
        shared_proxy.url + "/anthropic",
        fake,
        shared_proxy,
        allow_shell=True,
    )
    assert turn.run.returncode == 0, turn.run.describe()
    # The fake asked for `echo fake-tool-ran`; Claude Code ran it and sent the output back.
    results = [
        block
        for request in turn.requests
        for message in request.body["messages"][-1:]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert results and "fake-tool-ran" in str(results[0]["content"]), f"{FAKE_TOOL_COMMAND} did not run"
    assert claude.answer(turn.run).startswith(TOOL_RESULT_PREFIX + "fake-tool-ran"), turn.run.describe()
    assert len(turn.requests) == 2
    assert_tagged_calls(turn, tool="claude-code", vendor="anthropic")


def test_policy_block_is_shown_at_once_and_ordinary_work_continues(
    claude: ClaudeCode, fake: FakeVendor, shared_proxy: ProxyProcess
) -> None:
    """The shipped policy blocks eval-task generation: Claude Code shows the block message at once,
    the prompt never reaches the vendor, and an ordinary prompt afterwards is answered."""
    base_url = shared_proxy.url + "/anthropic"
    blocked = take_turn(claude, BLOCKED_PROMPT, base_url, fake, shared_proxy)
    assert_blocked_promptly(blocked, must_block={"messages"})

    ordinary = take_turn(claude, ORDINARY_PROMPT, base_url, fake, shared_proxy)
    assert ordinary.run.returncode == 0, ordinary.run.describe()
    assert claude.answer(ordinary.run) == GREETING, ordinary.run.describe()


def test_calls_are_stored_with_tool_version_and_session(plain_turn: Turn, shared_proxy: ProxyProcess) -> None:
    """Every call is a stored event naming Claude Code, its version and the session id it sent."""
    sessions = {r.headers.get("x-claude-code-session-id") for r in plain_turn.requests}
    assert len(sessions) == 1 and None not in sessions, sessions
    session = sessions.pop()
    assert session == ClaudeCode.session_id(plain_turn.run)
    assert_stored(plain_turn, shared_proxy, session)
