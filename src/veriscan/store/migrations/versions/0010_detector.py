"""The pixel detector's calibrated score per content (score, model, flagged, threshold, ...).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.add_column(sa.Column("detector", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.drop_column("detector")
