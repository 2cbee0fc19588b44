"""Hourly roll-up of event counts and tokens for the console's statistics
(``proxy/store/stats_rollup.py``), filled from the events already stored.

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

# As in proxy/store/stats_rollup.py when this revision was written (a migration must not change with the code).
_BREAKDOWNS = {"label": "use_label", "decision": "decision", "tool": "tool", "vendor": "vendor", "team": "team"}
_SCOPES = {
    "principal": "principal",
    "team": "team",
    "tool": "tool",
    "vendor": "vendor",
    "label": "use_label",
    "decision": "decision",
}


def upgrade() -> None:
    op.create_table(
        "event_rollup",
        sa.Column("scope", sa.String(300), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("breakdown", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        hour = "timezone('UTC', date_trunc('hour', timezone('UTC', ts)))"
    else:  # the text form SQLAlchemy stores datetimes in on SQLite
        hour = "strftime('%Y-%m-%d %H:00:00.000000', ts)"
    for scope_name, scope_column in [(None, None), *_SCOPES.items()]:
        scope = "''" if scope_column is None else f"'{scope_name}=' || {scope_column}"
        where = "" if scope_column is None else f"WHERE {scope_column} IS NOT NULL AND {scope_column} <> ''"
        for breakdown, column in _BREAKDOWNS.items():
            group = ", ".join(part for part in (hour, f"coalesce({column}, '')", scope_column) if part)
            op.execute(
                "INSERT INTO event_rollup (scope, hour, breakdown, value, events, input_tokens, output_tokens)"
                f" SELECT {scope}, {hour}, '{breakdown}', coalesce({column}, ''), count(*),"
                f" coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) FROM events {where}"
                f" GROUP BY {group}"
            )


def downgrade() -> None:
    op.drop_table("event_rollup")
