"""Gemini CLI (``gemini -p``) through the proxy to the fake Gemini upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_runner import GeminiCli
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

GREETING = "Hello from the fake gemini upstream."


def _base_url(proxy: ProxyProcess) -> str:
    return proxy.url + "/gemini"


def _routes(turn: Turn) -> list[str]:
    return [r.path.rsplit(":", 1)[-1] for r in turn.requests]


@pytest.fixture(scope="module")
def plain_turn(
    gemini_binary: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
    fake_vendor: FakeVendor,
    shared_proxy: ProxyProcess,
) -> Turn:
    """One plain turn, shared by the checks below (CLI start-up is slow)."""
    cli = GeminiCli(*gemini_binary, tmp_path_factory.mktemp("gemini-plain"))
    return take_turn(cli, "Say hello.", _base_url(shared_proxy), fake_vendor, shared_proxy)


def test_plain_turn_completes(plain_turn: Turn) -> None:
    run = plain_turn.run
    assert run.returncode == 0, run.describe()
    assert plain_turn.cli.answer(run) == GREETING, run.describe()


def test_plain_turn_reaches_the_vendor_through_the_proxy(plain_turn: Turn) -> None:
    # Each turn: the router's generateContent on a flash-lite model, then the main stream.
    assert _routes(plain_turn) == ["generateContent", "streamGenerateContent"], plain_turn.run.describe()
    router, main = plain_turn.requests
    assert router.path.startswith("/v1beta/models/") and main.path.startswith("/v1beta/models/")
    assert main.query == {"alt": ["sse"]}
    assert main.headers["x-goog-api-key"] == "gemini-test-e2e"
    assert_tagged_calls(plain_turn, tool="gemini-cli", vendor="gemini")


def test_tool_round_trip(gemini: GeminiCli, fake: FakeVendor, shared_proxy: ProxyProcess) -> None:
    turn = take_turn(
        gemini, "Run the check. [[fake:tool_call]]", _base_url(shared_proxy), fake, shared_proxy, allow_shell=True
    )
    assert turn.run.returncode == 0, turn.run.describe()
    assert _routes(turn) == ["generateContent", "streamGenerateContent", "streamGenerateContent"], turn.run.describe()
    # Gemini CLI ran the fake's `echo fake-tool-ran` and sent its output back as a functionResponse.
    parts = turn.requests[2].body["contents"][-1]["parts"]
    responses = [part["functionResponse"] for part in parts if "functionResponse" in part]
    assert responses and responses[0]["name"] == "run_shell_command", turn.run.describe()
    assert "fake-tool-ran" in str(responses[0]["response"]), turn.run.describe()
    assert gemini.answer(turn.run).startswith("Tool result received"), turn.run.describe()
    assert_tagged_calls(turn, tool="gemini-cli", vendor="gemini")


def test_policy_block_is_shown_at_once_and_ordinary_work_continues(
    gemini: GeminiCli, fake: FakeVendor, shared_proxy: ProxyProcess
) -> None:
    """The shipped policy blocks eval-task generation: Gemini CLI shows the block message at once,
    the prompt never reaches the vendor, and an ordinary prompt afterwards is answered."""
    blocked = take_turn(gemini, BLOCKED_PROMPT, _base_url(shared_proxy), fake, shared_proxy)
    # The router call carries the prompt too: both it and the main call are refused.
    assert_blocked_promptly(blocked, must_block={"generateContent", "streamGenerateContent"})

    ordinary = take_turn(gemini, ORDINARY_PROMPT, _base_url(shared_proxy), fake, shared_proxy)
    assert ordinary.run.returncode == 0, ordinary.run.describe()
    assert gemini.answer(ordinary.run) == GREETING, ordinary.run.describe()


def test_calls_are_stored_with_tool_version_and_session(plain_turn: Turn, shared_proxy: ProxyProcess) -> None:
    """Every call is a stored event naming Gemini CLI and its version; no session, since
    Gemini CLI sends no session id in API-key mode."""
    assert_stored(plain_turn, shared_proxy, None)
