"""`veriscan refresh CASE [--stage ID ...]`: the case-wide stages again, evidence unread."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from veriscan.cli.common import err, fail, open_case, out
from veriscan.cli.entry import interrupt_reported
from veriscan.cli.ingest import (
    AddressOpt,
    ConfigOpt,
    DetectorModelOpt,
    ExecutorOpt,
    ListsOpt,
    WorkersOpt,
    check_executor,
    list_flags,
    registry_or_fail,
    scan_settings,
)
from veriscan.cli.lists import LibraryOpt
from veriscan.pipeline.executors import ExecutorError
from veriscan.pipeline.ingest import prepare_analyzers
from veriscan.pipeline.refresh import RefreshInterrupted, RefreshReport, refresh
from veriscan.plugins import PluginError
from veriscan.settings import SettingsError
from veriscan.stages.base import StageError
from veriscan.stages.runner import check_stages, select_stages

StageOpt = Annotated[
    list[str] | None,
    typer.Option("--stage", help="Stage to run (repeat; default: all, in their declared order)."),
]


def refresh_cmd(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    stage: StageOpt = None,
    lists: ListsOpt = None,
    library: LibraryOpt = None,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    config: ConfigOpt = None,
    detector_model: DetectorModelOpt = None,
) -> None:
    """Run the case-wide stages again (near-duplicate groups, toolchain links, list matching,
    detector batch scores) from what the case holds, without reading evidence."""
    settings = scan_settings(
        config,
        False,
        detector_model,
        workers=workers,
        ray_address=address,
        **list_flags(lists, library),
    )
    check_executor(executor)
    registry = registry_or_fail()
    try:
        stages = select_stages(registry, stage or ())
        check_stages(stages, settings)
        prepare_analyzers(registry, settings)
    except (PluginError, SettingsError, StageError) as exc:
        fail(str(exc))
    case = open_case(case_dir)
    command = " ".join(["veriscan", *sys.argv[1:]])
    try:
        report = refresh(case, registry, settings, stages, command=command, executor=executor)
    except (StageError, SettingsError, ExecutorError) as exc:
        fail(str(exc))
    except RefreshInterrupted as exc:
        _print(exc.report)
        err.print(
            "interrupted: what the stages committed stays; run the same command again to "
            "finish them",
            markup=False,
            highlight=False,
        )
        interrupt_reported()
        raise typer.Exit(130) from None
    _print(report)
    raise typer.Exit(1 if report.problems else 0)


def _print(report: RefreshReport) -> None:
    for result in report.stages:
        if result.skipped:
            out.print(f"{result.stage}: nothing pending", markup=False, highlight=False)
            continue
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items()) or "done"
        out.print(f"{result.stage}: {counts}", markup=False, highlight=False)
        for line in result.lines:
            out.print(line, markup=False, highlight=False)
