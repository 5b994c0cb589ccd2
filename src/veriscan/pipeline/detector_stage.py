"""The pixel detector as a batch stage after the work units (Ray Data on a cluster).

With ``detector_stage = batch`` the CPU units decode each image where its bytes are read and leave
its patches in the case folder; this stage then scores every waiting image in large batches, one
model session per GPU (or per CPU without one), stores the scores and re-decides the verdicts the
units stored. What waits is recorded in the store, so an interrupted stage is finished by the next
run, and the outcome equals an inline scan's (tests compare the two stores).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from veriscan.analyzers.decode import wants_image
from veriscan.analyzers.detect import pending
from veriscan.analyzers.detect.analyzer import chosen_folder
from veriscan.analyzers.detect.batch import BatchScorer
from veriscan.domain import ProblemCode
from veriscan.pipeline.executors import Executor
from veriscan.settings import BATCH, Settings
from veriscan.store.case import Case
from veriscan.store.detector_results import Scored, Settle, awaiting_detector, record_scores

BATCH_IMAGES: Final = 32
"""Images per model run on a CPU (512 patches); GPUs take larger batches."""
COMMIT_EVERY: Final = 256
SLICE: Final = 20_000
"""Images per Ray Data run: a few seconds of actor start-up against minutes of scoring."""


@dataclass
class StageReport:
    waiting: int = 0
    scored: int = 0
    failed: int = 0
    seconds: float = 0.0
    providers: set[str] = field(default_factory=set)


def resolve_stage(stage: str, gpus: int) -> str:
    """``auto`` is the batch stage where the workers have GPUs and inline elsewhere: on a CPU,
    batching makes inference barely cheaper (1.15x, bench/detector.py) and the extra pass costs
    more (bench/scale.py); on a GPU it is what makes the GPU worth having. ``batch`` forces the
    stage on any executor. Settings has already refused any other value."""
    if stage == "auto":
        return BATCH if gpus > 0 else "inline"
    return stage


def pending_detector(case: Case) -> list[str]:
    """Images waiting for a score, in SHA-256 order."""
    return [sha for sha, mime in awaiting_detector(case) if wants_image(mime)]


def finish_detector(
    case: Case,
    run_id: int,
    settings: Settings,
    pool: Executor,
    between: Callable[[], None],
    settle: Settle,
) -> StageReport:
    """Score every waiting image in the case and store each outcome as ``settle`` decides it;
    ``between`` runs after each commit (Ctrl-C)."""
    started = time.monotonic()
    waiting = pending_detector(case)
    report = StageReport(waiting=len(waiting))
    kwargs: dict[str, Any] = {"folder": str(chosen_folder(settings))}
    for start in range(0, len(waiting), SLICE):  # bounded rows in memory, however many wait
        part = waiting[start : start + SLICE]
        paths = {sha: case.artifact_path(pending.ARTIFACT, sha, pending.SUFFIX) for sha in part}
        rows = [{"sha256": sha, "path": str(path)} for sha, path in paths.items()]
        outcomes = pool.map_batches(BatchScorer, kwargs, rows, BATCH_IMAGES)
        _settle(case, run_id, outcomes, paths, report, between, settle)
        report.seconds = time.monotonic() - started
    return report


def _settle(
    case: Case,
    run_id: int,
    outcomes: Iterator[dict[str, Any]],
    paths: dict[str, Path],
    report: StageReport,
    between: Callable[[], None],
    settle: Settle,
) -> None:
    for chunk in _chunks(outcomes, COMMIT_EVERY):
        scored = [_scored(row) for row in chunk]
        record_scores(case, run_id, scored, settle)
        for item in scored:
            _remove(paths[item.sha256])
            if item.result is None:
                report.failed += 1
            else:
                report.scored += 1
        report.providers.update(str(row["providers"]) for row in chunk if row["providers"])
        between()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the SHA-256 prefix folder, once its last one is scored
        path.parent.rmdir()


def _scored(row: dict[str, Any]) -> Scored:
    text = str(row["result"])
    result = json.loads(text) if text else None
    code = str(row["code"])
    return Scored(
        str(row["sha256"]),
        result,
        ProblemCode(code) if code else ProblemCode.ERROR,
        str(row["message"]),
        str(row["reason"]),
    )


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk
