from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from proxy.events import Event
from proxy.store.migrate import current_revision, upgrade
from proxy.store.models import BODY_FIELDS, INDEXED_WITH_TS, Base


def test_migrations_create_the_schema_the_models_describe(database_url: str, engine: Engine) -> None:
    assert current_revision(database_url) == "0001"
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        tables = set(inspect(conn).get_table_names())
        indexes = {index["name"]: index["column_names"] for index in inspect(conn).get_indexes("events")}
    assert {"events", "event_bodies", "api_keys", "checkpoints", "settings_kv"} <= tables
    for column in INDEXED_WITH_TS:
        assert indexes[f"ix_events_{column}_ts"] == [column, "ts"]


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    assert current_revision(database_url) == "0001"


def test_every_event_field_has_a_home() -> None:
    """A field added to Event must get a column (or be a body field), not vanish on the way to the store."""
    columns = set(Base.metadata.tables["events"].columns.keys())
    for name in Event.__dataclass_fields__:
        assert name in columns or name in BODY_FIELDS, name
