"""Near-duplicate groups as a stage: rebuilt from the stored PDQ hashes after every ingest."""

from __future__ import annotations

from sqlalchemy import func, select

from veriscan.matching.groups import MIN_QUALITY, refresh_groups
from veriscan.stages.base import Stage, StageContext, StageResult
from veriscan.store import schema
from veriscan.store.case import Case


class GroupsStage(Stage):
    id = "groups"
    description = "near-duplicate groups of images within PDQ distance of each other"

    def pending(self, case: Case, context: StageContext) -> int:
        """Images whose PDQ hash is good enough to group, plus rows a rebuild would clear."""
        c = schema.contents.c
        eligible = select(func.count()).where(c.pdq_hash.is_not(None), c.pdq_quality >= MIN_QUALITY)
        stored = select(func.count()).select_from(schema.dup_groups)
        with case.engine.connect() as conn:
            return int(conn.execute(eligible).scalar_one()) + int(conn.execute(stored).scalar_one())

    def run(self, case: Case, context: StageContext) -> StageResult:
        return StageResult(self.id, counts={"groups": refresh_groups(case)})
