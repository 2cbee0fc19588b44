"""The training-set exclusion index: sources, their fingerprinted units, the fingerprints, progress.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exclusion_sources",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(255), nullable=False, unique=True),  # event id or imported id
        sa.Column("kind", sa.String(16), nullable=False),  # "event" | "import"
        sa.Column("tool", sa.String(64)),
        sa.Column("principal", sa.String(255)),
        sa.Column("ts", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "exclusion_units",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("exclusion_sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("fingerprints", sa.Integer(), nullable=False),
    )
    op.create_index("ix_exclusion_units_source", "exclusion_units", ["source_id"])
    op.create_table(
        "exclusion_fingerprints",
        sa.Column("hash", sa.BigInteger(), primary_key=True),  # the uint64 fingerprint as signed 64-bit
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("exclusion_units.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "exclusion_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exclusion_state")
    op.drop_table("exclusion_fingerprints")
    op.drop_index("ix_exclusion_units_source", table_name="exclusion_units")
    op.drop_table("exclusion_units")
    op.drop_table("exclusion_sources")
