"""Reviewers' decisions: categories, notes and tags, append-only with a version per file.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("scheme", sa.String(64), nullable=False),
        sa.Column("category", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("undoes", sa.Integer),
        sa.UniqueConstraint("sha256", "version", name="uq_decision_version"),
    )


def downgrade() -> None:
    op.drop_table("decisions")
