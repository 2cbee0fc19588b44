from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

import proxy.store.exclusion
import proxy.store.signal_models  # noqa: F401  (registers the signal and alert tables)
from proxy.events import Event
from proxy.store import signal_state  # noqa: F401  (registers the signal engine's state tables)
from proxy.store.console_models import SEARCH_TABLE  # importing it registers the console tables on Base
from proxy.store.db import create_db_engine
from proxy.store.migrate import alembic_config, current_revision, upgrade
from proxy.store.models import BODY_FIELDS, INDEXED_WITH_TS, Base
from proxy.store.rows import decompress
from tests.support import store_fixtures
from tests.support.fixtures_pg import pg_server  # noqa: F401  (the fixture, for the PostgreSQL runs)

# This module's fixtures (tests/support/store_fixtures.py says why they are assigned).
database_url = store_fixtures.database_url
engine = store_fixtures.engine

HEAD = "0008_signals_alerts"


def _modelled(name: str | None, kind: str, _parent: object) -> bool:
    """The full-text index (an FTS5 table and its shadow tables on SQLite) is not an ORM model."""
    return not (kind == "table" and name is not None and name.startswith(SEARCH_TABLE))


def test_migrations_create_the_schema_the_models_describe(database_url: str, engine: Engine) -> None:
    assert current_revision(database_url) == HEAD
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _modelled})
        assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(conn).get_table_names())
        indexes = {index["name"]: index["column_names"] for index in inspect(conn).get_indexes("events")}
    assert {"events", "event_bodies", "api_keys", "checkpoints", "settings_kv"} <= tables
    for column in INDEXED_WITH_TS:
        assert indexes[f"ix_events_{column}_ts"] == [column, "ts"]


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    assert current_revision(database_url) == HEAD


def test_every_event_field_has_a_home() -> None:
    """A field added to Event must get a column (or be a body field), not vanish on the way to the store."""
    columns = set(Base.metadata.tables["events"].columns.keys())
    for name in Event.__dataclass_fields__:
        assert name in columns or name in BODY_FIELDS, name


def decompressed_text(data: bytes) -> str:
    plain = decompress(data)
    assert plain is not None
    return plain.decode()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_instructions_stored_as_text_are_compressed_by_the_upgrade_and_back(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_server").new_database()
    )
    config = alembic_config(url)
    command.upgrade(config, "0001")
    engine = create_db_engine(url)
    instructions = {f"e{i:03d}": f"instruction {i} " * (i + 1) for i in range(1203)}  # more than one page
    instructions["e-none"] = None  # type: ignore[assignment]
    with engine.begin() as conn:
        for key, instruction in instructions.items():
            conn.execute(
                text(
                    "INSERT INTO events (id, ts, method, path, stream, turn_count, decision, scores, rule_hits,"
                    " output_truncated, outcome) VALUES (:id, CURRENT_TIMESTAMP, 'POST', '/v1/messages', false, 0,"
                    " 'allow', '{}', '[]', false, 'completed')"
                ),
                {"id": key},
            )
            conn.execute(
                text(
                    "INSERT INTO event_bodies (event_id, instruction, created_at) VALUES (:id, :i, CURRENT_TIMESTAMP)"
                ),
                {"id": key, "i": instruction},
            )
    try:
        command.upgrade(config, "0002")
        with engine.connect() as conn:
            stored: dict[str, Any] = dict(conn.execute(text("SELECT event_id, instruction FROM event_bodies")).all())
        assert {k: None if v is None else decompressed_text(v) for k, v in stored.items()} == instructions

        command.downgrade(config, "0001")
        with engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT event_id, instruction FROM event_bodies")).all())
        assert stored == instructions
    finally:
        engine.dispose()


def test_the_rollup_migration_counts_the_events_already_stored(database_url: str, engine: Engine) -> None:
    """0007 fills the hourly roll-up from the stored events: the same rows the loader would have added."""
    from datetime import UTC, datetime, timedelta

    from proxy.store.inserts import insert_pairs
    from proxy.store.rows import event_row

    start = datetime(2026, 10, 30, 22, 50, tzinfo=UTC)
    events = [
        Event(
            id=f"ev-{i}",
            ts=start + timedelta(minutes=7 * i, microseconds=i),
            method="POST",
            path="/v1/messages",
            principal=["ann", None][i % 2],
            vendor="anthropic",
            decision=["allow", "flag"][i % 3 == 0],
            input_tokens=[None, 40][i % 2],
            output_tokens=i,
        )
        for i in range(50)
    ]
    with engine.begin() as conn:
        insert_pairs(conn, [(event_row(e), None) for e in events])
    query = text("SELECT * FROM event_rollup ORDER BY scope, hour, breakdown, value")
    with engine.connect() as conn:
        by_loader = conn.execute(query).all()
    config = alembic_config(database_url)
    command.downgrade(config, "0006_rejected_records")
    command.upgrade(config, "0007_event_rollup")
    with engine.connect() as conn:
        assert conn.execute(query).all() == by_loader
    totals = [row for row in by_loader if row.scope == "" and row.breakdown == "decision"]
    assert sum(row.events for row in totals) == 50 and len({row.hour for row in totals}) == 7
    assert {row.scope for row in by_loader} == {
        "",
        "principal=ann",
        "vendor=anthropic",
        "decision=allow",
        "decision=flag",
    }
