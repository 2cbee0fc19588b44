"""The README's per-tool setup says what the real CLIs need (measured in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


def _row(tool: str) -> str:
    (row,) = [line for line in README.splitlines() if line.startswith(f"| {tool} |")]
    return row


def test_gemini_cli_headless_needs_a_trusted_workspace() -> None:
    row = _row("Gemini CLI")
    assert "GEMINI_CLI_TRUST_WORKSPACE=true" in row and "--skip-trust" in row


def test_codex_builtin_provider_key_path_is_documented() -> None:
    row = _row("Codex CLI")
    assert "CODEX_API_KEY" in row, "the built-in provider sends only CODEX_API_KEY / codex login keys"
    assert "anonymous" in row and "PROVPROXY_REQUIRE_PROXY_KEY" in row
