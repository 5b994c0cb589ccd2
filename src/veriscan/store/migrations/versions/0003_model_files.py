"""AI model files identified by content: kind, base family and the full structured result.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.add_column(sa.Column("model_kind", sa.String(32)))
        batch.add_column(sa.Column("model_family", sa.String(32)))
        batch.add_column(sa.Column("model", sa.JSON))
        batch.create_index("ix_contents_model_kind", ["model_kind"])
        batch.create_index("ix_contents_model_family", ["model_family"])


def downgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.drop_index("ix_contents_model_family")
        batch.drop_index("ix_contents_model_kind")
        batch.drop_column("model")
        batch.drop_column("model_family")
        batch.drop_column("model_kind")
