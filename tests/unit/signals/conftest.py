from __future__ import annotations

from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture, for the PostgreSQL runs)
