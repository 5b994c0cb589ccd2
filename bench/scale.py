"""Scale-out benchmark: local pool vs Ray with 1 and 2 workers; SQLite vs PostgreSQL ingest rate;
the pixel detector inline in local units vs as a Ray Data batch stage.

Everything runs on this machine in one run, so the ratios say what each layer costs here: Ray's
scheduling and object transfer against the local process pool at the same worker count, and the
team store's network round trips against SQLite in the case folder. A Ray "worker" is a node
started with ``ray start --num-cpus=1`` beside a head that runs no tasks (``--num-cpus=0``).

    python bench/scale.py [--gb 0.5] [--pg postgresql://postgres@127.0.0.1:5432/test]
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
import uuid
from pathlib import Path
from typing import Any

from throughput import Run, find_photos, replicate, run_measured, veriscan_command

RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6399


def ray_cluster(workers: int, temp: Path) -> str:
    common = ["--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    subprocess.run([RAY, "stop", "--force"], capture_output=True)
    subprocess.run(
        [RAY, "start", "--head", f"--port={PORT}", "--num-cpus=0", "--include-dashboard=false",
         f"--temp-dir={temp}", *common],
        check=True, capture_output=True,
    )  # fmt: skip
    for _ in range(workers):
        subprocess.run(
            [RAY, "start", f"--address=127.0.0.1:{PORT}", "--num-cpus=1", *common],
            check=True,
            capture_output=True,
        )
    return f"127.0.0.1:{PORT}"


def ingest(
    cli: list[str], work: Path, name: str, src: Path, *extra: str, detector: bool = False
) -> Run:
    case = work / f"case-{name}"
    init = [*cli, "case", "init", str(case), "--name", name, "--examiner", "bench"]
    db = [a for a in extra if a.startswith("postgresql")]
    subprocess.run([*init, *(["--db", db[0]] if db else [])], check=True, capture_output=True)
    rest = [a for a in extra if not a.startswith("postgresql")]
    off = [] if detector else ["--no-detector"]
    argv = [*cli, "add", str(case), str(src), "--label", name, *off, *rest]
    return run_measured(name, argv, 0, 0, work / f"{name}.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=0.5, help="payload size (default 0.5 GB)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--veriscan", help="command to run veriscan (default: beside python)")
    args = parser.parse_args()
    os.environ["RAY_AUTH_MODE"] = (
        "disabled"  # a local test cluster (see tests/integration/test_ray.py)
    )
    cli = veriscan_command(args.veriscan)
    work = Path(tempfile.mkdtemp(prefix="veriscan-bench-scale-"))
    temp = Path(tempfile.mkdtemp(prefix="vsray-", dir="/tmp"))
    schema = f"vs_bench_{uuid.uuid4().hex[:8]}"
    try:
        src = work / "photos"
        copies = replicate(find_photos(), src, args.gb * 1e9, unique=True)
        payload = sum(p.stat().st_size for p in copies)
        runs: dict[str, Run] = {}
        runs["local-1"] = ingest(cli, work, "local-1", src, "--workers", "1")
        runs["local-2"] = ingest(cli, work, "local-2", src, "--workers", "2")
        runs["local-2-detector"] = ingest(
            cli, work, "local-2-detector", src, "--workers", "2", detector=True
        )
        for n in (1, 2):
            address = ray_cluster(n, temp)
            ray = ("--executor", "ray", "--address", address)
            runs[f"ray-{n}"] = ingest(cli, work, f"ray-{n}", src, *ray)
        runs["ray-2-detector"] = ingest(cli, work, "ray-2-detector", src, *ray, detector=True)
        runs["ray-2-detector-batch"] = ingest(
            cli, work, "ray-2-detector-batch", src, *ray, "--detector-stage", "batch", detector=True
        )
        subprocess.run([RAY, "stop", "--force"], capture_output=True)
        pg = f"{args.pg}?options=-csearch_path%3D{schema}"
        runs["postgresql-2"] = ingest(cli, work, "postgresql-2", src, "--workers", "2", pg)
        failed = [k for k, r in runs.items() if not r.completed]
        seconds = {k: round(r.wall_s, 2) for k, r in runs.items()}
        result: dict[str, Any] = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
            "files": len(copies),
            "payload_bytes": payload,
            "seconds": seconds,
            "files_per_s": {k: round(len(copies) / r.wall_s, 1) for k, r in runs.items()},
            "ratio_ray1_vs_local1": round(seconds["local-1"] / seconds["ray-1"], 3),
            "ratio_ray2_vs_local2": round(seconds["local-2"] / seconds["ray-2"], 3),
            "ratio_ray2_vs_ray1": round(seconds["ray-1"] / seconds["ray-2"], 3),
            "ratio_postgresql_vs_sqlite": round(seconds["local-2"] / seconds["postgresql-2"], 3),
            # the detector inline in the Ray units (auto without GPUs) vs the Ray Data batch stage
            "ratio_ray2_batch_vs_inline_detector": round(
                seconds["ray-2-detector"] / seconds["ray-2-detector-batch"], 3
            ),
            "detector_cost_local2": round(seconds["local-2-detector"] / seconds["local-2"], 3),
            "detector_cost_ray2_inline": round(seconds["ray-2-detector"] / seconds["ray-2"], 3),
            "detector_cost_ray2_batch": round(
                seconds["ray-2-detector-batch"] / seconds["ray-2"], 3
            ),
            "failed": failed,
        }
        print(json.dumps(result, indent=2))
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True)
        subprocess.run(
            ["psql", args.pg, "-q", "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
