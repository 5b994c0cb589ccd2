"""Throughput and memory benchmark for ``veriscan scan`` and ``veriscan add``.

A bare files/s number says little: it moves with the disk, the CPU and the photos. So the scan is
measured next to a floor, the same files read, SHA-256 hashed, decoded and PDQ-hashed in a plain
process pool with the same worker count, and the ratio between the two is what tracks veriscan's
own overhead (planning, the case store, archive checks, reporting).

The tiny-file ingest shows whether memory grows with the number of files, which a seized phone with
millions of thumbnails and cache files would otherwise find out in the field.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import multiprocessing
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
import psutil
from PIL import Image, ImageOps, JpegImagePlugin

REPO = Path(__file__).resolve().parent.parent
DATA = (REPO / ".." / "shared" / "data").resolve()
PHOTO_DIRS = (DATA / "real", DATA / "pdq")
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".heic"})
FAST_MIN_SIDE = 512  # as in veriscan.analyzers.decode, so the floor decodes the same pixels
POLL_S = 0.2
FILES_PER_DIR = 1000

COMPLETED = (0, 1)  # veriscan exits 1 when it finished but some files had problems
TARGET_RATIO = 0.8
TARGET_PHOTOS_PER_S = 50.0
TARGET_PEAK_RSS = 1e9
TARGET_FLAT = 1.2  # "flat": the 100% ingest may peak at most 20% above the 10% ingest


@dataclass
class Run:
    """One measured run: wall time, the tree's peak RSS, and what it processed."""

    label: str
    files: int
    bytes: int
    wall_s: float
    peak_rss: int
    rc: int = 0
    errors: int = 0

    @property
    def completed(self) -> bool:
        return self.rc in COMPLETED

    @property
    def files_per_s(self) -> float:
        return self.files / self.wall_s if self.wall_s else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        rates = {"files_per_s": self.files_per_s, "mb_per_s": self.mb_per_s}
        return {**asdict(self), "completed": self.completed, **rates}


class RssSampler:
    """Peak RSS of a process and all its descendants, polled every 0.2 s in a thread.

    Polling the tree rather than reading ru_maxrss is the only way to see worker processes, and it
    sums them as they coexist, which is what the machine has to hold.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):  # exited between listing and reading
                total += proc.memory_info().rss
        self.peak = max(self.peak, total)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(POLL_S)


def veriscan_command(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    beside = Path(sys.executable).with_name("veriscan")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("veriscan")
    return [found] if found else [sys.executable, "-m", "veriscan"]


def run_measured(label: str, argv: list[str], files: int, nbytes: int, log: Path) -> Run:
    """Run a command with output to a log file, so a chatty progress bar cannot block on a pipe."""
    print(f"$ {shlex.join(argv)}", flush=True)
    start = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        with RssSampler(proc.pid) as sampler:
            rc = proc.wait()
    wall = time.perf_counter() - start
    if rc not in COMPLETED:
        tail = log.read_bytes()[-2000:].decode("utf-8", "replace")
        print(f"!! {label} exited with {rc}; last output:\n{tail}", file=sys.stderr)
    return Run(label, files, nbytes, wall, sampler.peak, rc=rc)


def find_photos() -> list[Path]:
    photos = [
        p
        for folder in PHOTO_DIRS
        if folder.is_dir()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
    ]
    if not photos:
        raise SystemExit(f"no photos under {', '.join(map(str, PHOTO_DIRS))}")
    return photos


def replicate(photos: list[Path], dest: Path, target_bytes: float, unique: bool) -> list[Path]:
    """Copy the photos round after round until ``target_bytes``.

    veriscan analyses each distinct content once per case, so plain copies would let it skip the
    decode the floor pays for. With ``unique`` each copy gets a trailer after the image data, which
    decoders ignore and which makes every SHA-256 distinct.
    """
    copies: list[Path] = []
    total, rnd = 0, 0
    while total < target_bytes:
        rnd += 1
        folder = dest / f"round{rnd:04d}"
        folder.mkdir(parents=True)
        for i, src in enumerate(photos):
            out = folder / f"{i:04d}_{src.name}"
            data = src.read_bytes()
            if unique:
                data += f"\nveriscan-bench copy {rnd}:{i}\n".encode()
            out.write_bytes(data)
            copies.append(out)
            total += len(data)
            if total >= target_bytes:
                break
    return copies


def _init_worker() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    warnings.simplefilter("ignore")  # the corpus holds damaged EXIF on purpose


def floor_one(path: str, mode: str) -> tuple[int, bool]:
    """What any scanner must do per photo at least: read, SHA-256, decode upright RGB, PDQ."""
    data = Path(path).read_bytes()
    hashlib.sha256(data).hexdigest()
    try:
        with Image.open(io.BytesIO(data)) as img:
            if mode == "fast" and isinstance(img, JpegImagePlugin.JpegImageFile):
                width, height = img.size
                img.draft("RGB", (min(width, FAST_MIN_SIDE), min(height, FAST_MIN_SIDE)))
            rgb = ImageOps.exif_transpose(img).convert("RGB")
        pdqhash.compute(np.asarray(rgb))
    except Exception:
        return len(data), False
    return len(data), True


def run_floor(copies: list[Path], workers: int, mode: str) -> Run:
    nbytes, errors = 0, 0
    work = functools.partial(floor_one, mode=mode)
    start = time.perf_counter()
    with (
        RssSampler(os.getpid()) as sampler,
        multiprocessing.Pool(workers, initializer=_init_worker) as pool,
    ):
        for size, ok in pool.imap_unordered(work, map(str, copies), chunksize=8):
            nbytes += size
            errors += not ok
    wall = time.perf_counter() - start
    return Run("floor", len(copies), nbytes, wall, sampler.peak, errors=errors)


def bench_photos(args: argparse.Namespace, work: Path, cli: list[str]) -> dict[str, Any]:
    photos = find_photos()
    print(f"replicating {len(photos)} photos from {DATA} to {args.gb:g} GB ...", flush=True)
    copies = replicate(photos, work / "photos", args.gb * 1e9, unique=not args.plain_copies)
    nbytes = sum(p.stat().st_size for p in copies)
    print(f"{len(copies)} files, {nbytes / 1e9:.2f} GB; floor ...", flush=True)
    floor = run_floor(copies, args.workers, args.pdq)
    scan_argv = [*cli, "scan", str(work / "photos"), "--case", str(work / "case-photos")]
    scan_argv += ["--pdq", args.pdq, "--workers", str(args.workers)]
    scan = run_measured("veriscan scan", scan_argv, len(copies), nbytes, work / "scan.log")
    ratio = scan.files_per_s / floor.files_per_s if floor.files_per_s and scan.completed else 0.0
    results = {
        "files": len(copies),
        "bytes": nbytes,
        "unique_copies": not args.plain_copies,
        "floor": floor.as_dict(),
        "veriscan": scan.as_dict(),
        "ratio": ratio,
    }
    if args.also_skip:
        # The floor covers hashing, decoding and PDQ only; a second scan without the extra
        # analyzers shows what the pipeline itself costs, the first what the full analysis costs.
        label = f"veriscan scan --skip {args.also_skip}"
        argv = [*cli, "scan", str(work / "photos"), "--case", str(work / "case-photos-skip")]
        argv += ["--pdq", args.pdq, "--workers", str(args.workers), "--skip", args.also_skip]
        lean = run_measured(label, argv, len(copies), nbytes, work / "scan-skip.log")
        results["veriscan_skip"] = lean.as_dict()
        results["skip"] = args.also_skip
        results["ratio_skip"] = lean.files_per_s / floor.files_per_s if lean.completed else 0.0
    return results


def tiny_paths(root: Path, start: int, stop: int) -> Iterator[tuple[Path, int]]:
    for i in range(start, stop):
        yield root / f"t{i // 100_000:03d}" / f"d{i // FILES_PER_DIR:05d}" / f"f{i:07d}.bin", i


def make_tiny(root: Path, n: int) -> list[tuple[Path, int, int]]:
    """N files of a few unique bytes, the first tenth under ``part-a`` so it can be ingested alone.

    Returns (source, files, bytes) for the 10% and the 100% ingest; one tree serves both, so the
    disk holds N files rather than 1.1 N.
    """
    tenth = max(1, n // 10)
    sizes = []
    for part, start, stop in ((root / "part-a", 0, tenth), (root / "part-b", tenth, n)):
        current: Path | None = None
        nbytes = 0
        for path, i in tiny_paths(part, start, stop):
            if path.parent != current:
                current = path.parent
                current.mkdir(parents=True, exist_ok=True)
            data = b"%d\n" % i
            path.write_bytes(data)
            nbytes += len(data)
            if (i + 1) % 100_000 == 0:
                print(f"  {i + 1:,} tiny files written", flush=True)
        sizes.append(nbytes)
    return [(root / "part-a", tenth, sizes[0]), (root, n, sizes[0] + sizes[1])]


def bench_tiny(args: argparse.Namespace, work: Path, cli: list[str]) -> dict[str, Any]:
    n = args.tiny
    print(f"writing {n:,} tiny files ...", flush=True)
    parts = make_tiny(work / "tiny", n)
    runs: dict[str, Run] = {}
    for label, (src, count, nbytes) in zip(("10%", "100%"), parts, strict=True):
        case = work / f"case-tiny-{label.rstrip('%')}"
        init = [*cli, "case", "init", str(case), "--name", "bench", "--examiner", "bench"]
        done = subprocess.run(init, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"!! case init failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        add = [*cli, "add", str(case), str(src), "--label", "tiny"]
        log = work / f"add-{label.rstrip('%')}.log"
        runs[label] = run_measured(f"veriscan add {label}", add, count, nbytes, log)
    small, full = runs["10%"], runs["100%"]
    growth = full.peak_rss / small.peak_rss if small.peak_rss else 0.0
    return {"n": n, "10%": small.as_dict(), "100%": full.as_dict(), "rss_growth": growth}


def _mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


def _row(name: str, value: str, target: str = "", met: bool | None = None) -> str:
    verdict = "" if met is None else ("yes" if met else "**no**")
    return f"| {name} | {value} | {target} | {verdict} |"


def table(results: dict[str, Any]) -> str:
    rows = ["| measurement | value | target | met |", "|---|---|---|---|"]
    rss_target = f"< {_mb(TARGET_PEAK_RSS)}"
    photos = results.get("photos")
    if photos:
        floor, scan = photos["floor"], photos["veriscan"]
        ran = scan["completed"]
        fast = results["pdq"] == "fast"
        rss_ok = ran and scan["peak_rss"] < TARGET_PEAK_RSS
        ratio_ok = photos["ratio"] >= TARGET_RATIO
        rows += [
            _row("photos", f"{photos['files']:,} files, {_mb(photos['bytes'])}"),
            _row("floor files/s, MB/s", f"{floor['files_per_s']:.1f}, {floor['mb_per_s']:.1f}"),
            _row("floor peak RSS, undecodable", f"{_mb(floor['peak_rss'])}, {floor['errors']:,}"),
            _row("veriscan exit status", str(scan["rc"]), "0 or 1", ran),
            _row(
                "veriscan files/s",
                f"{scan['files_per_s']:.1f}",
                f">= {TARGET_PHOTOS_PER_S:.0f} (fast)" if fast else "",
                ran and scan["files_per_s"] >= TARGET_PHOTOS_PER_S if fast else None,
            ),
            _row("veriscan MB/s", f"{scan['mb_per_s']:.1f}"),
            _row("veriscan peak RSS", _mb(scan["peak_rss"]), rss_target, rss_ok),
            _row("ratio veriscan/floor", f"{photos['ratio']:.2f}", f">= {TARGET_RATIO}", ratio_ok),
        ]
        if "veriscan_skip" in photos:
            lean, skip = photos["veriscan_skip"], photos["skip"]
            rows += [
                _row(f"veriscan --skip {skip} files/s", f"{lean['files_per_s']:.1f}"),
                _row(f"veriscan --skip {skip} peak RSS", _mb(lean["peak_rss"])),
                _row(
                    f"ratio veriscan --skip {skip}/floor",
                    f"{photos['ratio_skip']:.2f}",
                    f">= {TARGET_RATIO}",
                    photos["ratio_skip"] >= TARGET_RATIO,
                ),
            ]
    tiny = results.get("tiny")
    if tiny:
        for key in ("10%", "100%"):
            run = tiny[key]
            rows.append(
                _row(
                    f"tiny add, {run['files']:,} files ({key})",
                    f"{run['files_per_s']:,.0f} files/s, exit {run['rc']}, "
                    f"peak RSS {_mb(run['peak_rss'])}",
                    rss_target,
                    run["completed"] and run["peak_rss"] < TARGET_PEAK_RSS,
                )
            )
        ran = tiny["10%"]["completed"] and tiny["100%"]["completed"]
        flat = ran and 0 < tiny["rss_growth"] <= TARGET_FLAT
        growth, target = f"{tiny['rss_growth']:.2f}", f"<= {TARGET_FLAT}"
        rows.append(_row("tiny peak RSS 100% / 10%", growth, target, flat))
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--gb", type=float, default=2.0, help="photo set size to replicate to")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pdq", choices=("fast", "exact"), default="fast")
    parser.add_argument("--tiny", type=int, default=1_000_000, help="tiny files to ingest")
    parser.add_argument("--skip-photos", action="store_true")
    parser.add_argument(
        "--also-skip",
        default="provenance",
        help="also scan with these analyzers skipped ('' for none), to separate pipeline cost",
    )
    parser.add_argument("--skip-tiny", action="store_true")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write results here")
    parser.add_argument("--plain-copies", action="store_true", help="skip per-copy trailers")
    parser.add_argument("--tmp", type=Path, help="where to build the temp folder (default: TMPDIR)")
    parser.add_argument("--veriscan", help="command to run veriscan (default: the venv's script)")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.tiny < 1 or args.gb <= 0:
        parser.error("--workers and --tiny must be >= 1 and --gb > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli = veriscan_command(args.veriscan)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "memory": psutil.virtual_memory().total},
        "platform": f"{platform.platform()}, Python {platform.python_version()}",
        "workers": args.workers,
        "pdq": args.pdq,
        "veriscan": cli,
    }
    work = Path(tempfile.mkdtemp(prefix="veriscan-bench-", dir=args.tmp))
    try:
        if not args.skip_photos:
            results["photos"] = bench_photos(args, work, cli)
        if not args.skip_tiny:
            results["tiny"] = bench_tiny(args, work, cli)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    runs = [*results.get("tiny", {}).values(), results.get("photos", {}).get("veriscan")]
    return 1 if any(isinstance(r, dict) and not r["completed"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
