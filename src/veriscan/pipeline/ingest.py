"""Ingesting one evidence item into a case: plan, run on an executor, commit unit by unit.

Re-running the same ingest after any interruption skips every committed unit and converges on the
state an uninterrupted run would have reached; the run table records each attempt.
"""

from __future__ import annotations

import hashlib
import itertools
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, or_, select

from veriscan import __version__, interrupts
from veriscan.analyzers.base import Analyzer, run_order
from veriscan.domain import RunInfo, UnitResult
from veriscan.pipeline.detector_stage import resolve_stage
from veriscan.pipeline.executors import Executor, make_executor
from veriscan.pipeline.plan import PlanStats, WorkUnit, batched_items
from veriscan.pipeline.process import process_unit
from veriscan.plugins import PluginError, Registry
from veriscan.settings import Settings, SettingsError
from veriscan.sources.base import EvidenceSource
from veriscan.stages.base import StageContext, StageResult
from veriscan.stages.runner import run_stages, select_stages
from veriscan.store import schema
from veriscan.store.case import Case, EvidenceRow


class Progress(Protocol):
    def set_total(self, files: int, nbytes: int) -> None: ...

    def advance(self, files: int, nbytes: int, problems: int) -> None: ...


class NullProgress:
    def set_total(self, files: int, nbytes: int) -> None:
        pass

    def advance(self, files: int, nbytes: int, problems: int) -> None:
        pass


@dataclass
class IngestReport:
    label: str
    run_id: int
    status: str = "running"
    files_seen: int = 0
    files_skipped: int = 0
    locations: int = 0
    new_contents: int = 0
    bytes_read: int = 0
    problems: int = 0
    seconds: float = 0.0
    acquisition_hash: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    stages: list[StageResult] = field(default_factory=list)
    """The case-wide stages this run ran after the ingest, in their order."""
    problems_in_evidence: int = 0


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C ended the ingest; ``report`` says how far it got (what is committed stays)."""

    def __init__(self, report: IngestReport) -> None:
        super().__init__()
        self.report = report


class DeferredInterrupt:
    """Ctrl-C lands between unit commits, never inside one.

    A KeyboardInterrupt raised inside a database commit can leave the connection unusable, and the
    run record then cannot be closed; deferring it to the next unit boundary keeps every commit
    whole. The executor polls ``check`` while it waits, so the run still stops within a fraction
    of a second however long a unit takes. Only the main thread can own signal handlers; elsewhere
    Ctrl-C behaves as usual.
    """

    def __init__(self) -> None:
        self.requested = interrupts.pending()  # a Ctrl-C swallowed before the ingest began
        self._previous: Any = None

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        interrupts.request()

    def check(self) -> None:
        if self.requested or interrupts.pending():
            self.requested = True
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if interrupts.pending():  # acted on here: a later ingest in this process starts afresh
            self.requested = True
            interrupts.clear()
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _estimate(source: EvidenceSource, progress: Progress, stop: threading.Event) -> None:
    """Count files in the background so the progress bar can show an ETA."""
    files = nbytes = 0
    for item in source.census():
        if stop.is_set():
            return
        files += 1
        nbytes += item.size or 0
    progress.set_total(files, nbytes)


def prepare_analyzers(
    registry: Registry, settings: Settings
) -> tuple[list[type[Any]], dict[str, str]]:
    """The analyzers a run uses (each unit runs them in ``run_order``) and the versions its record
    stores; one whose ``prepare`` says it has nothing to run with (no detector model installed) is
    left out of both.

    Raises SettingsError for a skip list naming no analyzer, a table ``[veriscan.analyzers.ID]``
    of no analyzer or one its analyzer rejects, a requirement on no analyzer or a cycle, or a
    setting an analyzer rejects."""
    registered = registry.ids("analyzers")
    unknown = settings.skipped - set(registered)
    if unknown:
        raise SettingsError(f"cannot skip unknown analyzer(s): {', '.join(sorted(unknown))}")
    stray = sorted(set(settings.table_names("analyzers")) - set(registered))
    if stray:
        raise SettingsError(f"[veriscan.analyzers.{stray[0]}] names no installed analyzer")
    if settings.table_names("classifiers") and "classifier" not in registered:
        raise SettingsError("[veriscan.classifiers] needs the classifier analyzer (not installed)")
    try:
        classes = registry.analyzers()
    except PluginError as exc:
        raise SettingsError(str(exc)) from exc
    run_order([c for c in classes if issubclass(c, Analyzer)], registered)
    chosen: list[type[Any]] = []
    versions: dict[str, str] = {}
    for cls in classes:
        if cls.id in settings.skipped:
            continue
        cls.config_from(settings)
        version = cls.prepare(settings) if issubclass(cls, Analyzer) else cls.version
        if version is not None:
            chosen.append(cls)
            versions[cls.id] = version
    return chosen, versions


def acquisition_hash(
    case: Case, evidence: EvidenceRow, source: EvidenceSource | None = None
) -> tuple[str | None, str]:
    """Folder: SHA-256 over the sorted manifest (path, size, SHA-256); a file: its own SHA-256;
    a disk image: the media hash this case verified, else the one stored in the image."""
    verified = (evidence.details or {}).get("verification")
    if verified and verified.get("computed", {}).get("sha256"):
        return verified["computed"]["sha256"], (
            f"sha256 of the media, computed by veriscan on {verified.get('checked_at')}; "
            f"verification against stored hashes: {verified.get('result')}"
        )
    own = source.acquisition() if source is not None else None
    if own is not None:
        return own
    rows = case.folder_manifest(evidence.id)
    if evidence.source_type != "folder":
        for _, _, sha in rows:
            if sha is not None:
                return sha, "sha256 of the evidence file"
        return hashlib.sha256(b"").hexdigest(), "evidence file unreadable: sha256 of nothing"
    h = hashlib.sha256()
    for locator, size, sha in rows:
        h.update(f"{locator}\t{size if size is not None else '-'}\t{sha or '-'}\n".encode())
    return h.hexdigest(), "sha256 over sorted manifest lines 'path<TAB>size<TAB>sha256'"


def ingest(
    case: Case,
    evidence: EvidenceRow,
    source: EvidenceSource,
    registry: Registry,
    settings: Settings,
    *,
    command: str,
    executor: str = "local",
    progress: Progress | None = None,
) -> IngestReport:
    pool = make_executor(executor, settings.effective_workers, settings.ray_address)
    try:
        stage = resolve_stage(settings.detector_stage, pool.gpus())
        settings = settings.replace(detector_stage=stage)
        report = _ingest(
            case, evidence, source, registry, settings, command, pool, progress or NullProgress()
        )
    except BaseException:
        pool.abort()
        raise
    pool.close()
    return report


def _ingest(
    case: Case,
    evidence: EvidenceRow,
    source: EvidenceSource,
    registry: Registry,
    settings: Settings,
    command: str,
    pool: Executor,
    progress: Progress,
) -> IngestReport:
    analyzers, versions = prepare_analyzers(registry, settings)
    stages = select_stages(registry)  # an unknown `after` or a cycle fails before any work
    info = RunInfo(
        command=command,
        veriscan_version=__version__,
        analyzers=versions,
        settings=settings.as_dict(),
    )
    described = source.describe()
    if described is not None:
        case.update_evidence_details(evidence.id, image=described)
    run_id = case.start_run(info, evidence.id)
    report = IngestReport(evidence.label, run_id)
    started = time.monotonic()
    stats = PlanStats()
    counter = itertools.count()
    tmp_dir = str(case.tmp_dir)
    db_url = case.engine.url.render_as_string(hide_password=False)

    def units() -> Iterator[WorkUnit]:
        groups = batched_items(
            source.items(), settings, lambda locs: case.done_locators(evidence.id, locs), stats
        )
        for group in groups:
            yield WorkUnit(
                unit_id=f"{run_id}-{next(counter)}",
                source_cls=type(source),
                source=source.spec,
                items=tuple(group),
                settings=settings,
                analyzer_classes=tuple(analyzers),
                tmp_dir=tmp_dir,
                db_url=db_url,
            )

    stop = threading.Event()
    threading.Thread(target=_estimate, args=(source, progress, stop), daemon=True).start()
    with DeferredInterrupt() as interrupt:
        try:
            window = settings.effective_workers * 2
            for result in pool.map_unordered(process_unit, units(), window, interrupt.check):
                _commit(case, evidence, run_id, result, report, progress)
                interrupt.check()
            # Once every unit is in, the evidence is complete: the case-wide stages follow, each
            # leaving what it committed when Ctrl-C stops it (the next run finishes the rest).
            report.files_seen, report.files_skipped = stats.items_seen, stats.items_skipped
            report.acquisition_hash, method = acquisition_hash(case, evidence, source)
            case.complete_evidence(evidence.id, report.acquisition_hash, method)
            report.status = "completed"
            context = StageContext(
                settings, pool, registry, command, run_id, versions, interrupt.check
            )
            for outcome in run_stages(case, stages, context):
                report.stages.append(outcome)
                report.problems += outcome.problems
            report.problems_in_evidence = problems_on_evidence(case, evidence.id)
        except BaseException as exc:
            if report.status != "completed":
                report.status = "interrupted"
            if interrupt.requested:  # whatever broke after Ctrl-C (a pool torn down) is its echo
                raise IngestInterrupted(report) from exc
            raise
        finally:
            stop.set()
            _close_run(case, run_id, report, stats, started)
    if interrupt.requested:
        raise IngestInterrupted(report)
    return report


def _close_run(
    case: Case, run_id: int, report: IngestReport, stats: PlanStats, started: float
) -> None:
    """The run row gets its end state and counts, whatever ended the run."""
    report.seconds = time.monotonic() - started
    report.counts = {
        "files_seen": stats.items_seen,
        "files_skipped": stats.items_skipped,
        "locations": report.locations,
        "new_contents": report.new_contents,
        "bytes_read": report.bytes_read,
        "problems": report.problems,
    }
    for result in report.stages:
        report.counts.update(result.run_counts)
    case.finish_run(run_id, report.status, report.counts)


def problems_on_evidence(case: Case, evidence_id: int) -> int:
    """Problems on the evidence's locations and on the contents found there, from every run: a
    resumed run that has nothing left to do still reports what the evidence holds."""
    p, loc = schema.problems.c, schema.locations.c
    held = select(loc.sha256).where(loc.evidence_id == evidence_id, loc.sha256.isnot(None))
    q = (
        select(func.count())
        .select_from(schema.problems)
        .where(or_(p.evidence_id == evidence_id, p.sha256.in_(held)))
    )
    with case.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _commit(
    case: Case,
    evidence: EvidenceRow,
    run_id: int,
    result: UnitResult,
    report: IngestReport,
    progress: Progress,
) -> None:
    report.new_contents += case.write_unit(evidence.id, run_id, result)
    problems = sum(len(r.problems) for r in result.locations) + sum(
        len(c.problems) for c in result.contents
    )
    report.locations += len(result.locations)
    report.bytes_read += result.bytes_read
    report.problems += problems
    progress.advance(result.files, result.file_bytes, problems)
