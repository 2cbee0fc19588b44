"""The security team's console: admin tokens, hash-chained access log, triage verdicts, full-text index.

The search index is an FTS5 table on SQLite and a tsvector column with a GIN
index on PostgreSQL; both hold the instruction and the completion text of an
event and are filled by the loader (``proxy.store.search``).

Revision ID: 0005_console
Revises: 0004_body_digests
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_console"
down_revision = "0004_body_digests"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "admin_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _ts("revoked_at", nullable=True),
    )
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255)),
        sa.Column("client_addr", sa.String(64)),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "triage_verdicts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("actor", sa.String(255), nullable=False),
        _ts("ts"),
    )
    op.create_index("ix_triage_verdicts_event_id", "triage_verdicts", ["event_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE event_search (event_id VARCHAR(36) PRIMARY KEY, document TSVECTOR NOT NULL)")
        op.execute("CREATE INDEX ix_event_search_document ON event_search USING GIN (document)")
    else:
        # unicode61 splits on punctuation; a quoted phrase still finds a leaked "sk-live-…" string.
        op.execute("CREATE VIRTUAL TABLE event_search USING fts5(event_id UNINDEXED, document)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS event_search")
    op.drop_index("ix_triage_verdicts_event_id", table_name="triage_verdicts")
    op.drop_table("triage_verdicts")
    op.drop_table("access_log")
    op.drop_table("admin_tokens")
