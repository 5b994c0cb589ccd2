"""Aborting the local pool (Ctrl-C) returns at once, even when workers die mid-way through
sending a result: the pool's reader would otherwise wait for the rest of it for ever."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys, time
from veriscan.pipeline.executors import LocalPoolExecutor

if __name__ == "__main__":
    for i in range(4):
        pool = LocalPoolExecutor(2)
        # 32 MB results: the workers spend most of their time writing to the result pipe
        results = pool.map_unordered(bytes, [32 << 20] * 40, 4)
        next(results)
        time.sleep(0.01 * i)
        started = time.monotonic()
        pool.abort()
        print(f"{time.monotonic() - started:.2f}", flush=True)
"""


def test_abort_never_waits_on_a_half_sent_result() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seconds = [float(line) for line in done.stdout.split()]
    assert len(seconds) == 4
    assert max(seconds) < 5.0, seconds
    assert "leaked" not in done.stderr and "Traceback" not in done.stderr, done.stderr
