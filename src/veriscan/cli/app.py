"""The `veriscan` command.

Exit codes: 0 ok; 1 completed but some files had problems; 2 usage or setup error (one line on
stderr, no traceback); 3 internal error (one line; the traceback goes to a log file); 130
interrupted (re-run the same command to resume). `veriscan.cli.entry` maps every ending to them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from veriscan import __version__
from veriscan.cli.common import audit_export, err, fail, open_case, out
from veriscan.cli.detector import detector_app
from veriscan.cli.disk import VerifyOpt, verify_image_cmd
from veriscan.cli.entry import guarded, remember_case
from veriscan.cli.exports import ExportGroup, export_hashes_cmd, export_vics_cmd, match_cmd
from veriscan.cli.ingest import (
    AddressOpt,
    CarveOpt,
    ConfigOpt,
    DbOpt,
    DetectorModelOpt,
    DetectorStageOpt,
    ExecutorOpt,
    ListsOpt,
    NoDetectorOpt,
    PdqOpt,
    PromptsOpt,
    SkipOpt,
    WorkersOpt,
    exit_code,
    list_flags,
    prepare_ingest,
    print_report,
    registry_or_fail,
    run_ingest,
    scan_settings,
)
from veriscan.cli.lists import LibraryOpt, lists_app
from veriscan.cli.refresh import refresh_cmd
from veriscan.cli.render import guard_prompts, render_content, withheld_note
from veriscan.cli.review import audit_app, case_scheme_cmd, serve, users_app
from veriscan.store.case import Case, CaseError, is_case
from veriscan.store.match_queries import matching_summary
from veriscan.store.queries import content_objects, find_shas, location_problems, summary

app = typer.Typer(
    help="Offline forensic triage: hash, identify and analyse seized evidence into a case.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
case_app = typer.Typer(help="Create and inspect cases.", no_args_is_help=True)
export_app = typer.Typer(
    help="Export a case: jsonl, vics, hashes, or ID (any registered exporter, e.g. html).",
    no_args_is_help=True,
    cls=ExportGroup,
)
app.add_typer(case_app, name="case")
app.add_typer(export_app, name="export")
app.add_typer(lists_app, name="lists")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(detector_app, name="detector")
app.command("serve")(serve)
case_app.command("scheme")(case_scheme_cmd)
app.command("match")(match_cmd)
app.command("verify-image")(verify_image_cmd)
app.command("refresh")(refresh_cmd)
export_app.command("vics")(export_vics_cmd)
export_app.command("hashes")(export_hashes_cmd)


@case_app.command("init")
def case_init(
    directory: Annotated[Path, typer.Argument(help="Case folder to create (mode 0700).")],
    name: Annotated[str, typer.Option("--name", help="Case name or reference.")],
    examiner: Annotated[str, typer.Option("--examiner", help="Examiner responsible.")],
    agency: Annotated[str | None, typer.Option("--agency")] = None,
    db: DbOpt = None,
) -> None:
    """Create a case folder holding the case database (SQLite, or PostgreSQL with --db)."""
    try:
        Case.init(directory, name, examiner, agency, db_url=db).close()
    except CaseError as exc:
        fail(str(exc))
    out.print(f"case created: {directory}", highlight=False, markup=False)


@app.command()
def add(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    source: Annotated[Path, typer.Argument(metavar="SOURCE")],
    label: Annotated[str, typer.Option("--label", help="Evidence label, unique in the case.")],
    custodian: Annotated[str | None, typer.Option("--custodian")] = None,
    pdq: PdqOpt = None,
    workers: WorkersOpt = None,
    skip: SkipOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    config: ConfigOpt = None,
    lists: ListsOpt = None,
    library: LibraryOpt = None,
    verify: VerifyOpt = False,
    carve: CarveOpt = None,
    no_detector: NoDetectorOpt = False,
    detector_model: DetectorModelOpt = None,
    detector_stage: DetectorStageOpt = None,
) -> None:
    """Ingest an evidence item (folder, file, archive or disk image); re-run to resume."""
    settings = scan_settings(
        config,
        no_detector,
        detector_model,
        pdq=pdq,
        workers=workers,
        skip=skip,
        carve=carve,
        ray_address=address,
        detector_stage=detector_stage,
        **list_flags(lists, library),
    )
    case = open_case(case_dir)
    prepared = prepare_ingest(source, settings, executor)
    report = run_ingest(case, prepared, label, custodian, settings, executor, verify)
    print_report(report)
    raise typer.Exit(exit_code(report))


@app.command()
def scan(
    source: Annotated[Path, typer.Argument(metavar="SOURCE")],
    case_dir: Annotated[
        Path, typer.Option("--case", help="Case folder, created if missing.")
    ] = Path("veriscan-case"),
    label: Annotated[str | None, typer.Option("--label")] = None,
    custodian: Annotated[str | None, typer.Option("--custodian")] = None,
    examiner: Annotated[str | None, typer.Option("--examiner")] = None,
    db: DbOpt = None,
    pdq: PdqOpt = None,
    workers: WorkersOpt = None,
    skip: SkipOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    config: ConfigOpt = None,
    lists: ListsOpt = None,
    library: LibraryOpt = None,
    verify: VerifyOpt = False,
    carve: CarveOpt = None,
    no_detector: NoDetectorOpt = False,
    detector_model: DetectorModelOpt = None,
    detector_stage: DetectorStageOpt = None,
) -> None:
    """One-shot triage: create or reuse a case, ingest SOURCE, write the HTML report."""
    settings = scan_settings(
        config,
        no_detector,
        detector_model,
        pdq=pdq,
        workers=workers,
        skip=skip,
        carve=carve,
        ray_address=address,
        detector_stage=detector_stage,
        **list_flags(lists, library),
    )
    prepared = prepare_ingest(source, settings, executor)  # before a case is created
    if is_case(case_dir):
        case = open_case(case_dir)
    else:
        who = examiner or os.environ.get("USER") or "unknown"
        try:
            case = Case.init(case_dir, case_dir.name, who, db_url=db)
        except CaseError as exc:
            fail(str(exc))
        remember_case(case.root)
    report = run_ingest(
        case, prepared, label or source.resolve().name, custodian, settings, executor, verify
    )
    print_report(report)
    path = _write_report(case, case_dir / "report.html", thumbnails=False)
    out.print(f"report: {path}", highlight=False, markup=False)
    raise typer.Exit(exit_code(report))


@app.command()
def status(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Counts per evidence item, type and problem code, and the run history."""
    case = open_case(case_dir)
    s = summary(case)
    s["matching"] = matching_summary(case)
    if as_json:
        print(json.dumps(s, indent=2, default=str))
        return
    c = s["case"]
    out.print(f"[bold]{escape(c['name'])}[/bold] (examiner {escape(c['examiner'])})")
    for e in s["evidence"]:
        state = "complete" if e["completed_at"] else "incomplete"
        out.print(
            f"  {e['label']}: {e['locations']} locations, {state}, "
            f"acquisition hash {e['acquisition_hash'] or '-'}",
            highlight=False,
            markup=False,
        )
    out.print(
        f"{s['locations']} locations, {s['contents']} unique contents, {s['problems']} problems"
    )
    for mime, n in s["by_type"].items():
        out.print(f"  {mime}: {n}", highlight=False, markup=False)
    for code, n in s["problems_by_code"].items():
        out.print(f"  problem {code}: {n}", highlight=False, markup=False)
    m = s["matching"]
    out.print(
        f"{m['matched']} files on flagged hash lists, {m['known_good']} known-good, "
        f"{m['groups']} near-duplicate groups"
    )
    for name, kinds in m["lists"].items():
        detail = ", ".join(f"{k} {n}" for k, n in kinds.items())
        out.print(f"  list {name}: {detail}", highlight=False, markup=False)


@app.command()
def show(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    needle: Annotated[str, typer.Argument(metavar="PATH-OR-SHA256")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    prompts: PromptsOpt = False,
) -> None:
    """Everything known about one file, by SHA-256, MD5, SHA-1 or locator."""
    case = open_case(case_dir)
    shas = find_shas(case, needle)
    objects: list[dict[str, Any]] = list(content_objects(case, shas)) if shas else []
    if not objects:
        probs = location_problems(case, needle)
        if not probs:
            fail(f"nothing in the case matches {needle!r}")
        objects = [{"locator": needle, "content": None, "problems": probs}]
    objects, withheld = guard_prompts(case, objects, prompts=prompts)
    if as_json:
        print(json.dumps(objects if len(objects) > 1 else objects[0], indent=2, default=str))
        return
    for obj in objects:
        render_content(out, obj)
    withheld_note(out, withheld)


@export_app.command("jsonl")
def export_jsonl(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default stdout).")
    ] = None,
    prompts: PromptsOpt = False,
) -> None:
    """One JSON object per unique content (schema in the README)."""
    exporter = registry_or_fail().exporter("jsonl")()
    case = open_case(case_dir)
    if output is None:
        n = exporter.write(case, sys.stdout, prompts=prompts)
    else:
        with output.open("w", encoding="utf-8") as fh:
            n = exporter.write(case, fh, prompts=prompts)
    audit_export(case, "jsonl", str(output or "stdout"), records=n, prompts=prompts)
    err.print(f"{n} records exported", highlight=False, markup=False)


def _write_report(
    case: Case, path: Path, thumbnails: bool, prompts: bool = False, known_good: bool = False
) -> Path:
    exporter = registry_or_fail().exporter("html")()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        exporter.write(case, fh, thumbnails=thumbnails, prompts=prompts, known_good=known_good)
    return path


@app.command()
def report(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    thumbnails: Annotated[
        bool, typer.Option("--thumbnails", help="Embed blurred greyscale thumbnails.")
    ] = False,
    prompts: PromptsOpt = False,
    known_good: Annotated[
        bool, typer.Option("--known-good", help="Also list files found on allow-lists (NSRL).")
    ] = False,
) -> None:
    """Write the self-contained HTML report (default CASE/report.html)."""
    case = open_case(case_dir)
    path = output or case_dir / "report.html"
    if thumbnails and case_dir.resolve() not in path.resolve().parents:
        fail("a report with thumbnails is evidence: write it inside the case folder")
    path = _write_report(case, path, thumbnails, prompts, known_good)
    audit_export(case, "html", str(path), thumbnails=thumbnails, prompts=prompts)
    out.print(f"report: {path}", highlight=False, markup=False)


@app.command("demo-evidence")
def demo_evidence(
    directory: Annotated[Path, typer.Argument(help="Empty or new folder to fill.")],
    seed: Annotated[int, typer.Option("--seed")] = 7,
    hash_list: Annotated[
        Path | None,
        typer.Option("--list", help="Also write a demo hash list (CSV) there, outside DIR."),
    ] = None,
    bulk: Annotated[
        int, typer.Option("--bulk", help="Add N more landscape photos (970: a 1,000-file case).")
    ] = 0,
) -> None:
    """Draw a benign sample evidence set (landscapes, shapes, archives, a corrupt file)."""
    from veriscan.demo.ai import add_ai_samples
    from veriscan.demo.evidence import make_demo_evidence

    try:
        made = make_demo_evidence(directory, seed=seed)
    except ValueError as exc:
        fail(str(exc))
    samples = add_ai_samples(directory)
    if bulk:
        from veriscan.demo.evidence import add_bulk_photos

        try:
            add_bulk_photos(directory, bulk, seed=seed)
        except ValueError as exc:
            fail(str(exc))
        out.print(f"plus {bulk} bulk photos", highlight=False, markup=False)
    if hash_list is not None:
        from veriscan.demo.lists import write_demo_list

        n = write_demo_list(directory, hash_list)
        out.print(f"demo hash list: {hash_list} ({n} entries)", highlight=False, markup=False)
    out.print(str(made), highlight=False, markup=False)
    out.print(
        f"plus {len(samples)} landscapes carrying AI-generator style metadata "
        f"(benign prompts) in {directory / 'Downloads' / 'generated'}",
        highlight=False,
        markup=False,
    )


@app.command()
def version() -> None:
    """Print the veriscan version."""
    out.print(__version__)


def main() -> None:
    """Kept for installs whose console script still names this function."""
    sys.exit(guarded(app))
