"""A cold start while PostgreSQL is down, with the key salt kept only in the database (issue 11, item 15).

``PROVPROXY_KEY_SALT`` is not set here (the other integration tests set it): the
salt lives in the database, and the proxy must still come up during an outage
(``restart: unless-stopped`` restarts it while PostgreSQL is away) from the copy
it cached next to its signing key, attributing callers exactly as before.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import CALL_KINDS, FAST_WRITER, Database, call
from tests.support.fixtures_proxy import ProxyFactory

POSTGRES_ONLY = pytest.mark.parametrize(
    "database", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
SALT_IN_DATABASE = {"key_salt": "", **FAST_WRITER}


@POSTGRES_ONLY
def test_serve_starts_with_postgres_down_using_the_cached_salt(
    start_proxy: ProxyFactory, database: Database, tmp_path: Path
) -> None:
    kind = CALL_KINDS[0]
    first = start_proxy(database_url=database.url, **SALT_IN_DATABASE)  # generates the salt, caches it
    with httpx.Client(timeout=30.0) as client:
        before = call(client, first.url, kind)
    assert before.status == 200 and before.event_id
    principal_before = first.event(before.event_id)["principal"]
    first.stop()

    database.down()
    cold = start_proxy(database_url=database.url, **SALT_IN_DATABASE)
    with httpx.Client(timeout=30.0) as client:
        during = call(client, cold.url, kind)
    assert during.status == 200 and during.ended and during.event_id
    database.up()
    event = cold.event(during.event_id, timeout=30.0)
    assert event["principal"] == principal_before  # the same key, the same pseudonym
    cache = tmp_path / "signing-key.pem.key-salt"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600  # a secret: owner only


@POSTGRES_ONLY
def test_serve_without_a_cached_salt_says_what_to_set_when_postgres_is_down(database: Database, tmp_path: Path) -> None:
    database.down()
    env = {
        "PROVPROXY_DATABASE_URL": database.url,
        "PROVPROXY_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "PROVPROXY_SPOOL_DIR": str(tmp_path / "spool"),
        "PROVPROXY_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "PROVPROXY_PORT": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "serve"],
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PROVPROXY_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert "PROVPROXY_KEY_SALT" in output.strip().splitlines()[-1], output
