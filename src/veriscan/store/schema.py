"""Tables of the case database (SQLAlchemy Core; Alembic migrations create them).

Content is keyed by SHA-256 so a file seen in many places is stored and analysed once; locations
reference it. Problems are rows, not log lines, so an examiner can query what was not analysed.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()
# File sizes pass 2 GiB (videos, model files, disk images): 64-bit on PostgreSQL, whose INTEGER
# is 32-bit; SQLite's INTEGER is already 64-bit.
FileSize = BigInteger().with_variant(Integer(), "sqlite")

case_meta = Table(
    "case_meta",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("examiner", Text, nullable=False),
    Column("agency", Text),
    Column("created_at", String(32), nullable=False),
    Column("veriscan_version", String(64), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("command", Text, nullable=False),
    Column("evidence_id", Integer, ForeignKey("evidence.id")),
    Column("veriscan_version", String(64), nullable=False),
    Column("analyzers", JSON, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("ended_at", String(32)),
    Column("status", String(16), nullable=False),
    Column("counts", JSON, nullable=False),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", Text, nullable=False, unique=True),
    Column("custodian", Text),
    Column("source_type", String(32), nullable=False),
    Column("source_path", Text, nullable=False),
    Column("acquisition_hash", String(64)),
    Column("acquisition_method", Text),
    Column("added_at", String(32), nullable=False),
    Column("completed_at", String(32)),
    Column("details", JSON(none_as_null=True)),
)

contents = Table(
    "contents",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("md5", String(32), nullable=False, index=True),
    Column("sha1", String(40), nullable=False, index=True),
    Column("size", FileSize, nullable=False),
    Column("mime", String(128), nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("exif", JSON(none_as_null=True)),
    Column("pdq_hash", String(64)),
    Column("pdq_quality", Integer),
    Column("pdq_mode", String(8)),
    Column("findings", JSON, nullable=False),
    Column("ai_verdict", String(16), index=True),
    Column("ai_generator", String(128), index=True),
    Column("ai", JSON(none_as_null=True)),
    Column("model_kind", String(32), index=True),
    Column("model_family", String(32), index=True),
    Column("model", JSON(none_as_null=True)),
    Column("thumbnail", Text),
    Column("detector", JSON(none_as_null=True)),
    Column("classifiers", JSON(none_as_null=True)),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

locations = Table(
    "locations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("evidence_id", Integer, ForeignKey("evidence.id"), nullable=False),
    Column("locator", Text, nullable=False),
    Column("depth", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("size", FileSize),
    Column("mtime", Float),
    Column("kind", String(16), nullable=False),
    Column("link_target", Text),
    Column("sha256", String(64), ForeignKey("contents.sha256")),
    Column("extension_mismatch", Boolean, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("carved", Boolean, nullable=False, server_default=false()),
    Column("fs_times", JSON(none_as_null=True)),
    UniqueConstraint("evidence_id", "locator", name="uq_location"),
    Index("ix_locations_sha256", "sha256"),
)

links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("image_sha256", String(64), nullable=False, index=True),
    Column("model_sha256", String(64), nullable=False, index=True),
    Column("role", String(32), nullable=False),
    Column("strength", String(16), nullable=False),
    Column("via", Text, nullable=False),
    UniqueConstraint("image_sha256", "model_sha256", "role", name="uq_link"),
)

installs = Table(
    "installs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("evidence_id", Integer, ForeignKey("evidence.id"), nullable=False, index=True),
    Column("app", String(32), nullable=False),
    Column("root", Text, nullable=False),
    Column("details", JSON, nullable=False),
)

problems = Table(
    "problems",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("evidence_id", Integer, ForeignKey("evidence.id")),
    Column("locator", Text),
    Column("sha256", String(64)),
    Column("analyzer", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Index("ix_problems_sha256", "sha256"),
    Index("ix_problems_location", "evidence_id", "locator"),
)

matches = Table(
    "matches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("list_name", Text, nullable=False, index=True),
    Column("list_sha256", String(64), nullable=False),
    Column("entry", Integer, nullable=False),
    Column("hash_type", String(8), nullable=False),
    Column("distance", Integer, nullable=False),
    Column("category", Text),
    Column("series", Text),
    Column("labels", JSON, nullable=False),
    Column("known_good", Boolean, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    UniqueConstraint("sha256", "list_name", "entry", "hash_type", name="uq_match"),
)

dup_groups = Table(
    "dup_groups",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("group_id", String(64), nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("distance", Integer, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("at", String(32), nullable=False),
    Column("user", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("object", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("scheme", String(64), nullable=False),
    Column("category", Text),
    Column("note", Text),
    Column("tags", JSON, nullable=False),
    Column("user", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("undoes", Integer),
    UniqueConstraint("sha256", "version", name="uq_decision_version"),
)

case_settings = Table(
    "case_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)
