"""The commands end to end: exit statuses scripts rely on, export then offline verify, keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from proxy.cli import cli
from proxy.config import get_settings
from tests.support import provenance_fixtures
from tests.support.provenance_fixtures import Store

# This module's fixtures (tests/support/provenance_fixtures.py says why they are assigned).
signing_key = provenance_fixtures.signing_key
store = provenance_fixtures.store


@pytest.fixture
def env(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROVPROXY_DATABASE_URL", str(store.engine.url))
    monkeypatch.setenv("PROVPROXY_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-key.pem"))
    monkeypatch.setenv("PROVPROXY_CHECKPOINT_DIR", str(store.checkpoint_dir))
    get_settings.cache_clear()
    yield store
    get_settings.cache_clear()


def test_verify_exit_statuses(env: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    env.record(12)
    result = runner.invoke(cli, ["provenance", "checkpoint"])
    assert result.exit_code == 0 and result.output.startswith("provenance-proxy/events\n12\n")
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("OK")
    env.execute("UPDATE events SET status = 500 WHERE seq = 5")
    result = runner.invoke(cli, ["verify", "--full"])
    assert result.exit_code == 1 and "TAMPERED altered: seq 5" in result.output
    result = runner.invoke(cli, ["verify", "--database-url", f"sqlite:///{tmp_path / 'missing' / 'x.db'}"])
    assert result.exit_code == 2


def test_export_and_offline_verify(env: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    events = env.record(5)
    assert runner.invoke(cli, ["provenance", "checkpoint"]).exit_code == 0
    out = tmp_path / "attestation.json"
    result = runner.invoke(cli, ["provenance", "export", events[2].id, "-o", str(out)])
    assert result.exit_code == 0, result.output
    public = runner.invoke(cli, ["keys", "public"])
    assert public.exit_code == 0 and "BEGIN PUBLIC KEY" in public.output
    key_file = tmp_path / "public.pem"
    key_file.write_text(public.output)
    result = runner.invoke(cli, ["provenance", "verify", str(out), "--public-key", str(key_file)])
    assert result.exit_code == 0 and result.output.startswith(f"VALID completion:{events[2].id}")
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 1
    out.write_bytes(bytes(data))
    result = runner.invoke(cli, ["provenance", "verify", str(out), "--public-key", str(key_file)])
    assert result.exit_code == 1 and result.output.startswith("INVALID")


def test_export_with_text_and_offline_verify(env: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    events = env.record(3, texts=True)
    assert runner.invoke(cli, ["provenance", "checkpoint"]).exit_code == 0
    out, key_file = tmp_path / "attestation.json", tmp_path / "public.pem"
    result = runner.invoke(cli, ["provenance", "export", events[0].id, "--with-text", "-o", str(out)])
    assert result.exit_code == 0, result.output
    key_file.write_text(runner.invoke(cli, ["keys", "public"]).output)
    result = runner.invoke(cli, ["provenance", "verify", str(out), "--public-key", str(key_file)])
    assert result.exit_code == 0, result.output
    completion = len(events[0].completion_text or "")
    assert (
        f"completion ({completion} chars)" in result.output and "matching the digest its record seals" in result.output
    )


def test_keys_rotate_keeps_old_public_keys(env: Store) -> None:
    runner = CliRunner()
    before = runner.invoke(cli, ["keys", "public"]).output
    rotated = runner.invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0 and f"retired {env.key.key_id}" in rotated.output
    after = runner.invoke(cli, ["keys", "public"]).output
    assert after != before
    everything = runner.invoke(cli, ["keys", "public", "--all"]).output
    assert everything.count("BEGIN PUBLIC KEY") == 2 and "(active)" in everything
