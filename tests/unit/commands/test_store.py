from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from proxy.cli import cli
from tests.support import store_fixtures
from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture, for the PostgreSQL runs)
from tests.support.store_fixtures import make_event
from tests.unit.store.test_queries import store

# This module's fixtures (tests/support/store_fixtures.py says why they are assigned).
database_url = store_fixtures.database_url
engine = store_fixtures.engine

Run = Callable[..., str]


@pytest.fixture
def run(database_url: str) -> Run:
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, list(args), env={"PROVPROXY_DATABASE_URL": database_url})
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0
        return result.output

    return invoke


def test_migrate(run: Run) -> None:
    assert "schema at revision 0008_signals_alerts" in run("migrate")


def test_keys_create_list_revoke(run: Run) -> None:
    created = run("keys", "create", "--user", "alice", "--team", "payments", "--expires", "30d")
    key = created.splitlines()[0]
    assert key.startswith("pp-") and len(key) == 35
    listing = run("keys", "list")
    assert key[:8] + "…" in listing and "alice" in listing and "active" in listing
    assert key not in listing
    assert "revoked" in run("keys", "revoke", key[:8])
    assert "revoked" in run("keys", "list").splitlines()[1]
    assert "no key" in run("keys", "revoke", "pp-nope", ok=False)


def test_events_table_json_csv_and_show(run: Run, engine: Engine) -> None:
    alice = make_event(tool="claude-code", completion_text="the answer", input_tokens=12, output_tokens=34)
    bob = make_event(principal="bob", vendor="openai", tool="codex-cli", model="gpt-5")
    store(engine, [alice, bob])

    table = run("events", "--user", "alice")
    assert alice.id in table and bob.id not in table and "12/34" in table
    assert json.loads(run("events", "--json", "--vendor", "openai"))[0]["id"] == bob.id
    rows = list(csv.DictReader(io.StringIO(run("events", "--csv", "--since", "1h"))))
    assert {row["id"] for row in rows} == {alice.id, bob.id}
    assert "no events match" in run("events", "--until", "1h")

    shown = json.loads(run("events", "show", alice.id))
    assert shown["body"]["completion_text"] == "the answer"
    assert "no event" in run("events", "show", "missing", ok=False)


def test_purge(run: Run, engine: Engine) -> None:
    store(engine, [make_event(completion_text="keep me")])
    assert "deleted 0 bodies" in run("purge", "--days", "1")
    assert "deleted 1 bodies" in run("purge", "--days", "0")
