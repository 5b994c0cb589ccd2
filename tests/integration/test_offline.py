"""No telemetry, no files outside the case: a scan, the review app and a list import, guarded.

Each command runs in its own process with a fresh HOME, every Python-level connection to another
machine refused and recorded, and (where strace can trace) every connect/sendto system call
recorded, native libraries included. What may change: the case, the list library, the temp
folder. The review app runs with FASTAPI_OTEL_AUTO_CONFIGURE=true and an OTLP endpoint set, as a
shell exporting them for some other service would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from support.guarded import Sandbox, snapshot, strace_works

OTLP = {
    "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://192.0.2.1:4318",
    "OTEL_TRACES_EXPORTER": "otlp",
    "ORT_DISABLE_TELEMETRY": "0",
}
PASSWORD = "a long enough passphrase for the test"
# numba's compiled-code cache beside the package, as Python's own .pyc files (README: No telemetry)
NUMBA_CACHE = Path(__file__).resolve().parents[2] / "src" / "veriscan" / "matching" / "__pycache__"


@pytest.fixture(scope="module")
def tracing() -> bool:
    return strace_works()


@pytest.fixture
def sandbox(tmp_path: Path, tracing: bool) -> Sandbox:
    return Sandbox(tmp_path / "sandbox", tracing)


def test_the_guards_catch_a_connection_and_a_file_in_home(sandbox: Sandbox) -> None:
    """The guards themselves, so the real test below cannot pass by seeing nothing."""
    before = snapshot(sandbox.watched)
    probe = (
        "import os, pathlib, socket\n"
        "pathlib.Path(os.environ['HOME'], '.cache', 'probe').parent.mkdir()\n"
        "pathlib.Path(os.environ['HOME'], '.cache', 'probe').write_text('x')\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 443), timeout=1)\n"
        "except OSError:\n"
        "    pass\n"
    )
    cmd = sandbox.command(["version"])
    cmd[cmd.index("-m") : cmd.index("-m") + 3] = ["-c", probe]
    subprocess.run(cmd, env=sandbox.env(), cwd=sandbox.cwd, check=True, timeout=60)
    assert any("192.0.2.1" in line for line in sandbox.attempts())
    assert sandbox.written(before, snapshot(sandbox.watched)) == [
        str(sandbox.home / ".cache"),
        str(sandbox.home / ".cache" / "probe"),
    ]
    if sandbox.trace:
        seen = [line.split()[0] for line in sandbox.traced_writes([sandbox.tmp])]
        assert seen == [str(sandbox.home / ".cache"), str(sandbox.home / ".cache" / "probe")]


def test_strace_catches_a_native_connection(sandbox: Sandbox, tracing: bool) -> None:
    if not tracing:
        pytest.skip("strace cannot trace here (missing, or ptrace forbidden): Python guard only")
    out = sandbox.traces / "native.trace"
    cmd = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-o", str(out)]
    subprocess.run([*cmd, "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/9 || true"], timeout=60)
    assert any("192.0.2.1" in line for line in sandbox.attempts())


def test_onnxruntime_through_veriscan_writes_no_device_id(sandbox: Sandbox) -> None:
    """onnxruntime's wheels write a device id into ~/.cache/Microsoft on import unless told not to;
    the import without veriscan shows it still does, so the guarded import below means something.
    """
    raw = [sys.executable, "-c", "import onnxruntime"]
    env = {**sandbox.env(), "PYTHONPATH": str(sandbox.home / "nothing")}  # no veriscan, no guard
    env.pop("ORT_DISABLE_TELEMETRY", None)
    subprocess.run(raw, env=env, cwd=sandbox.cwd, check=True, timeout=120)
    if not (sandbox.home / ".cache").exists():
        pytest.skip("this onnxruntime writes nothing on import: the control shows nothing")
    home, tmp = sandbox.root / "home2", sandbox.root / "tmp2"
    home.mkdir()
    tmp.mkdir()
    guarded = [sys.executable, "-c", "import veriscan.offline as o; o.onnxruntime()"]
    extra = {"HOME": str(home), "TMPDIR": str(tmp), "ORT_DISABLE_TELEMETRY": "0"}
    subprocess.run(guarded, env=sandbox.env(extra), cwd=sandbox.cwd, check=True, timeout=120)
    assert list(home.iterdir()) == []
    assert list(tmp.iterdir()) == []  # nor the 1DS session file (.ses)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _serve(sandbox: Sandbox, case: Path) -> Iterator[str]:
    port = _free_port()
    log = (sandbox.root / "serve.log").open("w")
    proc = subprocess.Popen(
        sandbox.command(["serve", str(case), "--port", str(port)]),
        env=sandbox.env(OTLP),
        cwd=sandbox.cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    server_log = (sandbox.root / "serve.log").read_text()
                    pytest.fail(f"the review app did not start: {server_log}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(0.5)  # strace's tracee finishes its shutdown after strace itself exits
        log.close()


def _browse(base: str) -> None:
    httpx = pytest.importorskip("httpx")
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        assert client.get("/login").status_code == 200
        token = next(v for k, v in client.cookies.items() if "login" in k.lower())
        reply = client.post(
            "/login", data={"username": "examiner", "password": PASSWORD, "csrf": token}
        )
        assert reply.status_code == 303 and reply.headers["location"] == "/"
        assert client.get("/").status_code == 200
        assert client.get("/audit").status_code == 200


def test_scan_serve_and_lists_import_stay_offline_and_inside_the_case(
    sandbox: Sandbox, tmp_path: Path, scene: Callable[..., Image.Image]
) -> None:
    pytest.importorskip("fastapi", reason="the review app needs the [web] extra")
    evidence, case, library = tmp_path / "evidence", tmp_path / "case", tmp_path / "library"
    evidence.mkdir()
    for seed in range(3):
        scene(seed).save(evidence / f"scene{seed}.jpg", quality=90)
    listing = tmp_path / "list.csv"
    listing.write_text("sha256\n" + "ab" * 32 + "\n", encoding="utf-8")
    evidence_before = snapshot([evidence])
    before = snapshot(sandbox.watched)

    scan = sandbox.run(["scan", str(evidence), "--case", str(case), "-j", "2"], OTLP)
    assert scan.returncode == 0, scan.stdout + scan.stderr
    lists = ["lists", "import", str(listing), "--name", "t", "--library", str(library)]
    imported = sandbox.run(lists)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    user = ["users", "add", str(case), "examiner", "--role", "admin", "--password-stdin"]
    added = sandbox.run(user, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stdout + added.stderr
    with _serve(sandbox, case) as base:
        _browse(base)

    assert sandbox.attempts() == []
    assert sandbox.written(before, snapshot(sandbox.watched)) == []
    assert sandbox.traced_writes([case, library, sandbox.tmp, NUMBA_CACHE]) == []
    assert snapshot([evidence]) == evidence_before
    assert (case / "report.html").is_file() and any(library.iterdir())
