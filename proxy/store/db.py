"""The database engine: SQLite (embedded default) or PostgreSQL, one per process and URL.

Everything in the proxy and the CLI gets its engine from :func:`shared_engine`,
so one process holds one connection pool per database. Callers outside
``proxy/store/`` treat the engine as an opaque :data:`Database` handle that they
pass back to store functions; they never speak SQL themselves.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

DEFAULT_BUSY_TIMEOUT_MS = 5000

# The handle the rest of the proxy holds and passes back to store functions.
Database = Engine

_engines: dict[tuple[str, int], Engine] = {}
_engines_lock = threading.Lock()


def normalize_url(database_url: str) -> URL:
    """``postgresql://`` (what operators paste) means psycopg 3, the driver we ship."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")
    return url


def shared_engine(database_url: str, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """This process's engine for ``database_url``, created on first use.

    Disposing it (at shutdown) only closes its pooled connections: it stays usable
    and opens new ones on demand, so components sharing it need not agree who stops last."""
    key = (normalize_url(database_url).render_as_string(hide_password=False), busy_timeout_ms)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_db_engine(database_url, busy_timeout_ms)
        return engine


def create_db_engine(database_url: str, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """A new engine of its own (tests and tools that must not share the process's pool)."""
    url = normalize_url(database_url)
    # pre_ping: after a database restart, pooled connections are dead; test before use.
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "json_serializer": _json_dumps}
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    # connect_timeout: an unreachable server must fail fast (events wait in the spool meanwhile).
    return create_engine(url, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 5}, **kwargs)


@contextmanager
def open_session(database_url: str) -> Iterator[Session]:
    """A session on the shared engine; the pool's connections are closed afterwards
    (what a CLI command wants: it touches the database once, then exits)."""
    engine = shared_engine(database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def file_identity(database_url: str) -> tuple[int, int] | None:
    """``(device, inode)`` of an SQLite database file; None for a server database or a missing file.

    A process holding an SQLite file open keeps writing into it after it was deleted or
    replaced on disk: comparing this identity over time is how it notices."""
    url = normalize_url(database_url)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def display_url(database: str | Database) -> str:
    """The database's URL without its password: safe to print, and stable as a key."""
    url = database.url if isinstance(database, Engine) else make_url(database)
    return url.render_as_string(hide_password=True)


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
