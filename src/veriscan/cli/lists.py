"""`veriscan lists ...`: the hash-list library, and `veriscan match` against it."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from veriscan.cli.common import err, fail, open_case, out
from veriscan.matching.library import (
    FORMATS,
    ImportOptions,
    Library,
    LibraryError,
    ListMeta,
    default_library,
)
from veriscan.matching.lists.schemes import CATEGORY_ZERO_CHOICES, DEFAULT_CATEGORY_ZERO
from veriscan.matching.stored import StoredList
from veriscan.settings import Settings

lists_app = typer.Typer(help="Import and manage known-hash lists.", no_args_is_help=True)

LibraryOpt = Annotated[
    Path | None,
    typer.Option(
        "--library",
        help="Hash-list library (default: VERISCAN_LIBRARY or ~/.local/share/veriscan/lists).",
    ),
]


def library_for(path: Path | None, settings: Settings | None = None) -> Library:
    if path is not None:
        return Library(path)
    if settings is not None and settings.library:
        return Library(Path(settings.library))
    from veriscan.settings import load_settings

    configured = load_settings(Path("veriscan.toml")).library
    return Library(Path(configured) if configured else default_library())


def selected_lists(library: Library, names: Sequence[str]) -> list[StoredList]:
    """The lists a scan or `match` uses: those named, or every list in the library."""
    chosen = [n.strip() for n in names if n.strip()] or library.names()
    try:
        return [StoredList.open(library, n) for n in chosen]
    except LibraryError as exc:
        fail(str(exc))


def _meta_line(meta: ListMeta) -> str:
    hashes = ", ".join(f"{k} {v}" for k, v in sorted(meta.counts.get("hashes", {}).items()))
    videos = meta.counts.get("videos")
    kind = "known-good" if meta.known_good else "flagged"
    return (
        f"{meta.name}: {meta.counts.get('records', 0)} entries ({hashes or 'no hashes'}"
        f"{f', {videos} videos' if videos else ''}), {meta.format}, {kind}, scheme {meta.scheme}, "
        f"{meta.counts.get('bad_lines', 0)} bad lines, imported {meta.imported_at}"
    )


@lists_app.command("import")
def lists_import(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="List file (or folder of vPDQ files).")
    ],
    name: Annotated[str, typer.Option("--name", help="Name of the list in the library.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "auto",
    source: Annotated[str, typer.Option("--source", help="Where the list came from.")] = "",
    handling: Annotated[str, typer.Option("--handling", help="Handling or sharing note.")] = "",
    scheme: Annotated[
        str,
        typer.Option(
            "--scheme", help="US, UK or a custom scheme TOML (default: from file, else US)."
        ),
    ] = "",
    category_zero: Annotated[
        str,
        typer.Option(
            "--category-zero",
            help="What VICS Category 0 means: 'uncategorised' (default, safe) or 'non-pertinent'.",
        ),
    ] = DEFAULT_CATEGORY_ZERO,
    known_good: Annotated[
        bool | None,
        typer.Option(
            "--known-good/--flagged",
            help="Allow-list (hidden from review) or not. NSRL: known-good.",
        ),
    ] = None,
    threshold: Annotated[int, typer.Option("--pdq-threshold", help="PDQ match distance.")] = 31,
    min_quality: Annotated[
        int, typer.Option("--min-quality", help="Ignore PDQ below this quality.")
    ] = 50,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Plain lists: md5, sha1, sha256 or pdq (default by length)."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a list of the same name.")
    ] = False,
    library: LibraryOpt = None,
) -> None:
    """Import a list: VICS JSON, CSV/TSV, plain hashes, PDQ text, NSRL RDS v3, vPDQ frame files."""
    if category_zero not in CATEGORY_ZERO_CHOICES:
        fail(f"--category-zero must be one of {', '.join(CATEGORY_ZERO_CHOICES)}")
    if not 0 <= threshold <= 128:
        fail("--pdq-threshold must be between 0 and 128")
    options = ImportOptions(
        name=name,
        fmt=fmt,
        source=source,
        handling=handling,
        scheme=scheme,
        category_zero=category_zero,
        known_good=known_good,
        pdq_threshold=threshold,
        min_quality=min_quality,
        plain_kind=kind,
    )
    lib = library_for(library)
    try:
        report = lib.import_list(path, options, replace=replace)
    except LibraryError as exc:
        fail(str(exc))
    bad = report.meta.counts.get("bad_lines", 0)
    if not report.changed:
        out.print(f"{name}: unchanged (same file and options already imported)", markup=False)
        raise typer.Exit(1 if bad else 0)  # the same answer as the import it repeats
    out.print(_meta_line(report.meta), markup=False, highlight=False)
    for line, reason in report.first_bad:
        err.print(f"  line {line}: {reason}", markup=False, highlight=False)
    if bad:
        err.print(
            f"{bad} bad lines, all listed in {lib.root / name / 'bad-lines.tsv'}", markup=False
        )
        raise typer.Exit(1)  # imported, with problems: exit 1 as for a scan


@lists_app.command("ls")
def lists_ls(
    library: LibraryOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The lists in the library with their counts."""
    lib = library_for(library)
    metas = [lib.meta(n) for n in lib.names()]
    if as_json:
        print(json.dumps([m.__dict__ for m in metas], indent=2))
        return
    if not metas:
        out.print(f"no lists in {lib.root}", markup=False)
    for meta in metas:
        out.print(_meta_line(meta), markup=False, highlight=False)


@lists_app.command("show")
def lists_show(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    entries: Annotated[int, typer.Option("--entries", help="Also print the first N entries.")] = 0,
    library: LibraryOpt = None,
) -> None:
    """A list's metadata (source, handling, scheme, counts) and optionally its first entries."""
    lib = library_for(library)
    try:
        stored = StoredList.open(lib, name)
    except LibraryError as exc:
        fail(str(exc))
    print(json.dumps(stored.meta.__dict__, indent=2))
    for rec in islice(stored.records(), entries):
        hashes = " ".join(f"{k}={v}" for k, v in rec.hashes())
        out.print(
            f"line {rec.line}: {hashes} category={rec.category} series={rec.series} "
            f"labels={','.join(rec.labels)}",
            markup=False,
            highlight=False,
        )
    stored.close()


@lists_app.command("rm")
def lists_rm(
    name: Annotated[str, typer.Argument(metavar="NAME")], library: LibraryOpt = None
) -> None:
    """Remove a list from the library (cases keep the matches already recorded)."""
    lib = library_for(library)
    try:
        lib.remove(name)
    except LibraryError as exc:
        fail(str(exc))
    out.print(f"removed {name}", markup=False)


def run_matching(case_dir: Path, names: Sequence[str], lib: Library) -> int:
    """Match a case against lists and print one line per list; returns the number of matches."""
    from veriscan.matching.engine import match_case

    case = open_case(case_dir)
    lists = selected_lists(lib, names)
    if not lists:
        err.print(f"no lists in {lib.root}: nothing to match", markup=False)
        return 0
    command = " ".join(["veriscan", *sys.argv[1:]])
    summary = match_case(case, lists, command)
    for lst in lists:
        kinds = summary.lists.get(lst.name, {})
        detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"
        tag = " (known-good)" if lst.meta.known_good else ""
        out.print(f"{escape(lst.name)}{tag}: {detail}", highlight=False)
        lst.close()
    if summary.low_quality:
        out.print(f"{summary.low_quality} images below the PDQ quality floor were not compared")
    return summary.total
