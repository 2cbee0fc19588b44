from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade
from tests.support.fixtures_pg import PgServer, pg_server  # noqa: F401  (the fixture)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite store."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each supported kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'events.db'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.new_database()
    upgrade(url)
    return url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
