"""Record version 2: digests of the stored instruction, completion and thinking texts.

Existing rows keep ``record_version`` NULL: they were sealed in the version-1
canonical form, which the verifier still uses for them.

Revision ID: 0004_body_digests
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_body_digests"
down_revision = "0003"
branch_labels = None
depends_on = None

_DIGESTS = ("instruction_sha256", "completion_sha256", "thinking_sha256")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name in _DIGESTS:
            batch.add_column(sa.Column(name, sa.String(64)))
        batch.add_column(sa.Column("record_version", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name in (*_DIGESTS, "record_version"):
            batch.drop_column(name)
