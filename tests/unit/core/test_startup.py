"""The startup banner (issue 11, item 18): what ``serve`` is about to do, derived from the settings
and the adapter registry, with no secret in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proxy.adapters import ADAPTERS
from proxy.config import Settings
from proxy.startup import banner_lines


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_one_line_per_upstream_and_per_vendor_base_url() -> None:
    lines = banner_lines(settings(upstream_openai="http://10.0.0.9:9000/v"), "127.0.0.1", 8787)
    for adapter in ADAPTERS:
        upstream = [line for line in lines if line.startswith(f"upstream {adapter.vendor}:")]
        assert len(upstream) == 1, lines
        base = f"http://127.0.0.1:8787{adapter.prefix}"
        assert [line for line in lines if line.startswith(f"{adapter.vendor} base URL {base} ")], lines
    assert "upstream openai: http://10.0.0.9:9000/v (no organisation key)" in lines


def test_the_database_password_and_organisation_keys_are_never_shown() -> None:
    lines = banner_lines(
        settings(database_url="postgresql://alice:s3cret@db.internal/provproxy", anthropic_api_key="sk-ant-org"),
        "0.0.0.0",
        8787,
    )
    text = "\n".join(lines)
    assert "s3cret" not in text and "sk-ant-org" not in text
    assert "database: postgresql://alice:***@db.internal/provproxy" in lines
    assert "upstream anthropic: https://api.anthropic.com (organisation key set)" in lines
    assert "http://0.0.0.0" not in text  # not an address a client can use


def test_sqlite_policy_and_spool_are_shown_as_absolute_paths(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    lines = banner_lines(
        settings(database_url="sqlite:///relative.db", policy_file=policy, spool_dir=Path("spool-here")),
        "127.0.0.1",
        8787,
    )
    assert f"database: sqlite:///relative.db ({Path.cwd() / 'relative.db'})" in lines
    assert f"policy: {policy}" in lines
    assert any(line.startswith(f"spool: {Path.cwd() / 'spool-here'} ") for line in lines), lines
