"""The Ray executor on a real local cluster (a head and a worker node on 127.0.0.1).

A run on the cluster must store exactly what a single-process run stores, and a worker process
killed in the middle of a run must cost nothing but time: Ray re-runs its unit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_resume import init_case, make_files, snapshot

ray = pytest.importorskip("ray", reason="the [cluster] extra (ray) is not installed")
psutil = pytest.importorskip("psutil")

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray(*args: str) -> None:
    subprocess.run(
        [RAY, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=180
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    # Ray's socket paths must stay short, so its session folder lives directly under /tmp.
    temp = tempfile.mkdtemp(prefix="vsray-", dir="/tmp")
    port = _free_port()
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    _ray(
        "start",
        "--head",
        f"--port={port}",
        "--include-dashboard=false",
        f"--temp-dir={temp}",
        *common,
    )
    try:
        _ray("start", f"--address=127.0.0.1:{port}", *common)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)


def _add(case: Path, src: Path, *extra: str) -> subprocess.Popen[bytes]:
    init_case(case)
    return subprocess.Popen(
        [sys.executable, "-m", "veriscan", "add", str(case), str(src), "--label", "phone", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _unit_workers() -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if cmd.startswith("ray::_run"):
            out.append(proc)
    return out


@pytest.mark.slow
def test_cluster_run_equals_local_run_even_when_a_worker_dies(tmp_path: Path, cluster: str) -> None:
    src = tmp_path / "evidence"
    make_files(src)
    inline = _add(tmp_path / "inline", src, "--executor", "inline")
    assert inline.wait(300) == 0, inline.stderr.read() if inline.stderr else ""
    expected = snapshot(tmp_path / "inline" / "case.db")

    on_ray = _add(tmp_path / "ray", src, "--executor", "ray", "--address", cluster)
    killed = 0
    deadline = time.monotonic() + 240
    while on_ray.poll() is None and time.monotonic() < deadline:
        busy = _unit_workers()
        if busy and not killed:
            os.kill(busy[0].pid, signal.SIGKILL)
            killed += 1
        time.sleep(0.05)
    err = on_ray.stderr.read().decode() if on_ray.stderr else ""
    assert on_ray.wait(60) == 0, err
    assert killed == 1, "no unit was seen running on the cluster"
    assert snapshot(tmp_path / "ray" / "case.db") == expected


def test_unreachable_cluster_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "evidence"
    src.mkdir()
    (src / "a.txt").write_text("x")
    proc = _add(tmp_path / "case", src, "--executor", "ray", "--address", "127.0.0.1:1")
    assert proc.wait(120) == 2
    assert b"Ray cluster" in (proc.stderr.read() if proc.stderr else b"")


def test_cluster_workers_write_to_the_postgresql_store(
    tmp_path: Path, cluster: str, pg_url: str
) -> None:
    from sqlalchemy import select

    from veriscan.store import schema
    from veriscan.store.case import Case

    src = tmp_path / "evidence"
    src.mkdir()
    for i in range(300):
        (src / f"f{i:03d}.txt").write_text(f"file {i}\n" * (i % 7 + 1))

    def placed(case_dir: Path) -> set[tuple[str, str | None]]:
        case = Case.open(case_dir)
        with case.engine.connect() as conn:
            rows = conn.execute(select(schema.locations.c.locator, schema.locations.c.sha256))
            found = {(r.locator, r.sha256) for r in rows}
        case.close()
        return found

    inline = _add(tmp_path / "inline", src, "--executor", "inline")
    assert inline.wait(300) == 0, inline.stderr.read() if inline.stderr else ""
    team = tmp_path / "team"
    init = subprocess.run(
        [sys.executable, "-m", "veriscan", "case", "init", str(team), "--name", "t",
         "--examiner", "e", "--db", pg_url],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "veriscan", "add", str(team), str(src), "--label", "phone",
         "--executor", "ray", "--address", cluster],
        capture_output=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert placed(team) == placed(tmp_path / "inline")
