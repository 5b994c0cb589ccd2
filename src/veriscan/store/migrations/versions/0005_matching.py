"""Hash-list matches and near-duplicate groups.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("list_name", sa.Text, nullable=False, index=True),
        sa.Column("list_sha256", sa.String(64), nullable=False),
        sa.Column("entry", sa.Integer, nullable=False),
        sa.Column("hash_type", sa.String(8), nullable=False),
        sa.Column("distance", sa.Integer, nullable=False),
        sa.Column("category", sa.Text),
        sa.Column("series", sa.Text),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("known_good", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.UniqueConstraint("sha256", "list_name", "entry", "hash_type", name="uq_match"),
    )
    op.create_table(
        "dup_groups",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("group_id", sa.String(64), nullable=False, index=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("distance", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dup_groups")
    op.drop_table("matches")
