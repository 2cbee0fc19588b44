"""Per-vendor settings: maps keyed by the registry's vendors, read from each vendor's own variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from proxy.adapters import ADAPTERS, VENDORS
from proxy.config import Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    for vendor in VENDORS:
        monkeypatch.delenv(f"PROVPROXY_UPSTREAM_{vendor.upper()}", raising=False)
        monkeypatch.delenv(f"PROVPROXY_{vendor.upper()}_API_KEY", raising=False)
    monkeypatch.delenv("PROVPROXY_UPSTREAMS", raising=False)
    monkeypatch.delenv("PROVPROXY_ORG_KEYS", raising=False)


def test_every_registered_vendor_has_its_default_upstream_and_no_key() -> None:
    settings = Settings()
    assert set(settings.upstreams) == set(VENDORS)
    for adapter in ADAPTERS:
        assert settings.upstream_for(adapter.vendor) == adapter.default_upstream
        assert settings.vendor_key_for(adapter.vendor) is None


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_reads_its_own_variables(monkeypatch: pytest.MonkeyPatch, vendor: str) -> None:
    monkeypatch.setenv(f"PROVPROXY_UPSTREAM_{vendor.upper()}", "http://127.0.0.1:9/base/")
    monkeypatch.setenv(f"PROVPROXY_{vendor.upper()}_API_KEY", f"org-{vendor}")
    settings = Settings()
    assert settings.upstreams[vendor] == "http://127.0.0.1:9/base"  # trailing slash dropped
    assert settings.org_keys == {vendor: f"org-{vendor}"}
    others = [adapter for adapter in ADAPTERS if adapter.vendor != vendor]
    assert all(settings.upstream_for(adapter.vendor) == adapter.default_upstream for adapter in others)


def test_the_environment_beats_the_env_file_and_the_file_still_counts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "PROVPROXY_UPSTREAM_ANTHROPIC=http://from-file:1\nPROVPROXY_OPENAI_API_KEY=file-key\n", encoding="utf-8"
    )
    assert Settings().upstreams["anthropic"] == "http://from-file:1"
    monkeypatch.setenv("PROVPROXY_UPSTREAM_ANTHROPIC", "http://from-env:2")
    settings = Settings()
    assert settings.upstreams["anthropic"] == "http://from-env:2"
    assert settings.vendor_key_for("openai") == "file-key"


def test_maps_and_keyword_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVPROXY_UPSTREAMS", '{"gemini": "https://gemini.internal"}')
    monkeypatch.setenv("PROVPROXY_ORG_KEYS", '{"openai": "org-openai"}')
    settings = Settings(anthropic_api_key="org-anthropic")  # type: ignore[call-arg]  # the per-vendor legacy name
    assert settings.upstreams["gemini"] == "https://gemini.internal"
    assert settings.upstreams["anthropic"] == "https://api.anthropic.com"
    assert settings.org_keys == {"openai": "org-openai", "anthropic": "org-anthropic"}


def test_bad_upstreams_are_refused() -> None:
    with pytest.raises(ValidationError, match="http"):
        Settings(upstream_openai="ftp://example.com")  # type: ignore[call-arg]  # the per-vendor legacy name
    with pytest.raises(ValidationError, match="no adapter for vendor"):
        Settings(upstreams={"mistral": "https://api.mistral.ai"})
