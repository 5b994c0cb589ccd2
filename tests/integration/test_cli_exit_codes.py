"""Exit codes as the README states them: a failed `scan` leaves no case behind, a resumed run
answers 1 when the evidence holds problems, and `lists import` with bad lines answers 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from veriscan.cli.app import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "notes.txt").write_text("benign text\n")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


@pytest.mark.parametrize(
    "extra",
    [
        ("--skip", "foo"),
        ("--executor", "foo"),
        ("--pdq", "bogus"),
        ("--db", "postgresql://nobody@127.0.0.1:1/none"),
    ],
)
def test_failed_scan_leaves_no_case(tmp_path: Path, evidence: Path, extra: tuple[str, str]) -> None:
    case = tmp_path / "X"
    code, text = invoke("scan", str(evidence), "--case", str(case), *extra)
    assert code == 2, text
    assert len(text.strip().splitlines()) == 1 and "Traceback" not in text, text
    assert not case.exists()


def test_scan_of_a_missing_source_leaves_no_case_nor_touches_a_folder(tmp_path: Path) -> None:
    case = tmp_path / "X"
    code, text = invoke("scan", str(tmp_path / "nope"), "--case", str(case))
    assert code == 2 and "does not exist" in text, text
    assert not case.exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("the examiner's own file\n")
    code, text = invoke("scan", str(tmp_path / "nope"), "--case", str(existing))
    assert code == 2
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]


def test_resumed_run_that_finds_everything_done_still_exits_1(
    tmp_path: Path, evidence: Path
) -> None:
    case = tmp_path / "case"
    assert invoke("case", "init", str(case), "--name", "n", "--examiner", "e")[0] == 0
    add = ("add", str(case), str(evidence), "--label", "l", "--executor", "inline")
    first, text = invoke(*add)
    assert first == 1, text  # the truncated JPEG
    again, text = invoke(*add)
    assert again == 1, text  # was 0: this run itself found nothing new
    assert "problems recorded on this evidence over all runs" in text


def test_clean_resume_exits_0(tmp_path: Path) -> None:
    src = tmp_path / "ev"
    src.mkdir()
    (src / "a.txt").write_text("benign\n")
    case = tmp_path / "case"
    add = ("scan", str(src), "--case", str(case), "--executor", "inline")
    assert invoke(*add)[0] == 0
    assert invoke(*add)[0] == 0


def test_lists_import_with_bad_lines_exits_1_also_when_repeated(tmp_path: Path) -> None:
    lst = tmp_path / "l.csv"
    lst.write_text(f"md5,category\n{'a' * 32},1\nthis line is bad,\n")
    library = ("--library", str(tmp_path / "lib"))
    code, text = invoke("lists", "import", str(lst), "--name", "l", *library)
    assert code == 1 and "1 bad lines" in text, text
    code, text = invoke("lists", "import", str(lst), "--name", "l", *library)
    assert code == 1 and "unchanged" in text, text
    good = tmp_path / "g.csv"
    good.write_text(f"md5,category\n{'b' * 32},1\n")
    assert invoke("lists", "import", str(good), "--name", "g", *library)[0] == 0
