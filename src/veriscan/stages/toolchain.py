"""Toolchain linking as a stage: images linked to the model files that made them, installs."""

from __future__ import annotations

from sqlalchemy import func, select

from veriscan.stages.base import Stage, StageContext, StageResult
from veriscan.store import schema
from veriscan.store.case import Case
from veriscan.toolchain.refresh import refresh_toolchain


class ToolchainStage(Stage):
    id = "toolchain"
    description = "links from images to model files, and generator installs per evidence item"

    def pending(self, case: Case, context: StageContext) -> int:
        """Every stored location is read (installs are found from paths), plus rows a rebuild
        would clear."""
        with case.engine.connect() as conn:
            return sum(
                int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in (schema.locations, schema.links, schema.installs)
            )

    def run(self, case: Case, context: StageContext) -> StageResult:
        found = refresh_toolchain(case)
        return StageResult(self.id, counts={"links": found.links, "installs": found.installs})
