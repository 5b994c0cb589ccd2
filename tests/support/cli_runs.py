"""Real `veriscan` processes for lifecycle tests: start, signal, time, and compare stores."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from veriscan.store.case import Case


def make_text_evidence(root: Path, files: int) -> Path:
    """Small benign text files in a few folders, some sharing content."""
    for i in range(files):
        folder = root / f"d{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = b"same content\n" if i % 50 == 0 else f"file {i} {'x' * (i % 89)}\n".encode()
        (folder / f"f{i:05d}.txt").write_bytes(body)
    return root


def init_case(path: Path) -> Path:
    Case.init(path, "lifecycle", "tester").close()
    return path


def start(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A new session, as a shell gives a job: Ctrl-C goes to the whole process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "veriscan", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


@dataclass
class Ended:
    rc: int
    stdout: str
    stderr: str
    after_signal_s: float


def interrupt(proc: subprocess.Popen[bytes]) -> Ended:
    """What a terminal's Ctrl-C does: SIGINT to the process group; time until the exit."""
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=120)
    return Ended(proc.returncode, out.decode(), err.decode(), time.monotonic() - sent)


def ctrl_c_on_a_terminal(args: list[str], ready: Callable[[], bool]) -> Ended:
    """Run on a pseudo-terminal (the Rich progress bar is drawn) and type Ctrl-C once ``ready``:
    the terminal itself sends SIGINT to the foreground process group."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes veriscan at once
        os.execv(sys.executable, [sys.executable, "-m", "veriscan", *args])
    output = b""
    sent: float | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sent is None and ready():
            os.write(fd, b"\x03")
            sent = time.monotonic()
        if select.select([fd], [], [], 0.02)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the terminal closed: the process has ended
                break
            if not data:
                break
            output += data
    _, status = os.waitpid(pid, 0)
    ended = time.monotonic()
    os.close(fd)
    text = output.decode("utf-8", "replace")
    return Ended(os.waitstatus_to_exitcode(status), text, text, ended - (sent or ended))


def query(db: Path, sql: str) -> int:
    """A count from a case another process is writing; 0 while the table is not there yet."""
    if not db.is_file():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], limit_s: float) -> bool:
    """True once ``ready``; False if the process ended first (too fast to catch there)."""
    deadline = time.monotonic() + limit_s
    while not ready():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the run never reached the moment to interrupt"
        time.sleep(0.02)
    return True


def message_lines(stderr: str, label: str) -> list[str]:
    """Stderr without the periodic progress lines (`[label] n/m files ...`)."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(f"[{label}]")]


def snapshot(db: Path) -> dict[str, object]:
    con = sqlite3.connect(db)
    try:
        return {
            "locations": con.execute(
                "select e.label, l.locator, l.size, l.sha256, l.kind from locations l "
                "join evidence e on e.id = l.evidence_id order by l.locator"
            ).fetchall(),
            "contents": con.execute(
                "select sha256, md5, sha1, size, mime from contents order by sha256"
            ).fetchall(),
            "problems": con.execute(
                "select locator, sha256, code from problems order by locator, sha256, code"
            ).fetchall(),
            "evidence": con.execute("select label, acquisition_hash from evidence").fetchall(),
        }
    finally:
        con.close()
