"""Alembic environment: always run on a connection handed in by veriscan (no ini file, no URL)."""

from __future__ import annotations

from alembic import context

from veriscan.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
