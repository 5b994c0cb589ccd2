"""`veriscan export vics|hashes|ID` and `veriscan match`: sharing hashes, matching stored hashes.

`export ID CASE` for any other ID runs the exporter registered under that id (entry-point group
``veriscan.exporters``: the built-in jsonl and html, and any installed plugin's).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from veriscan.cli.common import audit_export, err, fail, open_case
from veriscan.cli.lists import LibraryOpt, library_for, run_matching
from veriscan.matching.lists.schemes import Scheme, load_scheme

SchemeOpt = Annotated[
    str | None,
    typer.Option("--scheme", help="US, UK or a custom scheme TOML (default: the case's)."),
]
MatchedOpt = Annotated[
    bool, typer.Option("--matched-only", help="Only contents found on a (not known-good) list.")
]


def _scheme(name: str | None, case_dir: Path) -> Scheme:
    from veriscan.review.scheme import case_scheme

    if name is None:
        return case_scheme(open_case(case_dir))
    try:
        return load_scheme(name)
    except ValueError as exc:
        fail(str(exc))


class ExportGroup(TyperGroup):
    """`export`'s own subcommands first; an unknown name is looked up among the exporters.

    (Typer vendors its click, so the context and command types are left to TyperGroup.)
    """

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        from veriscan.cli.ingest import registry_or_fail

        if cmd_name not in registry_or_fail().ids("exporters"):
            return None
        return typer.main.get_command(_exporter_app(cmd_name))


def _exporter_app(exporter_id: str) -> typer.Typer:
    one = typer.Typer(add_completion=False)

    @one.command(name=exporter_id, help=f"Run the registered exporter {exporter_id!r}.")
    def run(
        case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
        output: Annotated[
            Path | None, typer.Option("-o", "--output", help="File (default stdout).")
        ] = None,
        prompts: Annotated[
            bool, typer.Option("--prompts", help="Include generation prompts.")
        ] = False,
        known_good: Annotated[
            bool,
            typer.Option("--include-known-good", help="Keep contents found on an allow-list."),
        ] = False,
    ) -> None:
        export_through_registry(exporter_id, case_dir, output, prompts, known_good)

    return one


def export_through_registry(
    exporter_id: str, case_dir: Path, output: Path | None, prompts: bool, known_good: bool
) -> None:
    from veriscan.cli.ingest import registry_or_fail
    from veriscan.plugins import PluginError

    try:
        exporter = registry_or_fail().exporter(exporter_id)()
    except PluginError as exc:
        fail(str(exc))
    case = open_case(case_dir)
    options: dict[str, Any] = {"prompts": prompts, "known_good": known_good}
    if output is None:
        n = exporter.write(case, sys.stdout, **options)
    else:
        with os.fdopen(_open_output(output), "w", encoding="utf-8") as fh:
            n = exporter.write(case, fh, **options)
    audit_export(case, exporter_id, str(output or "stdout"), records=n, prompts=prompts)
    err.print(f"{n} records exported", highlight=False, markup=False)


def _open_output(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def export_vics_cmd(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    output: Annotated[Path, typer.Option("-o", "--output", help="VICS JSON file to write.")],
    scheme: SchemeOpt = None,
    matched_only: MatchedOpt = False,
) -> None:
    """Project VIC VICS 2.0 JSON of the case's images and videos (hashes only, no pixels)."""
    from veriscan.reports.sharing import export_vics

    chosen = _scheme(scheme, case_dir)
    segment = chosen.name if chosen.name in ("US", "UK") else "CUSTOM"
    case = open_case(case_dir)
    with os.fdopen(_open_output(output), "w", encoding="utf-8") as fh:
        n = export_vics(case, fh, chosen, segment, matched_only=matched_only)
    audit_export(case, "vics", str(output), scheme=chosen.name, records=n)
    err.print(f"{n} media records written to {output}", markup=False, highlight=False)


def export_hashes_cmd(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or pdq (hash,quality).")] = "csv",
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            help="Only these categories (scheme keys, or 'uncategorised').",
        ),
    ] = None,
    scheme: SchemeOpt = None,
    matched_only: MatchedOpt = False,
) -> None:
    """A hash-only list of the case's images and videos, importable with `lists import`."""
    from veriscan.reports.sharing import export_csv, export_pdq

    if fmt not in ("csv", "pdq"):
        fail("--format must be csv or pdq")
    chosen = _scheme(scheme, case_dir)
    wanted: frozenset[str] | None = None
    if category:
        try:
            wanted = frozenset(chosen.key(c) or "uncategorised" for c in category)
        except ValueError as exc:
            fail(str(exc))
    case = open_case(case_dir)
    writer = export_csv if fmt == "csv" else export_pdq
    with os.fdopen(_open_output(output), "w", encoding="utf-8") as fh:
        n = writer(case, fh, chosen, matched_only=matched_only, categories=wanted)
    audit_export(case, fmt, str(output), records=n)
    err.print(f"{n} rows written to {output}", markup=False, highlight=False)


def match_cmd(
    case_dir: Annotated[Path, typer.Argument(metavar="CASE")],
    names: Annotated[
        list[str] | None, typer.Option("--list", help="List to match (repeat; default: all).")
    ] = None,
    library: LibraryOpt = None,
) -> None:
    """Match the case's stored hashes against lists (no evidence is read again)."""
    run_matching(case_dir, names or [], library_for(library))
