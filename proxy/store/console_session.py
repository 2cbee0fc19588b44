"""Short sessions on an engine, for callers outside ``proxy/store`` that must not import SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from proxy.store.db import Database


@contextmanager
def read_session(engine: Database) -> Iterator[Session]:
    with Session(engine) as session:
        yield session
