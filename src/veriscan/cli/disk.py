"""`veriscan verify-image` and the `--verify` step of `add`/`scan`: media hashes, with progress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from veriscan.cli.common import err, fail, out
from veriscan.sources.disk.media import looks_like_image
from veriscan.sources.disk.verify import Verification, verify_image
from veriscan.store.case import Case, EvidenceRow

VerifyOpt = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="Disk images: hash the whole media first and compare with the stored hashes.",
    ),
]
LOG_EVERY_S = 10.0


def run_verification(path: Path, expected: dict[str, str] | None = None) -> Verification:
    """Verify with a Rich bar on a terminal and periodic log lines otherwise."""
    if err.is_terminal:
        with Progress(
            "[bold]verify",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
        ) as bar:
            task = bar.add_task(path.name, total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return verify_image(path, expected=expected, progress=tick)
    last = [time.monotonic()]

    def log(done: int, total: int) -> None:
        if time.monotonic() - last[0] >= LOG_EVERY_S or done == total:
            last[0] = time.monotonic()
            print(f"[verify {path.name}] {done}/{total} bytes", file=sys.stderr, flush=True)

    return verify_image(path, expected=expected, progress=log)


def print_verification(v: Verification) -> None:
    lines = [
        f"image: {v.image} ({v.format}, {v.media_size} bytes, {len(v.segments)} segment(s))",
        *(f"  stored   {k}: {val}" for k, val in sorted(v.stored.items())),
        *(f"  expected {k}: {val}" for k, val in sorted(v.expected.items())),
        *(f"  computed {k}: {val}" for k, val in sorted(v.computed.items())),
        f"result: {v.summary()} ({v.seconds:.1f}s)",
    ]
    for line in lines:
        out.print(line, highlight=False, markup=False)


def verify_for_case(case: Case, evidence: EvidenceRow, path: Path) -> None:
    """`add --verify`: the result is kept with the evidence; a mismatch is loud but not fatal,
    because triage of a damaged copy may still be needed and the record says it was damaged."""
    if not looks_like_image(path):
        fail(f"--verify applies to disk images; {path} is not one")
    result = run_verification(path)
    print_verification(result)
    case.update_evidence_details(evidence.id, verification=result.as_dict())
    if not result.ok:
        err.print(
            f"WARNING: {path.name} did not verify ({result.summary()}); recorded in the case",
            markup=False,
        )


def verify_image_cmd(
    image: Annotated[
        Path, typer.Argument(metavar="IMAGE", help="E01 (first segment), raw or .001")
    ],
    md5: Annotated[str | None, typer.Option("--md5", help="Expected MD5 (raw images).")] = None,
    sha1: Annotated[str | None, typer.Option("--sha1", help="Expected SHA-1.")] = None,
    sha256: Annotated[str | None, typer.Option("--sha256", help="Expected SHA-256.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hash the media of a disk image and compare with its stored (or given) hashes.

    Exit status: 0 verified (or computed, when nothing was stored or given), 1 mismatch,
    2 unreadable.
    """
    if not image.is_file():
        fail(f"{image} is not a file")
    given = {k: v for k, v in (("md5", md5), ("sha1", sha1), ("sha256", sha256)) if v}
    result = run_verification(image, expected=given)
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
    else:
        print_verification(result)
    raise typer.Exit({"mismatch": 1, "unreadable": 2}.get(result.result, 0))
