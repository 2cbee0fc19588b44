"""`provproxy signing-key` and the old `keys public|rotate` names it replaces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from proxy.cli import cli
from proxy.config import get_settings


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("PROVPROXY_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-key.pem"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def invoke(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_signing_key_public_and_rotate(runner: CliRunner) -> None:
    before = invoke(runner, "signing-key", "public")
    assert before.startswith("# key id ") and "BEGIN PUBLIC KEY" in before
    assert invoke(runner, "keys", "public") == before  # the hidden alias
    assert "new signing key" in invoke(runner, "signing-key", "rotate")
    after = invoke(runner, "signing-key", "public")
    assert after != before
    assert invoke(runner, "signing-key", "public", "--all").count("BEGIN PUBLIC KEY") == 2


def test_keys_help_lists_api_key_commands_only(runner: CliRunner) -> None:
    listed = invoke(runner, "keys", "--help").split("Commands:")[1].split()
    assert {"create", "list", "revoke"} <= set(listed)
    assert "public" not in listed and "rotate" not in listed
    assert "signing-key" in invoke(runner, "--help")
