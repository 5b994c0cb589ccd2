"""The detector's batch-stage results in the store: which contents wait, and their scores.

A content waits when a run that deferred the detector to its batch stage (settings
``detector_stage = batch``) stored it without a score and without a detector problem. That state
is in the database, not in a queue, so a stage cut short is finished by the next run, whichever
evidence it adds, and two coordinators cannot both store a score (the update needs the score
column still empty).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, select, update

from veriscan.domain import Problem, ProblemCode
from veriscan.settings import BATCH
from veriscan.store import schema
from veriscan.store.case import Case
from veriscan.store.unit_writer import insert_problems

ANALYZER = "detector"


@dataclass(frozen=True)
class Scored:
    """One image's outcome: a result, or a problem code, message and the check line's words."""

    sha256: str
    result: dict[str, Any] | None
    code: ProblemCode = ProblemCode.ERROR
    message: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Settlement:
    """What to store for one scored content: the score (None: failed), the re-decided verdict
    (None: the stored one stays) and the problems to record."""

    detector: dict[str, Any] | None
    verdict: dict[str, Any] | None = None
    problems: tuple[Problem, ...] = ()


Settle = Callable[[Scored, dict[str, Any] | None], Settlement]
"""Decides a settlement from an outcome and the verdict the store holds (the detector stage's
re-deciding: the store knows no analyzer)."""


def awaiting_detector(case: Case) -> list[tuple[str, str]]:
    """Contents (SHA-256, MIME type) waiting for a score, in SHA-256 order (a deterministic
    order for every run); the caller keeps those the detector reads."""
    r = schema.runs.c
    c = schema.contents.c
    p = schema.problems.c
    with case.engine.connect() as conn:
        deferring = [
            row.id
            for row in conn.execute(select(r.id, r.analyzers, r.settings))
            if ANALYZER in (row.analyzers or {})
            and (row.settings or {}).get("detector_stage") == BATCH
        ]
        if not deferring:
            return []
        has_problem = exists().where(and_(p.sha256 == c.sha256, p.analyzer == ANALYZER))
        q = (
            select(c.sha256, c.mime)
            .where(c.run_id.in_(deferring), c.detector.is_(None), ~has_problem)
            .order_by(c.sha256)
        )
        return [(row.sha256, row.mime) for row in conn.execute(q)]


def record_scores(case: Case, run_id: int, outcomes: Sequence[Scored], settle: Settle) -> int:
    """Store scores, failures and the verdicts ``settle`` re-decides, in one transaction (the
    verdict is read and written under it); returns how many contents this call settled (one
    already settled elsewhere is left as it is)."""
    c = schema.contents.c
    by_sha = {o.sha256: o for o in outcomes}
    settled = 0
    with case.engine.begin() as conn:
        rows = conn.execute(
            select(c.sha256, c.ai).where(c.sha256.in_(list(by_sha)), c.detector.is_(None))
        ).all()
        for sha, ai in rows:
            settled_as = settle(by_sha[sha], ai)
            values: dict[str, Any] = {"detector": settled_as.detector}
            verdict = settled_as.verdict
            if verdict is not None:
                values.update(
                    ai=verdict, ai_verdict=verdict["verdict"], ai_generator=verdict["generator"]
                )
            done = conn.execute(
                update(schema.contents)
                .where(c.sha256 == sha, c.detector.is_(None))
                .values(**values)
            )
            if done.rowcount:
                settled += 1
                insert_problems(conn, None, None, sha, run_id, list(settled_as.problems))
    return settled
