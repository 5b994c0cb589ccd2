"""Initial case schema: case_meta, runs, evidence, contents, locations, problems.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_meta",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("examiner", sa.Text, nullable=False),
        sa.Column("agency", sa.Text),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("veriscan_version", sa.String(64), nullable=False),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False, unique=True),
        sa.Column("custodian", sa.Text),
        sa.Column("source_type", sa.String(32), nullable=False),
        sa.Column("source_path", sa.Text, nullable=False),
        sa.Column("acquisition_hash", sa.String(64)),
        sa.Column("acquisition_method", sa.Text),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("completed_at", sa.String(32)),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("evidence_id", sa.Integer, sa.ForeignKey("evidence.id")),
        sa.Column("veriscan_version", sa.String(64), nullable=False),
        sa.Column("analyzers", sa.JSON, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("ended_at", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    op.create_table(
        "contents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("md5", sa.String(32), nullable=False, index=True),
        sa.Column("sha1", sa.String(40), nullable=False, index=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("mime", sa.String(128), nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("exif", sa.JSON),
        sa.Column("pdq_hash", sa.String(64)),
        sa.Column("pdq_quality", sa.Integer),
        sa.Column("pdq_mode", sa.String(8)),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("thumbnail", sa.Text),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("evidence_id", sa.Integer, sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("locator", sa.Text, nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.Integer),
        sa.Column("mtime", sa.Float),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("link_target", sa.Text),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("contents.sha256")),
        sa.Column("extension_mismatch", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.UniqueConstraint("evidence_id", "locator", name="uq_location"),
    )
    op.create_index("ix_locations_sha256", "locations", ["sha256"])
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("evidence_id", sa.Integer, sa.ForeignKey("evidence.id")),
        sa.Column("locator", sa.Text),
        sa.Column("sha256", sa.String(64)),
        sa.Column("analyzer", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    )
    op.create_index("ix_problems_sha256", "problems", ["sha256"])
    op.create_index("ix_problems_location", "problems", ["evidence_id", "locator"])


def downgrade() -> None:
    for table in ("problems", "locations", "contents", "runs", "evidence", "case_meta"):
        op.drop_table(table)
