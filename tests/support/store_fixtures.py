"""Fixtures of the store's tests: a migrated, empty database of each kind (SQLite and
PostgreSQL), an engine on it, recorder settings for it; and helpers to make events and settings.

A test module takes the fixtures it uses by assignment (``engine = store_fixtures.engine``).
A fixture in the module wins over a conftest's (``tests/unit/store/conftest.py`` has a
SQLite-only ``engine``), and an assignment, unlike an import, does not make every test
parameter that names the fixture read as a redefinition of it (ruff F811).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from proxy.config import Settings
from proxy.events import Event, new_event_id
from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade
from tests.support.fixtures_pg import PgServer, pg_server  # noqa: F401  (the fixture)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the proxy runs on asyncio (uvloop); tests marked anyio run there


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each supported kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'events.db'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.new_database()
    upgrade(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "spool")


def make_settings(database_url: str, spool_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "spool_dir": spool_dir,
        "writer_retry_interval_s": 0.1,
        "writer_flush_interval_s": 0.01,
        "writer_load_linger_s": 0.01,
        "database_busy_timeout_ms": 200,
        "key_cache_ttl_s": 0.1,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_event(**fields: Any) -> Event:
    values: dict[str, Any] = {
        "id": new_event_id(),
        "ts": datetime.now(UTC),
        "method": "POST",
        "path": "/v1/messages",
        "vendor": "anthropic",
        "endpoint": "messages",
        "principal": "alice",
        "team": "payments",
        "tool": "claude-code",
        "model": "claude-sonnet-4-5",
        "status": 200,
        **fields,
    }
    return Event(**values)
