"""A real `veriscan add`, SIGKILLed mid-run and re-run, ends where an uninterrupted run ends."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

FILES = 3000


def make_files(root: Path) -> None:
    for i in range(FILES):
        d = root / f"d{i // 200:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.txt").write_bytes(f"file {i} {'x' * (i % 97)}\n".encode())
    for i in range(0, FILES, 500):
        (root / f"d{i // 200:02d}" / f"f{i:05d}.txt").write_bytes(b"same content\n")


def veriscan(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "veriscan", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def snapshot(db: Path) -> dict[str, object]:
    con = sqlite3.connect(db)
    try:
        files = con.execute(
            "select e.label, l.locator, l.size, l.sha256, l.kind, l.extension_mismatch "
            "from locations l join evidence e on e.id = l.evidence_id order by l.locator"
        ).fetchall()
        contents = con.execute(
            "select sha256, md5, sha1, size, mime from contents order by sha256"
        ).fetchall()
        problems = con.execute(
            "select locator, sha256, code from problems order by locator, sha256, code"
        ).fetchall()
        evidence = con.execute("select label, acquisition_hash from evidence").fetchall()
    finally:
        con.close()
    return {"files": files, "contents": contents, "problems": problems, "evidence": evidence}


def count_locations(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=1)
        try:
            return int(con.execute("select count(*) from locations").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def init_case(path: Path) -> None:
    proc = veriscan("case", "init", str(path), "--name", "resume", "--examiner", "t")
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    src = tmp_path / "evidence"
    make_files(src)
    args = ["--label", "phone", "--workers", "2"]

    clean = tmp_path / "clean"
    init_case(clean)
    proc = veriscan("add", str(clean), str(src), *args)
    assert proc.wait(300) == 0

    killed = tmp_path / "killed"
    init_case(killed)
    proc = veriscan("add", str(killed), str(src), *args, "--config", "/nonexistent.toml")
    deadline = time.monotonic() + 120
    while count_locations(killed / "case.db") < FILES // 4:
        assert proc.poll() is None, "finished before it could be killed; make the set larger"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    partial = count_locations(killed / "case.db")
    assert 0 < partial < FILES, "the kill must land mid-run"

    proc = veriscan("add", str(killed), str(src), *args)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()

    assert snapshot(killed / "case.db") == snapshot(clean / "case.db")
    con = sqlite3.connect(killed / "case.db")
    statuses = [r[0] for r in con.execute("select status from runs order by id")]
    con.close()
    assert statuses == ["interrupted", "completed"]


@pytest.mark.slow
def test_ctrl_c_exits_130_and_resumes(tmp_path: Path) -> None:
    src = tmp_path / "evidence"
    make_files(src)
    case = tmp_path / "case"
    init_case(case)
    proc = subprocess.Popen(
        [sys.executable, "-m", "veriscan", "add", str(case), str(src), "--label", "p", "-j", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while count_locations(case / "case.db") < FILES // 4:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert b"Traceback" not in stderr
    assert b"run the same command again" in stderr
    proc = veriscan("add", str(case), str(src), "--label", "p", "-j", "2")
    assert proc.wait(300) == 0
    con = sqlite3.connect(case / "case.db")
    try:
        assert con.execute("select count(*) from locations").fetchone()[0] == FILES
        statuses = [r[0] for r in con.execute("select status from runs order by id")]
    finally:
        con.close()
    assert statuses == ["interrupted", "completed"]
