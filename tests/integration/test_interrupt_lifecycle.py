"""Ctrl-C on a real `veriscan` process: exit 130 within 2 s with one line saying where it stopped,
at any moment (imports, pool start-up, mid-run), and a re-run ends where an uninterrupted run ends.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support.cli_runs import (
    Ended,
    ctrl_c_on_a_terminal,
    init_case,
    interrupt,
    make_text_evidence,
    message_lines,
    query,
    snapshot,
    start,
    wait_until,
)
from veriscan.cli.app import app
from veriscan.stages import toolchain as toolchain_stage
from veriscan.store.case import Case

FILES = 250
ENV = {"VERISCAN_UNIT_FILES": "5"}  # many small units: commits land all through the run
LIMIT_S = 2.0
TRIES = 3  # the 2 s bound is measured on a shared, loaded machine: one slow try may be noise


def assert_clean_interrupt(ended: Ended, label: str) -> str:
    assert ended.rc == 130, ended.stderr
    assert "Traceback" not in ended.stderr and "Error" not in ended.stderr, ended.stderr
    lines = message_lines(ended.stderr, label)
    assert len(lines) == 1, ended.stderr
    assert "run the same command again" in lines[0]
    return lines[0]


def within_limit(run_once: Callable[[], float]) -> list[float]:
    """Every try must end cleanly; at least one within LIMIT_S (all, on an idle machine)."""
    seen: list[float] = []
    for _ in range(TRIES):
        seen.append(run_once())
        if seen[-1] <= LIMIT_S:
            return seen
    pytest.fail(f"exit took {seen} s after SIGINT, more than {LIMIT_S} s each time")


def test_ctrl_c_during_start_up(tmp_path: Path) -> None:
    """Signals while Python imports veriscan (numba alone runs hundreds of ``eval``s, where a
    caught Ctrl-C once still ended the process by SIGINT rather than with 130)."""
    src = make_text_evidence(tmp_path / "ev", 20)
    for step in range(10):
        case = tmp_path / f"case{step}"
        delay = 0.15 + 0.07 * step

        def once(case: Path = case, delay: float = delay) -> float:
            proc = start("scan", str(src), "--case", str(case))
            time.sleep(delay)  # a signal before Python runs at all kills it (the shell says 130)
            ended = interrupt(proc)
            assert_clean_interrupt(ended, "ev")
            return ended.after_signal_s

        within_limit(once)


@pytest.mark.slow
def test_ctrl_c_at_pool_start_and_mid_run_then_resume(tmp_path: Path) -> None:
    src = make_text_evidence(tmp_path / "ev", FILES)
    clean = init_case(tmp_path / "clean")
    done = CliRunner().invoke(app, ["add", str(clean), str(src), "--label", "p", "-j", "2"])
    assert done.exit_code == 0, done.output

    case = init_case(tmp_path / "case")
    db = case / "case.db"
    add = ("add", str(case), str(src), "--label", "p", "-j", "2")

    def at_pool_start() -> float:
        # the run row is written just before the first unit starts the worker pool
        runs = query(db, "select count(*) from runs")
        proc = start(*add, env=ENV)
        assert wait_until(lambda: query(db, "select count(*) from runs") > runs, proc, 120)
        ended = interrupt(proc)
        assert_clean_interrupt(ended, "p")
        return ended.after_signal_s

    within_limit(at_pool_start)

    def mid_run() -> float:
        before = query(db, "select count(*) from locations")
        proc = start(*add, env=ENV)
        wait_until(lambda: query(db, "select count(*) from locations") > before, proc, 120)
        ended = interrupt(proc)
        line = assert_clean_interrupt(ended, "p")
        stored = query(db, "select count(*) from locations")
        assert stored < FILES, "the run ended before the signal: make the evidence larger"
        assert f"{stored} locations of 'p' are in the case" in line
        return ended.after_signal_s

    within_limit(mid_run)

    proc = start(*add, env=ENV)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert snapshot(db) == snapshot(clean / "case.db")
    assert export(case) == export(clean)
    statuses = _statuses(db)
    assert set(statuses) == {"interrupted", "completed"} and statuses[-1] == "completed"


def test_ctrl_c_typed_on_a_terminal_mid_run(tmp_path: Path) -> None:
    """As an examiner does it: ^C on a terminal while the progress bar runs."""
    src = make_text_evidence(tmp_path / "ev", FILES)
    case = init_case(tmp_path / "case")
    db = case / "case.db"
    args = ["add", str(case), str(src), "--label", "p", "-j", "2"]

    def once() -> float:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("VERISCAN_UNIT_FILES", "5")
            before = query(db, "select count(*) from locations")
            ended = ctrl_c_on_a_terminal(
                args, lambda: query(db, "select count(*) from locations") > before
            )
        assert ended.rc == 130, ended.stderr
        assert "Traceback" not in ended.stderr
        assert ended.stderr.count("interrupted:") == 1, ended.stderr
        assert "run the same command again to resume" in ended.stderr
        return ended.after_signal_s

    within_limit(once)


def export(case: Path) -> list[dict[str, object]]:
    done = CliRunner().invoke(app, ["export", "jsonl", str(case)])
    assert done.exit_code == 0, done.output
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_ctrl_c_during_the_closing_steps_finishes_them_then_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once every unit is in, the short closing steps finish (the evidence is complete) and the
    command still answers Ctrl-C with 130 and one line, before matching and the report."""
    src = make_text_evidence(tmp_path / "ev", 10)
    case = init_case(tmp_path / "case")
    real = toolchain_stage.refresh_toolchain

    def interrupted_toolchain(*args: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C lands during a closing step
        return real(*args)

    monkeypatch.setattr(toolchain_stage, "refresh_toolchain", interrupted_toolchain)
    done = CliRunner().invoke(
        app, ["add", str(case), str(src), "--label", "p", "--executor", "inline"]
    )
    assert done.exit_code == 130, done.output
    lines = message_lines(done.output, "p")
    assert len(lines) == 1 and "interrupted after the ingest completed" in lines[0], done.output
    opened = Case.open(case)
    (evidence,) = opened.evidence("p")
    opened.close()
    assert evidence.completed_at is not None
    assert _statuses(case / "case.db") == ["completed"]


def _statuses(db: Path) -> list[str]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("select status from runs order by id")]
    finally:
        con.close()
