"""Programmatic ``alembic upgrade head``: no alembic.ini needed at run time.

The Alembic scripts live in the repository's top-level ``migrations/``
directory; ``proxy/migrations`` links to it so that they ship inside the
package (a wheel carries them as ``proxy.migrations``).
``PROVPROXY_MIGRATIONS_DIR`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    override = os.environ.get("PROVPROXY_MIGRATIONS_DIR")
    path = Path(override) if override else Path(__file__).resolve().parents[1] / "migrations"
    if not (path / "env.py").is_file():
        raise FileNotFoundError(f"Alembic migrations not found at {path} (set PROVPROXY_MIGRATIONS_DIR)")
    return path


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def current_revision(database_url: str) -> str | None:
    from sqlalchemy import inspect, text

    from proxy.store.db import shared_engine

    engine = shared_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return str(value) if value is not None else None
    finally:
        engine.dispose()
