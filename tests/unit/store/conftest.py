from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from proxy.store.db import create_db_engine
from proxy.store.migrate import upgrade


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite store."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()
