"""Event bodies: the instruction is stored zstd-compressed, like the other body columns.

An instruction can be a 64 KB paste (a log, a file); kept as text it cost more to
spool and insert than the rest of its event together.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
import zstandard
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CHUNK = 500


def upgrade() -> None:
    compressor = zstandard.ZstdCompressor(level=3)
    _convert(sa.Text(), sa.LargeBinary(), lambda text: compressor.compress(text.encode("utf-8")))


def downgrade() -> None:
    decompressor = zstandard.ZstdDecompressor()
    _convert(sa.LargeBinary(), sa.Text(), lambda data: decompressor.decompress(data).decode("utf-8", "replace"))


def _convert(old_type: sa.types.TypeEngine, new_type: sa.types.TypeEngine, change: Callable) -> None:  # type: ignore[type-arg]
    """Rewrite ``instruction`` through a new column (batch mode: SQLite rebuilds the table)."""
    with op.batch_alter_table("event_bodies") as batch:
        batch.add_column(sa.Column("instruction_new", new_type))
    table = sa.table(
        "event_bodies",
        sa.column("event_id", sa.String),
        sa.column("instruction", old_type),
        sa.column("instruction_new", new_type),
    )
    conn = op.get_bind()
    last = ""
    while True:  # keyset pages: never read and update the same cursor
        rows = conn.execute(
            sa.select(table.c.event_id, table.c.instruction)
            .where(table.c.event_id > last, table.c.instruction.is_not(None))
            .order_by(table.c.event_id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        conn.execute(
            table.update().where(table.c.event_id == sa.bindparam("key")).values(instruction_new=sa.bindparam("value")),
            [{"key": row.event_id, "value": change(row.instruction)} for row in rows],
        )
        last = rows[-1].event_id
    with op.batch_alter_table("event_bodies") as batch:
        batch.drop_column("instruction")
        batch.alter_column("instruction_new", new_column_name="instruction")
