"""Disk images: deleted and carved locations, file-system times, facts about the evidence container.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        batch.add_column(
            sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("carved", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("fs_times", sa.JSON))
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("details", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("details")
    with op.batch_alter_table("locations") as batch:
        batch.drop_column("fs_times")
        batch.drop_column("carved")
        batch.drop_column("deleted")
