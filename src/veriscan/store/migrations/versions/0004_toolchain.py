"""Toolchain forensics: links from images to the model files that made them, software installs.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("model_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("strength", sa.String(16), nullable=False),
        sa.Column("via", sa.Text, nullable=False),
        sa.UniqueConstraint("image_sha256", "model_sha256", "role", name="uq_link"),
    )
    op.create_table(
        "installs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "evidence_id", sa.Integer, sa.ForeignKey("evidence.id"), nullable=False, index=True
        ),
        sa.Column("app", sa.String(32), nullable=False),
        sa.Column("root", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("installs")
    op.drop_table("links")
