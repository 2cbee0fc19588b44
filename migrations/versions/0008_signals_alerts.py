"""Distillation signals per principal (``proxy/signals``) and the alerts raised on them
(``proxy/alerts``); an index of the hourly roll-up for the console's most active people.

Revision ID: 0008_signals_alerts
Revises: 0007_event_rollup
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_signals_alerts"
down_revision = "0007_event_rollup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The console overview's "most active people" reads the decision rows of every principal scope.
    op.create_index(
        "ix_event_rollup_breakdown_scope", "event_rollup", ["breakdown", "scope", "hour", "value", "events"]
    )
    op.create_table(
        "signal_hits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("signal", sa.String(32), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("principals", sa.JSON(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("signal", "scope_kind", "scope", "window_start", name="uq_signal_hits_window"),
    )
    op.create_index("ix_signal_hits_scope", "signal_hits", ["scope_kind", "scope", "updated_at"])
    op.create_index("ix_signal_hits_updated", "signal_hits", ["updated_at", "id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("signal", sa.String(32), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("hit_id", sa.Integer(), nullable=False),
        sa.Column("principals", sa.JSON(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(255), nullable=True),
    )
    op.create_index("ix_alerts_scope_rule", "alerts", ["rule", "scope_kind", "scope", "created_at"])
    op.create_index("ix_alerts_created", "alerts", ["created_at", "id"])
    # The signal engine's incremental state (proxy/store/signal_state.py).
    op.create_table(
        "signal_instructions",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("cluster", sa.String(64), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("day", "principal", "sha"),
    )
    op.create_table(
        "signal_state",
        sa.Column("signal", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("signal", "scope", "window_start"),
    )


def downgrade() -> None:
    op.drop_index("ix_event_rollup_breakdown_scope", table_name="event_rollup")
    op.drop_table("signal_state")
    op.drop_table("signal_instructions")
    op.drop_table("alerts")
    op.drop_table("signal_hits")
