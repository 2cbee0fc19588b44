"""Client detection from real clients' headers (captured, sanitised) and body fingerprints."""

from __future__ import annotations

import pytest

from proxy.adapters.base import CallView
from proxy.identity import detect_client
from tests.unit.helpers import read_body


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


CLAUDE_CODE = lower(
    {
        "User-Agent": "claude-cli/2.1.197 (external, sdk-cli)",
        "X-Claude-Code-Session-Id": "7efda166-620e-4ccf-88fc-407dbab6b149",
        "X-Stainless-Lang": "js",
        "X-Stainless-Package-Version": "0.94.0",
        "anthropic-beta": "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-fake",
        "x-app": "cli",
    }
)
CODEX_META = (
    '{"installation_id":"6d622367-6bf0-4f0b-9281-7f50f51a2974","session_id":"01a21397-2f63-7b30-b44c-f424c9c431cc",'
    '"thread_id":"01a21397-2f63-7b30-b44c-f424c9c431cc","request_kind":"turn","model":"gpt-5.1-codex"}'
)
CODEX_EXEC = {
    "x-codex-beta-features": "remote_compaction_v2",
    "x-codex-window-id": "01a21397-2f63-7b30-b44c-f424c9c431cc:0",
    "x-codex-turn-metadata": CODEX_META,
    "x-client-request-id": "01a21397-2f63-7b30-b44c-f424c9c431cc",
    "session-id": "01a21397-2f63-7b30-b44c-f424c9c431cc",
    "thread-id": "01a21397-2f63-7b30-b44c-f424c9c431cc",
    "authorization": "Bearer sk-fake",
    "originator": "codex_exec",
    "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
}
CODEX_TUI_BUILTIN = {
    "originator": "codex-tui",
    "version": "0.169.0",
    "user-agent": "codex-tui/0.169.0 (Debian 12.0.0; x86_64) tmux-256color (codex-tui; 0.169.0)",
    "x-codex-turn-metadata": CODEX_META,
}
GEMINI_CLI = lower(
    {
        "User-Agent": "GeminiCLI-tui/0.61.0/gemini-3.1-pro-preview (linux; x64; terminal)",
        "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.2",
        "x-goog-api-key": "fake",
    }
)
ANTHROPIC_PY = lower(
    {"User-Agent": "Anthropic/Python 2.14.0", "X-Stainless-Lang": "python", "anthropic-version": "2026-10-21"}
)
OPENAI_PY = {"user-agent": "OpenAI/Python 3.57.0", "x-stainless-lang": "python"}
OPENAI_JS = {"user-agent": "OpenAI/JS 6.1.0", "x-stainless-lang": "js"}
ANTHROPIC_JS = {"user-agent": "Anthropic/JS 0.94.0", "x-stainless-lang": "js"}
GENAI_PY = {
    "user-agent": "google-genai-sdk/3.6.1 gl-python/3.11.7",
    "x-goog-api-client": "google-genai-sdk/3.6.1 gl-python/3.11.7",
}
AIDER_OPENAI = lower(
    {"User-Agent": "OpenAI/Python 2.20.0", "X-Stainless-Lang": "python", "X-Stainless-Raw-Response": "true"}
)
AIDER_ANTHROPIC = {"user-agent": "litellm/1.81.10", "anthropic-version": "2023-06-01", "x-api-key": "k"}


@pytest.mark.parametrize(
    ("headers", "tool", "version", "session"),
    [
        (CLAUDE_CODE, "claude-code", "2.1.197", "7efda166-620e-4ccf-88fc-407dbab6b149"),
        (CODEX_EXEC, "codex-cli", "0.169.0", "01a21397-2f63-7b30-b44c-f424c9c431cc"),
        (CODEX_TUI_BUILTIN, "codex-cli", "0.169.0", "01a21397-2f63-7b30-b44c-f424c9c431cc"),
        (
            {
                "originator": "codex_cli_rs",
                "user-agent": "codex_cli_rs/0.30.0 (Mac OS 15.1.0; arm64)",
                "session_id": "old-s",
            },
            "codex-cli",
            "0.30.0",
            "old-s",
        ),
        ({"originator": "codex_cli_rs", "conversation_id": "conv-1"}, "codex-cli", None, "conv-1"),
        (GEMINI_CLI, "gemini-cli", "0.61.0", None),
        ({"user-agent": "GeminiCLI/0.40.1 (darwin; arm64)"}, "gemini-cli", "0.40.1", None),
        (ANTHROPIC_PY, "anthropic-sdk-python", "2.14.0", None),
        (ANTHROPIC_JS, "anthropic-sdk-js", "0.94.0", None),
        (OPENAI_PY, "openai-sdk-python", "3.57.0", None),
        (OPENAI_JS, "openai-sdk-js", "6.1.0", None),
        (GENAI_PY, "google-genai-python", "3.6.1", None),
        (
            {"user-agent": "node", "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.2"},
            "google-genai-js",
            "1.30.0",
            None,
        ),
        (AIDER_OPENAI, "litellm", None, None),
        (AIDER_ANTHROPIC, "litellm", "1.81.10", None),
        ({"user-agent": "curl/8.5.0"}, "unknown", None, None),
        ({}, "unknown", None, None),
    ],
)
def test_detect_from_headers(headers: dict[str, str], tool: str, version: str | None, session: str | None) -> None:
    assert detect_client(headers, None) == (tool, version, session)


def test_explicit_override_wins() -> None:
    headers = {**CLAUDE_CODE, "x-provproxy-tool": "continue/1.2.3"}
    assert detect_client(headers, None) == ("continue", "1.2.3", "7efda166-620e-4ccf-88fc-407dbab6b149")
    assert detect_client({"x-provproxy-tool": "Cursor"}, None) == ("cursor", None, None)
    # A malformed override is ignored rather than trusted.
    assert detect_client({**OPENAI_PY, "x-provproxy-tool": "<script>/1"}, None)[0] == "openai-sdk-python"


def test_aider_recognised_by_its_system_prompt() -> None:
    call = read_body("aider_chat_completions.json")
    assert detect_client(AIDER_OPENAI, call)[0] == "aider"
    anthropic_call = CallView("anthropic", "messages", extras={"system_head": "Act as an expert software developer.\n"})
    assert detect_client(AIDER_ANTHROPIC, anthropic_call)[0] == "aider"


def test_cline_recognised_by_its_system_prompt() -> None:
    call = CallView(
        "anthropic", "messages", extras={"system_head": "You are Cline, a highly skilled software engineer"}
    )
    assert detect_client(ANTHROPIC_JS, call)[:2] == ("cline", None)


def test_claude_code_without_user_agent_from_billing_header() -> None:
    call = read_body("claude_code_first_turn.json")
    assert detect_client({"x-api-key": "k"}, call) == ("claude-code", "2.1.197", "7efda166-620e-4ccf-88fc-407dbab6b149")
    assert detect_client({"x-app": "cli"}, None)[0] == "claude-code"


def test_session_precedence() -> None:
    call = CallView("openai", "responses", session_hint="from-body")
    assert detect_client({"session-id": "hdr"}, call)[2] == "hdr"
    assert detect_client({"x-codex-turn-metadata": CODEX_META}, call)[2] == "01a21397-2f63-7b30-b44c-f424c9c431cc"
    assert detect_client({"x-codex-turn-metadata": "{not json"}, call)[2] == "from-body"
    assert detect_client({}, call)[2] == "from-body"
    # Values that are not plausible ids are not trusted.
    assert detect_client({"session-id": "x" * 500}, None)[2] is None
    assert detect_client({"session-id": "has space"}, None)[2] is None
