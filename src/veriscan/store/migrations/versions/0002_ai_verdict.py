"""AI-generation evidence per content: verdict, generator and the full structured result.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.add_column(sa.Column("ai_verdict", sa.String(16)))
        batch.add_column(sa.Column("ai_generator", sa.String(128)))
        batch.add_column(sa.Column("ai", sa.JSON))
        batch.create_index("ix_contents_ai_verdict", ["ai_verdict"])
        batch.create_index("ix_contents_ai_generator", ["ai_generator"])


def downgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.drop_index("ix_contents_ai_generator")
        batch.drop_index("ix_contents_ai_verdict")
        batch.drop_column("ai")
        batch.drop_column("ai_generator")
        batch.drop_column("ai_verdict")
