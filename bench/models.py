"""Model-file hashing benchmark: veriscan's one-pass ModelHasher against coreutils ``sha256sum``.

Seized devices hold multi-gigabyte checkpoints, and ModelHasher computes six digests (SHA-256,
AutoV1, AutoV2, the safetensors addnet/AutoV3 hash, CRC32, BLAKE3) where ``sha256sum`` computes
one, so the question is whether matching every model site's hash costs more than the hash an
examiner would run anyway. Both read the same generated safetensors-style file in the same run.

The page cache cannot be dropped without root, so the file is read once before either timing and
both then read it from memory: the numbers compare hashing cost, not the disk. Per-hash shares are
timed separately on an in-memory 512 MB slice so the reader sees where the time goes. MB is 10**6
bytes throughout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import blake3

from veriscan.analyzers.models.hashes import AUTOV1_END, AUTOV1_OFFSET, ModelHasher

CHUNK = 1 << 20
WRITE_BLOCK = 16 << 20
SLICE = 512 * 10**6
MB = 10**6


def make_model(path: Path, size: int) -> int:
    """A safetensors-shaped file: a real JSON header, then pseudo-random tensor bytes.

    One random block is written repeatedly because generating gigabytes of fresh randomness would
    take longer than the benchmark; repetition makes no difference to any of these hashes' speed.
    """
    header = json.dumps(
        {
            "__metadata__": {"format": "pt", "bench": "veriscan"},
            "model.weight": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]},
        }
    ).encode()
    header += b" " * (-len(header) % 8)
    block = os.urandom(WRITE_BLOCK)
    with path.open("wb") as fh:
        fh.write(len(header).to_bytes(8, "little") + header)
        left = size
        while left > 0:
            fh.write(block[: min(left, WRITE_BLOCK)])
            left -= WRITE_BLOCK
    return 8 + len(header)


def read_through(path: Path, limit: int, chunk: int) -> None:
    with path.open("rb", buffering=0) as fh:
        while limit > 0 and fh.read(min(chunk, limit)):
            limit -= chunk


def time_model_hasher(path: Path) -> tuple[float, dict[str, str]]:
    hasher = ModelHasher()
    start = time.perf_counter()
    with path.open("rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
    digests = hasher.digests()
    return time.perf_counter() - start, digests


def time_sha256sum(path: Path) -> tuple[float, str]:
    exe = shutil.which("sha256sum")
    if exe is None:
        raise SystemExit("sha256sum not found on PATH")
    start = time.perf_counter()
    done = subprocess.run([exe, str(path)], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout.split()[0]


def per_hash_times(path: Path, data_start: int) -> dict[str, float]:
    """Seconds each hash alone takes over the first 512 MB, fed in the same 1 MiB chunks."""
    with path.open("rb") as fh:
        data = memoryview(fh.read(SLICE))
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    tensor_chunks = [data[i : i + CHUNK] for i in range(data_start, len(data), CHUNK)]

    def timed(work: Callable[[], object]) -> float:
        start = time.perf_counter()
        work()
        return time.perf_counter() - start

    def feed(update: Callable[[memoryview], object], parts: list[memoryview]) -> None:
        for part in parts:
            update(part)

    crc = [0]

    def crc_update(part: memoryview) -> None:
        crc[0] = zlib.crc32(part, crc[0])

    hasher = ModelHasher()
    return {
        "sha256 (and AutoV2)": timed(lambda: feed(hashlib.sha256().update, chunks)),
        "addnet / AutoV3 (sha256 after header)": timed(
            lambda: feed(hashlib.sha256().update, tensor_chunks)
        ),
        "blake3": timed(lambda: feed(blake3.blake3().update, chunks)),
        "crc32": timed(lambda: feed(crc_update, chunks)),
        "AutoV1 (64 KiB window)": timed(
            lambda: hashlib.sha256(data[AUTOV1_OFFSET:AUTOV1_END]).digest()
        ),
        "ModelHasher, all together": timed(lambda: feed(hasher.update, chunks)),
        "reading 1 MiB chunks from page cache": timed(lambda: read_through(path, SLICE, CHUNK)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=3.0, help="file size in GB (10**9 bytes)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the temp file")
    args = parser.parse_args()
    size = int(args.gb * 10**9)
    if size < SLICE:
        raise SystemExit(f"--gb must be at least {SLICE / 10**9}")

    with tempfile.TemporaryDirectory(prefix="veriscan-bench-models-", dir=args.dir) as tmp:
        path = Path(tmp) / "bench.safetensors"
        start = time.perf_counter()
        data_start = make_model(path, size)
        total = path.stat().st_size
        print(f"wrote {total / MB:,.0f} MB in {time.perf_counter() - start:.1f} s to {path}")
        read_through(path, total, WRITE_BLOCK)
        print("read the file once to warm the page cache (it cannot be dropped without root)")

        ours, digests = time_model_hasher(path)
        theirs, sha = time_sha256sum(path)
        if sha != digests["sha256"]:
            raise SystemExit(f"SHA-256 mismatch: sha256sum {sha}, ModelHasher {digests['sha256']}")
        shares = per_hash_times(path, data_start)

    cpu = platform.processor() or platform.machine()
    python = platform.python_version()
    print(f"\n{total / MB:,.0f} MB file, {os.cpu_count()} CPUs ({cpu}), Python {python}")
    print("\n| what | seconds | MB/s |")
    print("|---|---:|---:|")
    print(f"| ModelHasher, 6 digests, 1 MiB reads | {ours:.2f} | {total / MB / ours:,.0f} |")
    print(f"| coreutils sha256sum | {theirs:.2f} | {total / MB / theirs:,.0f} |")
    print(f"\nratio ModelHasher / sha256sum throughput: **{theirs / ours:.2f}x** (target >= 0.9x)")

    parts = {k: v for k, v in shares.items() if not k.startswith(("ModelHasher", "reading"))}
    part_sum = sum(parts.values())
    print(f"\nWhere the time goes, {SLICE / MB:.0f} MB slice in memory, each hash alone:\n")
    print("| hash | seconds | MB/s | share |")
    print("|---|---:|---:|---:|")
    for name, seconds in shares.items():
        share = f"{seconds / part_sum:.0%}" if name in parts else ""
        rate = f"{SLICE / MB / seconds:,.0f}" if seconds > 0.001 else "-"
        print(f"| {name} | {seconds:.3f} | {rate} | {share} |")
    print(f"\ndigests: {json.dumps(digests)}")


if __name__ == "__main__":
    main()
