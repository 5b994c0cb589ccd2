"""`veriscan refresh`: the case-wide stages run again over what a case holds, evidence unread.

The run is recorded like an ingest (no evidence item; the stages' counts), and Ctrl-C lands
between a stage's commits, so running the same command again finishes what is left.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from veriscan import __version__
from veriscan.domain import RunInfo
from veriscan.pipeline.detector_stage import resolve_stage
from veriscan.pipeline.executors import Executor, make_executor
from veriscan.pipeline.ingest import DeferredInterrupt, prepare_analyzers
from veriscan.plugins import Registry
from veriscan.settings import Settings
from veriscan.stages.base import Stage, StageContext, StageResult
from veriscan.stages.runner import run_stages
from veriscan.store.case import Case


@dataclass
class RefreshReport:
    run_id: int
    status: str = "running"
    stages: list[StageResult] = field(default_factory=list)
    problems: int = 0
    seconds: float = 0.0


class RefreshInterrupted(KeyboardInterrupt):
    """Ctrl-C ended the refresh; ``report`` holds the stages that finished."""

    def __init__(self, report: RefreshReport) -> None:
        super().__init__()
        self.report = report


def refresh(
    case: Case,
    registry: Registry,
    settings: Settings,
    stages: Sequence[type[Stage]],
    *,
    command: str,
    executor: str = "local",
) -> RefreshReport:
    """Run ``stages`` (in the order given) over the case; raises SettingsError as an ingest
    does for a bad skip list or detector setting."""
    pool = make_executor(executor, settings.effective_workers, settings.ray_address)
    try:
        settings = settings.replace(
            detector_stage=resolve_stage(settings.detector_stage, pool.gpus())
        )
        report = _refresh(case, registry, settings, stages, command, pool)
    except BaseException:
        pool.abort()
        raise
    pool.close()
    return report


def _refresh(
    case: Case,
    registry: Registry,
    settings: Settings,
    stages: Sequence[type[Stage]],
    command: str,
    pool: Executor,
) -> RefreshReport:
    _, versions = prepare_analyzers(registry, settings)
    info = RunInfo(
        command=command,
        veriscan_version=__version__,
        analyzers=versions,
        settings=settings.as_dict(),
    )
    started = time.monotonic()
    report = RefreshReport(case.start_run(info, None))
    with DeferredInterrupt() as interrupt:
        try:
            context = StageContext(
                settings, pool, registry, command, report.run_id, versions, interrupt.check
            )
            for outcome in run_stages(case, stages, context):
                report.stages.append(outcome)
                report.problems += outcome.problems
            report.status = "completed"
        except BaseException as exc:
            report.status = "interrupted"
            if interrupt.requested:
                raise RefreshInterrupted(report) from exc
            raise
        finally:
            report.seconds = time.monotonic() - started
            counts = {"stages": sum(1 for s in report.stages if not s.skipped)}
            for outcome in report.stages:
                counts.update(outcome.run_counts)
            counts["problems"] = report.problems
            case.finish_run(report.run_id, report.status, counts)
    if interrupt.requested:
        raise RefreshInterrupted(report)
    return report
