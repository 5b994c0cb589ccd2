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

from conftest import draw_scene, encode
from detector_bundle import make_bundle

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
    # Ray 2.60 turns token auth on for a head that finds ~/.ray/auth_token (left by any earlier
    # in-process ray.init) but not for the workers joining it; this test cluster has none.
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
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
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous


def _add(case: Path, src: Path, *extra: str) -> subprocess.Popen[bytes]:
    init_case(case)
    return subprocess.Popen(
        [sys.executable, "-m", "veriscan", "add", str(case), str(src), "--label", "phone", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _workers(prefix: str) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if cmd.startswith(prefix):
            out.append(proc)
    return out


def _kill_first(proc: subprocess.Popen[bytes], prefix: str, seconds: float = 240) -> int:
    """SIGKILL the first worker process whose title starts with ``prefix`` while ``proc`` runs."""
    killed = 0
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        busy = _workers(prefix)
        if busy and not killed:
            os.kill(busy[0].pid, signal.SIGKILL)
            killed += 1
        time.sleep(0.02)
    return killed


def _export(case: Path) -> list[str]:
    out = case.with_suffix(".jsonl")
    subprocess.run(
        [sys.executable, "-m", "veriscan", "export", "jsonl", str(case), "-o", str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return out.read_text().splitlines()


@pytest.mark.slow
def test_cluster_run_equals_local_run_even_when_a_worker_dies(tmp_path: Path, cluster: str) -> None:
    src = tmp_path / "evidence"
    make_files(src)
    inline = _add(tmp_path / "inline", src, "--executor", "inline")
    assert inline.wait(300) == 0, inline.stderr.read() if inline.stderr else ""
    expected = snapshot(tmp_path / "inline" / "case.db")

    on_ray = _add(tmp_path / "ray", src, "--executor", "ray", "--address", cluster)
    killed = _kill_first(on_ray, "ray::_run")
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
    """The whole team path: Ray units and the Ray Data detector stage writing to PostgreSQL end
    with the export of an inline run into SQLite."""
    src = tmp_path / "evidence"
    src.mkdir()
    for i in range(300):
        (src / f"f{i:03d}.txt").write_text(f"file {i}\n" * (i % 7 + 1))
    for i in range(8):
        (src / f"scene{i}.jpg").write_bytes(encode(draw_scene(i), "JPEG"))

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
         "--executor", "ray", "--address", cluster, "--detector-stage", "batch"],
        capture_output=True, timeout=300, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "detector batch stage: 8 images scored, 0 failed" in proc.stdout
    assert _export(team) == _export(tmp_path / "inline")


@pytest.mark.slow
def test_detector_batch_stage_on_the_cluster_equals_inline_even_when_its_actor_dies(
    tmp_path: Path, cluster: str
) -> None:
    """The detector as Ray Data batch inference: patches from the CPU units, scores from an actor
    pool (one model session per CPU here, per GPU where the cluster has them), verdicts re-decided;
    an actor SIGKILLed mid-stage is restarted by Ray Data and its batches re-run."""
    src = tmp_path / "evidence"
    src.mkdir()
    for i in range(90):
        img = draw_scene(i).resize((160 + 7 * i, 120 + 5 * (i % 13)))
        fmt = "PNG" if i % 3 == 0 else "JPEG"
        (src / f"img{i:03d}.{fmt.lower()}").write_bytes(encode(img, fmt))
    good = encode(draw_scene(500), "JPEG")
    (src / "broken.jpg").write_bytes(good[: len(good) // 2])
    bundle = make_bundle(tmp_path / "bundle", a=4.0, b=-25.2)
    model = ("--detector-model", str(bundle))

    inline = _add(tmp_path / "inline", src, "--executor", "inline", *model)
    assert inline.wait(300) == 1, inline.stderr.read() if inline.stderr else ""  # broken.jpg

    batch = ("--detector-stage", "batch")  # auto picks it only for a cluster with GPUs
    on_ray = _add(tmp_path / "ray", src, "--executor", "ray", "--address", cluster, *model, *batch)
    killed = _kill_first(on_ray, "ray::MapWorker(MapBatches(BatchScorer))")
    out = on_ray.stdout.read().decode() if on_ray.stdout else ""
    err = on_ray.stderr.read().decode() if on_ray.stderr else ""
    assert on_ray.wait(60) == 1, err
    assert killed == 1, "no batch-stage actor was seen running on the cluster"
    assert "detector batch stage: 90 images scored, 0 failed in " in out
    assert "(CPUExecutionProvider)" in out
    assert _export(tmp_path / "ray") == _export(tmp_path / "inline")
    assert not list((tmp_path / "ray" / "derived").rglob("*.npy"))
