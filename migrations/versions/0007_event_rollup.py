"""Hourly roll-up of event counts and tokens for the console's statistics, filled from the
events already stored.

Revision ID: 0007_event_rollup
Revises: 0006_rejected_records
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_event_rollup"
down_revision = "0006_rejected_records"
branch_labels = None
depends_on = None

_DIMENSIONS = (("principal", 255), ("team", 255), ("tool", 64), ("vendor", 32), ("use_label", 64), ("decision", 16))


def upgrade() -> None:
    op.create_table(
        "event_rollup",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        *(sa.Column(name, sa.String(length), primary_key=True) for name, length in _DIMENSIONS),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        hour = "date_trunc('hour', timezone('UTC', ts)) AT TIME ZONE 'UTC'"
    else:  # the text form SQLAlchemy stores datetimes in on SQLite
        hour = "strftime('%Y-%m-%d %H:00:00.000000', ts)"
    keys = ", ".join(f"coalesce({name}, '')" for name, _ in _DIMENSIONS)
    op.execute(
        f"INSERT INTO event_rollup (hour, {', '.join(name for name, _ in _DIMENSIONS)}, events, input_tokens,"
        f" output_tokens) SELECT {hour}, {keys}, count(*), coalesce(sum(input_tokens), 0),"
        f" coalesce(sum(output_tokens), 0) FROM events GROUP BY {hour}, {keys}"
    )


def downgrade() -> None:
    op.drop_table("event_rollup")
