"""What `add` and `scan` share: their options, settings layering and the ingest run itself."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from veriscan.cli.common import err, fail, out
from veriscan.cli.disk import verify_for_case
from veriscan.cli.lists import library_for, run_matching
from veriscan.cli.progress import ScanProgress
from veriscan.pipeline.ingest import IngestReport, ingest, prepare_analyzers
from veriscan.pipeline.ray_executor import ExecutorError
from veriscan.plugins import PluginError, Registry, load_registry
from veriscan.settings import Settings, SettingsError, load_settings
from veriscan.sources.base import EvidenceSource, SourceError
from veriscan.store.case import Case

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
    for cls in registry.classes("sources"):
        if cls.accepts(path):
            source: EvidenceSource = cls(path.resolve(), settings)
            return source
    fail(f"no evidence source can read {path} (symlink, device or unsupported type)")


def run_ingest(
    case: Case,
    source_path: Path,
    label: str,
    custodian: str | None,
    settings: Settings,
    executor: str,
    verify: bool = False,
) -> IngestReport:
    registry = registry_or_fail()
    try:  # before anything is written: a bad skip list or detector model stops here
        prepare_analyzers(registry, settings)
    except SettingsError as exc:
        fail(str(exc))
    source = source_for(registry, source_path, settings)
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
                registry,
                settings,
                command=command,
                executor=executor,
                progress=progress,
            )
    except (SourceError, SettingsError, ExecutorError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to resume")
        raise typer.Exit(130) from None


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
    if report.acquisition_hash:
        out.print(f"acquisition hash: {report.acquisition_hash}", highlight=False, markup=False)
    stage = report.detector
    if stage.waiting:
        where = ", ".join(sorted(stage.providers)) or "no model session"
        out.print(
            f"detector batch stage: {stage.scored} images scored, {stage.failed} failed "
            f"in {stage.seconds:.1f}s ({where})",
            highlight=False,
            markup=False,
        )


def match_after_ingest(
    case_dir: Path, settings: Settings, names: list[str] | None, library: Path | None
) -> None:
    """Scans match against the selected lists (all in the library unless named) when any exist."""
    lib = library_for(library, settings)
    chosen = names or [n for n in settings.lists.split(",") if n.strip()]
    if chosen or lib.names():
        run_matching(case_dir, chosen, lib)
