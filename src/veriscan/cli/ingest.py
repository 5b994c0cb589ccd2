"""What `add` and `scan` share: their options, settings layering and the ingest run itself."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import IntegrityError

from veriscan.cli.common import err, fail, out
from veriscan.cli.disk import verify_for_case
from veriscan.cli.entry import interrupt_reported, log_traceback
from veriscan.cli.progress import ScanProgress
from veriscan.pipeline.executors import ExecutorError
from veriscan.pipeline.ingest import IngestInterrupted, IngestReport, ingest, prepare_analyzers
from veriscan.plugins import PluginError, Registry, load_registry
from veriscan.settings import Settings, SettingsError, load_settings
from veriscan.sources.base import EvidenceSource, SourceError
from veriscan.stages.base import StageError
from veriscan.stages.runner import check_stages, select_stages
from veriscan.store.case import Case
from veriscan.store.locks import LockHeldError, ingest_lock

EXECUTORS = ("local", "auto", "inline", "ray")

PdqOpt = Annotated[
    str | None, typer.Option("--pdq", help="PDQ decode: 'fast' (JPEG draft >=512 px) or 'exact'.")
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", "-j", help="Worker processes (default: all cores).")
]
SkipOpt = Annotated[
    str | None,
    typer.Option("--skip", help="Analyzers to leave out, comma-separated (e.g. provenance)."),
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor", help="'local' process pool, 'ray' (see --address) or 'inline' (debugging)."
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="VERISCAN_DB",
        help="Team store: a PostgreSQL URL (postgresql://user@host/db, optionally "
        "?options=-csearch_path%3Dcase1 for a schema per case); default: SQLite in the case.",
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Ray cluster for --executor ray: 'auto' (started on this machine) or "
        "ray://host:port; default: a Ray instance inside this process.",
    ),
]
PromptsOpt = Annotated[
    bool,
    typer.Option(
        "--prompts", help="Include generation prompts (withheld by default: may disturb)."
    ),
]
ListsOpt = Annotated[
    list[str] | None,
    typer.Option("--list", help="Hash list to match after the scan (repeat; default: all)."),
]
CarveOpt = Annotated[
    bool | None,
    typer.Option("--carve/--no-carve", help="Disk images: carve unallocated space (default on)."),
]
NoDetectorOpt = Annotated[
    bool,
    typer.Option(
        "--no-detector", help="Leave out the pixel-level AI detector (= --skip detector)."
    ),
]
DetectorModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--detector-model", help="Detector bundle folder to use instead of the packaged model."
    ),
]
DetectorStageOpt = Annotated[
    str | None,
    typer.Option(
        "--detector-stage",
        help="Where the detector scores: 'inline' in each work unit, 'batch' in a stage after "
        "them (Ray Data actors with --executor ray); default 'auto': batch when the Ray cluster "
        "has GPUs.",
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Settings file (default: ./veriscan.toml).")
]


def cli_settings(config: Path | None, **flags: Any) -> Settings:
    try:
        return load_settings(config or Path("veriscan.toml"), overrides=flags)
    except SettingsError as exc:
        fail(str(exc))


def list_flags(lists: list[str] | None, library: Path | None) -> dict[str, str | None]:
    """`--list` and `--library` as the settings the list-matching stage reads."""
    return {
        "lists": ",".join(lists) if lists else None,
        "library": str(library) if library is not None else None,
    }


def scan_settings(
    config: Path | None, no_detector: bool, detector_model: Path | None, **flags: Any
) -> Settings:
    """Settings for `add` and `scan`; --no-detector adds to the skip list from every layer
    rather than replacing it."""
    model = str(detector_model.expanduser().resolve()) if detector_model else None
    settings = cli_settings(config, detector_model=model, **flags)
    if no_detector:
        settings = settings.replace(skip=",".join(sorted(settings.skipped | {"detector"})))
    return settings


def registry_or_fail() -> Registry:
    try:
        return load_registry()
    except PluginError as exc:
        fail(str(exc))


def source_for(registry: Registry, path: Path, settings: Settings) -> EvidenceSource:
    if not path.exists():
        fail(f"evidence {path} does not exist")
    try:
        sources = registry.sources()
    except PluginError as exc:
        fail(str(exc))
    for cls in sources:
        if cls.accepts(path):
            return cls(path.resolve(), settings)
    fail(f"no evidence source can read {path} (symlink, device or unsupported type)")


@dataclass(frozen=True)
class Prepared:
    """What an ingest needs, checked before anything is written (a case included)."""

    registry: Registry
    source: EvidenceSource


def check_executor(executor: str) -> None:
    if executor not in EXECUTORS:
        fail(f"--executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")


def prepare_ingest(source_path: Path, settings: Settings, executor: str) -> Prepared:
    """Fail with a usage error on a bad skip list, detector model, executor name or source."""
    check_executor(executor)
    registry = registry_or_fail()
    try:
        prepare_analyzers(registry, settings)
        check_stages(select_stages(registry), settings)  # the stages after the ingest
    except (SettingsError, PluginError, StageError) as exc:
        fail(str(exc))
    return Prepared(registry, source_for(registry, source_path, settings))


def run_ingest(
    case: Case,
    prepared: Prepared,
    label: str,
    custodian: str | None,
    settings: Settings,
    executor: str,
    verify: bool = False,
) -> IngestReport:
    """Ingest under the label's lock: a second run of the same label refuses at once."""
    try:
        with ingest_lock(case.root, label, case.engine):
            return _locked_ingest(case, prepared, label, custodian, settings, executor, verify)
    except LockHeldError as exc:
        fail(
            f"evidence {label!r} is being ingested into this case by another veriscan run "
            f"({exc.holder}); wait for it to end, then run the same command to resume"
        )
    except IntegrityError as exc:
        logged = log_traceback(exc)
        fail(
            f"the case refused a duplicate record while ingesting {label!r} ({_constraint(exc)}): "
            "if another veriscan run was writing this evidence, run the same command again to "
            f"resume; otherwise it is a bug (details in {logged or 'no log: not writable'})"
        )
    except KeyboardInterrupt as exc:
        err.print(_where_stopped(case, label, exc), markup=False, highlight=False)
        interrupt_reported()
        raise typer.Exit(130) from None


def _locked_ingest(
    case: Case,
    prepared: Prepared,
    label: str,
    custodian: str | None,
    settings: Settings,
    executor: str,
    verify: bool,
) -> IngestReport:
    source = prepared.source
    existing = case.evidence(label)
    if existing:
        evidence = existing[0]
        if evidence.source_path != str(source.path):
            fail(
                f"label {label!r} already names {evidence.source_path}; "
                "choose another --label for a different source"
            )
        if evidence.completed_at:
            err.print(
                f"{label}: already ingested completely; checking for anything missing", markup=False
            )
    else:
        evidence = case.add_evidence(label, custodian, source.id, str(source.path))
    if verify and not (evidence.details or {}).get("verification"):
        verify_for_case(case, evidence, source.path)
        evidence = case.evidence(label)[0]  # now carrying the verification
    command = " ".join(["veriscan", *sys.argv[1:]])
    try:
        with ScanProgress(label, err) as progress:
            return ingest(
                case,
                evidence,
                source,
                prepared.registry,
                settings,
                command=command,
                executor=executor,
                progress=progress,
            )
    except (SourceError, SettingsError, ExecutorError, StageError) as exc:
        fail(str(exc))


def _constraint(exc: IntegrityError) -> str:
    """The database's own words name the constraint; the statement and values stay out."""
    text = str(exc.orig or exc).strip().splitlines()
    return text[0][:200] if text else "a unique constraint"


def _where_stopped(case: Case, label: str, exc: KeyboardInterrupt) -> str:
    report = exc.report if isinstance(exc, IngestInterrupted) else None
    try:
        rows = case.evidence(label)
        stored = case.count("locations", evidence_id=rows[0].id) if rows else 0
    except Exception:  # the line must come out even if the database is what got interrupted
        stored = -1
    held = f"{stored} locations of {label!r} are in the case" if stored >= 0 else "the case keeps"
    if report is not None and report.status == "completed":
        return (
            f"interrupted after the ingest completed ({held}); run the same command again "
            "to finish the steps after it"
        )
    this_run = f", {report.locations} committed by this run" if report is not None else ""
    return f"interrupted: {held}{this_run}; run the same command again to resume"


def print_report(report: IngestReport) -> None:
    rate = report.locations / report.seconds if report.seconds else 0.0
    out.print(
        f"{report.label}: {report.files_seen} files seen ({report.files_skipped} already done), "
        f"{report.locations} locations stored, {report.new_contents} new unique contents, "
        f"{report.bytes_read / 1e6:.1f} MB read in {report.seconds:.1f}s ({rate:.1f} files/s), "
        f"{report.problems} problems",
        highlight=False,
        markup=False,
    )
    if report.problems_in_evidence != report.problems:
        out.print(
            f"{report.label}: {report.problems_in_evidence} problems recorded on this evidence "
            "over all runs",
            highlight=False,
            markup=False,
        )
    if report.acquisition_hash:
        out.print(f"acquisition hash: {report.acquisition_hash}", highlight=False, markup=False)
    for stage in report.stages:
        for line in stage.lines:
            out.print(line, highlight=False, markup=False)


def exit_code(report: IngestReport) -> int:
    """1 when the evidence holds problems, from this run or an earlier one: a resumed run that
    finds everything committed answers as the uninterrupted run did."""
    return 1 if report.problems or report.problems_in_evidence else 0
