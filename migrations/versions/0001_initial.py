"""Initial schema: events, event bodies, API keys, checkpoints, generated settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The security team's questions: who / which session / which use / what decision ... over time.
EVENT_INDEXES = ("principal", "session_id", "use_label", "decision", "tool", "vendor", "team", "outcome")


def _ts(name: str, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(36), primary_key=True),
        _ts("ts"),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("vendor", sa.String(32)),
        sa.Column("endpoint", sa.String(64)),
        sa.Column("principal", sa.String(255)),
        sa.Column("principal_kind", sa.String(16)),
        sa.Column("team", sa.String(255)),
        sa.Column("tool", sa.String(64)),
        sa.Column("tool_version", sa.String(64)),
        sa.Column("session_id", sa.String(255)),
        sa.Column("side_call", sa.String(64)),
        sa.Column("client_addr", sa.String(64)),
        sa.Column("model", sa.String(255)),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("turn_count", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("use_label", sa.String(64)),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("rule_hits", sa.JSON(), nullable=False),
        sa.Column("policy_rule", sa.String(255)),
        sa.Column("status", sa.Integer()),
        sa.Column("upstream_status", sa.Integer()),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("vendor_request_id", sa.String(255)),
        sa.Column("response_id", sa.String(255)),
        sa.Column("response_model", sa.String(255)),
        sa.Column("stop_reason", sa.String(64)),
        sa.Column("input_tokens", sa.Integer()),
        sa.Column("output_tokens", sa.Integer()),
        sa.Column("cache_read_tokens", sa.Integer()),
        sa.Column("cache_write_tokens", sa.Integer()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("ttfb_ms", sa.Float()),
        sa.Column("request_sha256", sa.String(64)),
        sa.Column("response_sha256", sa.String(64)),
        sa.Column("output_truncated", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), unique=True),
        sa.Column("record_hash", sa.String(64)),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("signature", sa.Text()),
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    for column in EVENT_INDEXES:
        op.create_index(f"ix_events_{column}_ts", "events", [column, "ts"])

    op.create_table(
        "event_bodies",
        sa.Column("event_id", sa.String(36), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("request_body", sa.LargeBinary()),
        sa.Column("instruction", sa.Text()),
        sa.Column("completion_text", sa.LargeBinary()),
        sa.Column("thinking_text", sa.LargeBinary()),
        sa.Column("tool_calls", sa.JSON()),
        _ts("created_at"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("team", sa.String(255)),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _ts("revoked_at", nullable=True),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        _ts("ts"),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_table(
        "settings_kv",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("settings_kv", "checkpoints", "api_keys", "event_bodies"):
        op.drop_table(table)
    for column in EVENT_INDEXES:
        op.drop_index(f"ix_events_{column}_ts", "events")
    op.drop_index("ix_events_ts", "events")
    op.drop_table("events")
