"""The detector's batch scoring as a stage, and the re-deciding of verdicts it brings.

With ``detector_stage = batch`` the work units leave each image's patches in the case folder; this
stage scores them (pipeline/detector_stage.py: the executor's batch path) and re-decides the AI
verdict each unit stored without the score. It runs whenever the run uses the detector, so images
an interrupted batch run left waiting are finished by the next run, inline or batch.
"""

from __future__ import annotations

from typing import Any

from veriscan.analyzers.provenance.redecide import RedecideError, redecide
from veriscan.domain import Problem, ProblemCode
from veriscan.pipeline.detector_stage import finish_detector, pending_detector
from veriscan.stages.base import Stage, StageContext, StageResult
from veriscan.store.case import Case
from veriscan.store.detector_results import ANALYZER, Scored, Settlement


def settle_verdict(outcome: Scored, ai: dict[str, Any] | None) -> Settlement:
    """The score (or the failure as a problem) and the verdict re-decided with it; a verdict
    that cannot be re-decided stays as stored, with a problem saying so."""
    problems: list[Problem] = []
    if outcome.result is None:
        problems.append(Problem(ANALYZER, outcome.message, outcome.code))
    verdict = None
    if ai is not None:
        try:
            verdict = redecide(ai, outcome.result, outcome.reason or None)
        except RedecideError as exc:
            problems.append(Problem(ANALYZER, str(exc), ProblemCode.VERDICT_NOT_UPDATED))
    return Settlement(outcome.result, verdict, tuple(problems))


class DetectorStage(Stage):
    id = "detector"
    description = "pixel-detector scores of images a batch-stage run left waiting"

    def pending(self, case: Case, context: StageContext) -> int:
        if ANALYZER not in context.analyzers:  # skipped, or no detector model installed
            return 0
        return len(pending_detector(case))

    def run(self, case: Case, context: StageContext) -> StageResult:
        report = finish_detector(
            case, context.run_id, context.settings, context.executor, context.check, settle_verdict
        )
        counts = {"waiting": report.waiting, "scored": report.scored, "failed": report.failed}
        if not report.waiting:
            return StageResult(self.id, counts=counts)
        where = ", ".join(sorted(report.providers)) or "no model session"
        line = (
            f"detector batch stage: {report.scored} images scored, {report.failed} failed "
            f"in {report.seconds:.1f}s ({where})"
        )
        recorded = {"detector_batch_scored": report.scored, "detector_batch_failed": report.failed}
        return StageResult(
            self.id, counts=counts, problems=report.failed, lines=(line,), run_counts=recorded
        )
