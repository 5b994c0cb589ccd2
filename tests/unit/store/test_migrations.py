"""The Alembic migrations must build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from veriscan.store import schema
from veriscan.store.case import Case


def test_migrations_match_declared_schema(tmp_path: Path) -> None:
    case = Case.init(tmp_path / "c", "n", "e")
    with case.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_case_folder_is_private_and_reopens(tmp_path: Path) -> None:
    root = tmp_path / "c"
    Case.init(root, "Op Example", "examiner A", "Unit 1").close()
    assert root.stat().st_mode & 0o777 == 0o700
    case = Case.open(root)
    assert case.meta()["name"] == "Op Example"
    assert case.meta()["agency"] == "Unit 1"
