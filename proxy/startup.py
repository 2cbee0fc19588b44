"""The banner ``provproxy serve`` prints before it listens: what it is about to do, in plain lines.

Every vendor line comes from the adapter registry, so a new adapter appears here without
an edit; secrets never do (the database password is masked, organisation keys are only
said to be set).
"""

from __future__ import annotations

from pathlib import Path

from proxy.adapters import ADAPTERS
from proxy.config import Settings
from proxy.policy.source import DEFAULT_POLICY_PATH
from proxy.store.db import display_url
from proxy.store.location import sqlite_file


def banner_lines(settings: Settings, host: str, port: int) -> list[str]:
    lines = []
    for adapter in ADAPTERS:
        key = "organisation key set" if settings.vendor_key_for(adapter.vendor) else "no organisation key"
        lines.append(f"upstream {adapter.vendor}: {settings.upstream_for(adapter.vendor)} ({key})")
    lines.append(f"database: {_database(settings.database_url)}")
    lines.append(f"policy: {Path(settings.policy_file or DEFAULT_POLICY_PATH).absolute()}")
    recording = "on" if settings.record else "OFF (benchmark mode: nothing is recorded)"
    fail_mode = "fail-closed" if settings.fail_closed else "fail-open"
    lines.append(
        f"spool: {settings.spool_dir.absolute()} (recording {recording}, durability {settings.durability}, {fail_mode})"
    )
    base = f"http://{_display_host(host)}:{port}"
    for adapter in ADAPTERS:
        vendor_base = base + adapter.prefix
        lines.append(f"{adapter.vendor} base URL {vendor_base} - {adapter.client_setup.format(base=vendor_base)}")
    return lines


def _database(database_url: str) -> str:
    path = sqlite_file(database_url)
    shown = display_url(database_url)
    return f"{shown} ({path.absolute()})" if path is not None else shown


def _display_host(host: str) -> str:
    """A listen address as clients reach it (an all-interfaces address is not one)."""
    if host in ("0.0.0.0", "::", ""):
        return "<this-host>"
    return f"[{host}]" if ":" in host else host
