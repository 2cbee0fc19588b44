"""The alert tests' databases: a migrated SQLite file and a fresh database on the session's
PostgreSQL server (tests/support/store_fixtures.py)."""

from __future__ import annotations

from tests.support import store_fixtures
from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture)

database_url = store_fixtures.database_url
engine = store_fixtures.engine
