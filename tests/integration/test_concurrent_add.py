"""Two `add` runs of one label: the second refuses at once with one line naming the first; a
sequential re-run still resumes; a duplicate that slips past (another machine) is a message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.cli_runs import init_case, interrupt, make_text_evidence, start, wait_until
from veriscan.cli.app import app
from veriscan.store.case import Case
from veriscan.store.locks import lock_path

FILES = 1000


@pytest.mark.slow
def test_second_add_of_a_label_refuses_while_the_first_runs(tmp_path: Path) -> None:
    src = make_text_evidence(tmp_path / "ev", FILES)
    case = init_case(tmp_path / "case")
    add = ("add", str(case), str(src), "--label", "phone")
    first = start(*add, "-j", "1", env={"VERISCAN_UNIT_FILES": "1"})  # slow: one file a unit
    lock = lock_path(case, "phone")
    holding = f"pid {first.pid}"
    assert wait_until(lambda: lock.is_file() and holding in lock.read_text(), first, 120)

    second = subprocess.run(
        [sys.executable, "-m", "veriscan", *add], capture_output=True, text=True, timeout=120
    )
    assert first.poll() is None, "the first run ended before the second asked: make it longer"
    assert second.returncode == 2, second.stderr
    assert "Traceback" not in second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and holding in lines[0] and "'phone'" in lines[0], second.stderr

    assert interrupt(first).rc == 130  # the lock goes with its holder
    again = subprocess.run(
        [sys.executable, "-m", "veriscan", *add], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr  # a re-run after the first ends: resume as ever
    opened = Case.open(case)
    assert opened.count("locations") == FILES
    assert opened.count("evidence") == 1
    opened.close()


def test_duplicate_label_from_a_racing_writer_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another machine's run (a team store; its lock is in its own view of the folder) adds the
    label between this run's look-up and its insert: the database refuses the duplicate."""
    src = make_text_evidence(tmp_path / "ev", 3)
    case = init_case(tmp_path / "case")
    opened = Case.open(case)
    opened.add_evidence("phone", None, "folder", str(src.resolve()))
    opened.close()
    monkeypatch.setattr(Case, "evidence", lambda self, label=None: [])  # the look-up raced
    result = CliRunner().invoke(app, ["add", str(case), str(src), "--label", "phone"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    assert "duplicate record" in text and "'phone'" in text
    log = case / "logs" / "veriscan.log"
    assert str(log) in text and "IntegrityError" in log.read_text()
