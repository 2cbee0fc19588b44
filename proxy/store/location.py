"""Where a database URL points, checked before anything connects to it.

A command run with a mistyped URL, in the wrong directory or with a missing
directory should be told so in one line, and a read-only command must never
create an empty SQLite file where it expected the proxy's database.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED = ("sqlite", "postgresql")
URL_EXAMPLES = "sqlite:///provproxy.db or postgresql://user:password@host/database"


class DatabaseLocationError(ValueError):
    """The database URL cannot be used: malformed, unsupported, or pointing nowhere."""


def check_database_url(database_url: str) -> None:
    """Raises :class:`DatabaseLocationError` for a malformed URL or an unsupported database."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        # The text is not echoed: it may hold a password.
        raise DatabaseLocationError(f"not a database URL; use {URL_EXAMPLES}") from None
    backend = url.get_backend_name()
    if backend == "postgres":
        return
    if backend not in SUPPORTED:
        raise DatabaseLocationError(f"{backend!r} databases are not supported; use {URL_EXAMPLES}")


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory SQLite)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def require_directory(database_url: str) -> None:
    """A SQLite database's directory must exist (it is created, the directory is not)."""
    check_database_url(database_url)
    path = sqlite_file(database_url)
    if path is not None and not path.absolute().parent.is_dir():
        raise DatabaseLocationError(f"the directory of the SQLite database {path} does not exist; create it")


def require_existing(database_url: str) -> None:
    """A SQLite database must already exist: read-only commands never create one."""
    check_database_url(database_url)
    path = sqlite_file(database_url)
    if path is not None and not path.is_file():
        raise DatabaseLocationError(
            f"no database at {path.absolute()}: run this where the proxy runs (its working directory)"
        )
