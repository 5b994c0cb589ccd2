"""Disk-image scan throughput against the same photos scanned as a folder, in the same run.

Reading through The Sleuth Kit adds a layer (image, volume, file system) to every read; the ratio
``folder seconds / image seconds`` says what that layer costs on this machine, whatever its disk
and CPU. The image is ext4 built with ``mkfs.ext4 -d`` from the folder (no root, no mount), so both
sides hold byte-identical files. Both are read once beforehand so neither pays a cold cache.

    python bench/disk.py [--gb 2] [--workers N] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from throughput import Run, find_photos, replicate, run_measured, veriscan_command

TARGET_RATIO = 0.8


def build_ext4(folder: Path, image: Path, payload: int) -> None:
    size_mb = int(payload * 1.15 / 1e6) + 128
    subprocess.run(["truncate", "-s", f"{size_mb}M", str(image)], check=True)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-b", "4096", "-d", str(folder), str(image)], check=True
    )


def warm(path: Path) -> None:
    """Read every byte once so both scans start from the page cache."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        with f.open("rb") as fh:
            while fh.read(8 << 20):
                pass


def scan(cli: list[str], label: str, source: Path, work: Path, workers: int, n: int) -> Run:
    case = work / f"case-{label}-{n}"
    subprocess.run(
        [*cli, "case", "init", str(case), "--name", label, "--examiner", "bench"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    argv = [*cli, "add", str(case), str(source), "--label", label, "--workers", str(workers)]
    if label == "image-no-carve":
        argv.append("--no-carve")
    return run_measured(label, argv, 0, 0, work / f"{label}-{n}.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="payload size (default 2 GB)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each side")
    parser.add_argument("--veriscan", help="command to run veriscan (default: beside python)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if shutil.which("mkfs.ext4") is None:
        sys.exit("mkfs.ext4 not found: apt-get install e2fsprogs")
    cli = veriscan_command(args.veriscan)
    work = Path(tempfile.mkdtemp(prefix="veriscan-bench-disk-"))
    try:
        folder = work / "photos"
        copies = replicate(find_photos(), folder, args.gb * 1e9, unique=True)
        payload = sum(p.stat().st_size for p in copies)
        image = work / "photos.img"
        build_ext4(folder, image, payload)
        warm(folder)
        warm(image)
        sides = (("folder", folder), ("image", image), ("image-no-carve", image))
        runs: dict[str, list[Run]] = {label: [] for label, _ in sides}
        for n in range(args.rounds):
            for label, source in sides:
                run = scan(cli, label, source, work, args.workers, n)
                if not run.completed:
                    sys.exit(f"{label} scan failed (exit {run.rc}); see {work}")
                runs[label].append(run)
        best = {k: min(r.wall_s for r in v) for k, v in runs.items()}
        ratio = best["folder"] / best["image"]
        ratio_no_carve = best["folder"] / best["image-no-carve"]
        results: dict[str, Any] = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
            "files": len(copies),
            "payload_bytes": payload,
            "workers": args.workers,
            "image_bytes": image.stat().st_size,
            **{f"{k}_s": [round(r.wall_s, 2) for r in v] for k, v in runs.items()},
            **{f"{k}_mb_per_s": round(payload / 1e6 / b, 1) for k, b in best.items()},
            "peak_rss_image": max(r.peak_rss for r in runs["image"]),
            "ratio_image_vs_folder": round(ratio, 3),
            "ratio_image_no_carve_vs_folder": round(ratio_no_carve, 3),
            "target": TARGET_RATIO,
            "met": ratio >= TARGET_RATIO,
        }
        print(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
