"""Every way a command ends maps to the documented exit code; a crash is code 3, one line on the
terminal and the traceback in the case's log (or a private temp file when no case is known)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from veriscan.cli import entry
from veriscan.cli.app import app
from veriscan.store.case import Case


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "_state", entry._State())


def run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["veriscan", *argv])
    return entry.guarded(app)


def boom(*_: object, **__: object) -> None:
    raise RuntimeError("secret detail of the crash")


def test_crash_with_a_case_exits_3_and_logs_in_the_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = tmp_path / "case"
    Case.init(case, "n", "e").close()
    monkeypatch.setattr("veriscan.cli.app.summary", boom)
    assert run(monkeypatch, "status", str(case)) == 3
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    log = case / "logs" / "veriscan.log"
    assert len(lines) == 1 and "internal error" in lines[0] and str(log) in lines[0], err
    assert "Traceback" not in err and "secret detail" not in err
    text = log.read_text()
    assert "Traceback" in text and "secret detail of the crash" in text and "status" in text
    assert log.stat().st_mode & 0o777 == 0o600


def test_crash_without_a_case_logs_to_a_private_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    class Broken:
        print = staticmethod(boom)

    monkeypatch.setattr("veriscan.cli.app.out", Broken())
    assert run(monkeypatch, "version") == 3
    err = capsys.readouterr().err
    (log,) = tmp_path.glob("veriscan-error-*.log")
    assert str(log) in err and "Traceback" not in err
    assert "secret detail of the crash" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600


def test_usage_error_is_2_and_ctrl_c_is_130_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, "add") == 2  # missing arguments
    capsys.readouterr()

    def ctrl_c(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("veriscan.cli.app.out.print", ctrl_c)
    assert run(monkeypatch, "version") == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "interrupted: what was committed is kept; run the same command again to resume"
    ]


def test_the_installed_entry_point_maps_a_crash_to_3(tmp_path: Path) -> None:
    """Outside the test runner: the process's own exit status and stderr."""
    case = tmp_path / "case"
    Case.init(case, "n", "e").close()
    code = (
        "import sys\n"
        "import veriscan.cli.app as a\n"
        "a.summary = lambda case: {}['missing']\n"
        "sys.argv = ['veriscan', 'status', sys.argv[1]]\n"
        "from veriscan.cli.entry import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(case)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "KeyError" in (case / "logs" / "veriscan.log").read_text()


def test_ctrl_c_inside_evaluated_code_still_exits_130(tmp_path: Path) -> None:
    """numba's import evaluates hundreds of strings; a Ctrl-C caught after landing in one must
    not turn the exit into death by SIGINT (-2), nor a class built around it into a crash. Run
    with ``-m``, as ``python -m veriscan`` is: only that path lets CPython act on the mark."""
    (tmp_path / "evaluated_ctrl_c.py").write_text(
        "import os, signal, sys\n"
        "from veriscan.cli.entry import guarded\n"
        "def command():\n"
        "    eval('os.kill(os.getpid(), signal.SIGINT) or sum(range(10**7))')\n"
        "sys.exit(guarded(command))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "evaluated_ctrl_c"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == [
        "interrupted: what was committed is kept; run the same command again to resume"
    ]
    wrapped = RuntimeError("Error calling __set_name__")
    wrapped.__cause__ = KeyboardInterrupt()
    assert entry._internal_error(wrapped) == 130


def test_ctrl_c_swallowed_in_a_callback_still_stops_the_ingest() -> None:
    """Python ignores a KeyboardInterrupt raised in a gc callback or __del__; the request must
    survive it, say nothing on the terminal, and stop the next interrupt check."""
    import gc
    import sys

    from veriscan import interrupts
    from veriscan.pipeline.ingest import DeferredInterrupt

    interrupts.clear()
    interrupts.install_unraisable_hook()

    class Dies:
        def __del__(self) -> None:
            raise KeyboardInterrupt

    printed: list[str] = []
    real_stderr = sys.stderr
    try:
        sys.stderr = type("Sink", (), {"write": printed.append, "flush": lambda self: None})()
        Dies()
        gc.collect()
    finally:
        sys.stderr = real_stderr
    assert interrupts.pending() and not "".join(printed)
    with DeferredInterrupt() as deferred:
        assert deferred.requested
        try:
            deferred.check()
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("the swallowed Ctrl-C was lost")
    assert not interrupts.pending(), "acted on: a later ingest in this process starts afresh"
