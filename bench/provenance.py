"""Provenance benchmark: detection rate and speed of veriscan's AI-evidence checks vs sd-parsers.

Run it in its own environment (`make bench-provenance` builds `.venv-bench` with sd-parsers), so
the comparison library never enters veriscan's test or runtime environment. Both tools read the
same files from ../shared/data, from memory, in one process, in the same run:

- detection: files whose generator metadata each tool recognises, per corpus folder, against the
  corpus manifest (files whose manifest says they carry generator metadata);
- false positives: camera photos (truth=real) that either tool calls AI-generated;
- speed: files/s of sd-parsers' ParserManager.parse, of veriscan's generator-metadata parsers
  alone (the like-for-like comparison), and of the full provenance analyzer (which also reads
  C2PA, IPTC, LSB payloads, watermarks and weak cues).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import platform
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = (REPO / ".." / "shared" / "data").resolve()
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".heic", ".avif", ".tif", ".tiff", ".dng"}


def corpus() -> list[dict[str, str]]:
    with (DATA / "MANIFEST.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r for r in rows if Path(r["file"]).suffix.lower() in IMAGE_SUFFIXES]


def carries_metadata(row: dict[str, str]) -> bool:
    prov = row["provenance"]
    return (
        row["category"] in ("a1111", "comfy", "othergen", "synthetic")
        and row["truth"] == "ai"
        and prov not in ("", "none")
        and "no infotext" not in prov
    )


def timed(
    fn: Callable[[bytes, str], bool], files: list[tuple[str, bytes]], rounds: int
) -> tuple[dict[str, bool], float]:
    results: dict[str, bool] = {}
    start = time.perf_counter()
    for _ in range(rounds):
        for rel, data in files:
            results[rel] = fn(data, rel)
    return results, len(files) * rounds / (time.perf_counter() - start)


def sd_parsers_fn() -> Callable[[bytes, str], bool]:
    from sd_parsers import ParserManager

    manager = ParserManager()

    def run(data: bytes, rel: str) -> bool:
        try:
            return manager.parse(io.BytesIO(data)) is not None
        except Exception:
            return False

    return run


def veriscan_parsers_fn() -> Callable[[bytes, str], bool]:
    from veriscan.analyzers.provenance.analyzer import PARSERS
    from veriscan.analyzers.provenance.base import ProvenanceError
    from veriscan.analyzers.provenance.metadata import read_metadata

    parsers = [cls() for cls in PARSERS]

    def run(data: bytes, rel: str) -> bool:
        try:
            meta = read_metadata(data, Path(rel).name)
        except ProvenanceError:
            return False
        found = False
        for parser in parsers:
            try:
                found = found or any(p.has_generation_parameters() for p in parser.parse(meta))
            except ProvenanceError:
                continue
        return found

    return run


def veriscan_full_fn(verdicts: dict[str, dict[str, Any]]) -> Callable[[bytes, str], bool]:
    from veriscan.analyzers.base import FileContext
    from veriscan.analyzers.filetype import sniff_mime
    from veriscan.analyzers.provenance.analyzer import ProvenanceAnalyzer
    from veriscan.domain import Attribute
    from veriscan.settings import Settings

    settings = Settings()
    analyzer = ProvenanceAnalyzer(settings)

    def run(data: bytes, rel: str) -> bool:
        ctx = FileContext(Path(rel).name, data, sniff_mime(data[:4096]), settings)
        for fact in analyzer.analyze(ctx):
            if isinstance(fact, Attribute) and fact.name == "ai":
                verdicts[rel] = fact.value
                return bool(fact.value["verdict"] == "conclusive")
        return False

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the corpus for timing")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not (DATA / "MANIFEST.tsv").is_file():
        print(f"the benign corpus is not at {DATA}", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")
    rows = corpus()
    files = [(r["file"], (DATA / r["file"]).read_bytes()) for r in rows]
    verdicts: dict[str, dict[str, Any]] = {}
    ours, ours_rate = timed(veriscan_parsers_fn(), files, args.rounds)
    full, full_rate = timed(veriscan_full_fn(verdicts), files, 1)
    try:
        theirs, theirs_rate = timed(sd_parsers_fn(), files, args.rounds)
    except ImportError:
        print("sd-parsers is not installed here: run `make bench-provenance`", file=sys.stderr)
        return 2

    per_folder: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    false_pos = {"veriscan": 0, "sd-parsers": 0, "veriscan indicative": 0}
    for row in rows:
        rel = row["file"]
        if carries_metadata(row):
            counts = per_folder[row["category"]]
            counts[0] += 1
            counts[1] += full[rel]
            counts[2] += theirs[rel]
            counts[3] += ours[rel]
        if row["category"] == "real" and row["truth"] == "real":
            verdict = verdicts[rel]["verdict"]
            false_pos["veriscan"] += verdict in ("conclusive", "strong")
            false_pos["veriscan indicative"] += verdict == "indicative"
            false_pos["sd-parsers"] += theirs[rel]
    real = sum(1 for r in rows if r["category"] == "real" and r["truth"] == "real")

    lines = [
        "| folder | files with generator metadata | veriscan (verdict conclusive) "
        "| veriscan parsers only | sd-parsers |",
        "|---|---|---|---|---|",
    ]
    total = [0, 0, 0, 0]
    for folder, (n, a, b, c) in sorted(per_folder.items()):
        lines.append(
            f"| {folder} | {n} | {a} ({a / n:.0%}) | {c} ({c / n:.0%}) | {b} ({b / n:.0%}) |"
        )
        total = [total[0] + n, total[1] + a, total[2] + b, total[3] + c]
    n, a, b, c = total
    lines.append(f"| **all** | {n} | {a} ({a / n:.1%}) | {c} ({c / n:.1%}) | {b} ({b / n:.1%}) |")
    lines += [
        "",
        "| measurement | veriscan | sd-parsers |",
        "|---|---|---|",
        f"| false positives on {real} camera photos | {false_pos['veriscan']} "
        f"({false_pos['veriscan indicative']} indicative) | {false_pos['sd-parsers']} |",
        f"| files/s, generator-metadata parsers | {ours_rate:.0f} | {theirs_rate:.0f} |",
        f"| files/s, full provenance analyzer | {full_rate:.0f} | - |",
        f"| speed ratio (parsers) | {ours_rate / theirs_rate:.2f}x | 1x |",
    ]
    print(
        f"{len(files)} image files from {DATA}; {platform.platform()}, Python "
        f"{platform.python_version()}\n"
    )
    print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "per_folder": per_folder,
                    "false_positives": false_pos,
                    "files_per_s": {
                        "veriscan_parsers": ours_rate,
                        "veriscan_full": full_rate,
                        "sd_parsers": theirs_rate,
                    },
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
