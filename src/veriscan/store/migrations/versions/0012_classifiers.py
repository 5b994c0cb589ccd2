"""The supplied content classifiers' scores per content ({name: {model_sha256, scores, flagged}}).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.add_column(sa.Column("classifiers", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.drop_column("classifiers")
