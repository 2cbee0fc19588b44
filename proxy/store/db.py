"""Engines for the two supported databases: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

DEFAULT_BUSY_TIMEOUT_MS = 5000


def normalize_url(database_url: str) -> URL:
    """``postgresql://`` (what operators paste) means psycopg 3, the driver we ship."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")
    return url


def create_db_engine(database_url: str, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    url = normalize_url(database_url)
    # pre_ping: after a database restart, pooled connections are dead; test before use.
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "json_serializer": _json_dumps}
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    # connect_timeout: an unreachable server must fail fast (events wait in the spool meanwhile).
    return create_engine(url, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 5}, **kwargs)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        # WAL: readers (CLI, dashboard) never block the writer, and the writer never blocks them.
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL skips the fsync per commit (WAL stays consistent; a power cut may lose the
        # last commits). Acceptable because every event is fsync'd in the spool first, and
        # the writer checkpoints the WAL (which syncs it) before deleting a spool segment.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
