"""The key salt's local copy, which lets the proxy start while its database is down (issue 11, item 15)."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from proxy.store.api_keys import SaltUnavailable, load_or_create_salt
from proxy.store.db import create_db_engine


@pytest.fixture
def unreachable() -> Iterator[Engine]:
    """An engine for a PostgreSQL server that is down (nothing listens on its port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = create_db_engine(f"postgresql://provproxy@127.0.0.1:{port}/provproxy")
    yield engine
    engine.dispose()


def test_the_database_salt_is_cached_owner_only(engine: Engine, tmp_path: Path) -> None:
    cache = tmp_path / "keys" / "signing-key.pem.key-salt"
    salt = load_or_create_salt(engine, cache_file=cache)
    assert cache.read_bytes().strip() == salt
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_the_cached_salt_is_used_while_the_database_is_down(
    engine: Engine, unreachable: Engine, tmp_path: Path
) -> None:
    cache = tmp_path / "signing-key.pem.key-salt"
    salt = load_or_create_salt(engine, cache_file=cache)
    assert load_or_create_salt(unreachable, cache_file=cache) == salt


def test_the_database_wins_over_a_stale_cache(engine: Engine, tmp_path: Path) -> None:
    cache = tmp_path / "signing-key.pem.key-salt"
    cache.write_text("stale\n")
    salt = load_or_create_salt(engine, cache_file=cache)
    assert salt != b"stale"
    assert cache.read_bytes().strip() == salt


def test_no_cache_and_no_database_names_the_setting(unreachable: Engine, tmp_path: Path) -> None:
    with pytest.raises(SaltUnavailable, match="PROVPROXY_KEY_SALT"):
        load_or_create_salt(unreachable, cache_file=tmp_path / "absent")


def test_a_configured_salt_needs_neither(unreachable: Engine) -> None:
    assert load_or_create_salt(unreachable, "configured-salt") == b"configured-salt"
