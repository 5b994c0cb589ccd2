"""The CLI as an examiner uses it: commands, exit codes, JSONL schema, evidence untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veriscan.cli.app import app

runner = CliRunner()

JSONL_KEYS = {
    "sha256",
    "md5",
    "sha1",
    "size",
    "mime",
    "locations",
    "image",
    "exif",
    "pdq",
    "problems",
    "findings",
    "ai",
    "detector",
}


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_mode)
    return out


def test_full_flow(tmp_path: Path, small_evidence: Path) -> None:
    case = tmp_path / "case"
    code, text = invoke(
        "case", "init", str(case), "--name", "Op T", "--examiner", "E", "--agency", "U"
    )
    assert code == 0, text
    before = fingerprint(small_evidence)
    code, text = invoke(
        "add", str(case), str(small_evidence), "--label", "phone", "--custodian", "S1"
    )
    assert code == 1, text  # completed, but the truncated JPEG is a problem
    assert fingerprint(small_evidence) == before, "evidence must never change"
    assert "13 locations stored" in text

    code, text = invoke("status", str(case), "--json")
    assert code == 0
    status = json.loads(text)
    assert status["locations"] == 13
    assert status["evidence"][0]["custodian"] == "S1"

    out = tmp_path / "x.jsonl"
    code, _ = invoke("export", "jsonl", str(case), "-o", str(out))
    assert code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == status["contents"]
    for rec in records:
        assert set(rec) >= JSONL_KEYS
        assert all({"evidence", "locator"} <= set(loc) for loc in rec["locations"])
        assert all({"analyzer", "message"} <= set(p) for p in rec["problems"])
        if rec["pdq"]:
            assert (
                len(rec["pdq"]["hash"]) == 64 and rec["pdq"]["hash"] == rec["pdq"]["hash"].lower()
            )

    sha = hashlib.sha256((small_evidence / "docs" / "diagram.png").read_bytes()).hexdigest()
    for needle in (sha, "docs/diagram.png"):
        code, text = invoke("show", str(case), needle, "--json")
        assert code == 0, text
        assert json.loads(text)["sha256"] == sha

    code, text = invoke("report", str(case))
    assert code == 0
    html = (case / "report.html").read_text()
    assert "Op T" in html and sha in html and "<img" not in html
    assert "http://" not in html and "https://" not in html

    code, text = invoke("report", str(case), "--thumbnails", "-o", str(tmp_path / "r.html"))
    assert code == 2 and "inside the case folder" in text
    assert not (tmp_path / "r.html").exists()
    code, _ = invoke("report", str(case), "--thumbnails", "-o", str(case / "r.html"))
    assert code == 0
    assert "data:image/jpeg;base64," in (case / "r.html").read_text()
    assert (case / "r.html").stat().st_mode & 0o077 == 0


def test_scan_one_shot_and_rerun(tmp_path: Path, small_evidence: Path) -> None:
    case = tmp_path / "oneshot"
    code, text = invoke("scan", str(small_evidence), "--case", str(case), "--workers", "1")
    assert code == 1, text
    assert (case / "report.html").is_file()
    assert str(case / "report.html") in text
    code, text = invoke("scan", str(small_evidence), "--case", str(case))
    assert code == 1, text  # nothing left to do, but the evidence holds problems (issue 15)
    assert "0 locations stored" in text


@pytest.mark.parametrize(
    "args",
    [
        ("status", "/nonexistent/case"),
        ("add", "/nonexistent/case", ".", "--label", "x"),
        ("scan", "/nonexistent/evidence"),
        ("scan", ".", "--pdq", "sloppy"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, text = invoke(*args)
    assert code == 2
    assert "Traceback" not in text


def test_label_reuse_for_another_source_is_refused(tmp_path: Path, small_evidence: Path) -> None:
    case = tmp_path / "c"
    invoke("case", "init", str(case), "--name", "n", "--examiner", "e")
    invoke("add", str(case), str(small_evidence / "DCIM"), "--label", "a", "-j", "1")
    code, text = invoke("add", str(case), str(small_evidence / "docs"), "--label", "a")
    assert code == 2 and "already names" in text


def test_show_unknown_is_usage_error(tmp_path: Path) -> None:
    case = tmp_path / "c"
    invoke("case", "init", str(case), "--name", "n", "--examiner", "e")
    code, _ = invoke("show", str(case), "0" * 64)
    assert code == 2


def test_skip_leaves_an_analyzer_out_and_records_it(tmp_path: Path, small_evidence: Path) -> None:
    case = tmp_path / "c"
    invoke("case", "init", str(case), "--name", "n", "--examiner", "e")
    code, text = invoke(
        "add", str(case), str(small_evidence), "--label", "a", "--skip", "provenance"
    )
    assert code == 1, text
    code, text = invoke("status", str(case), "--json")
    run = json.loads(text)["runs"][-1]
    assert "provenance" not in run["analyzers"] and "pdq" in run["analyzers"]
    assert run["settings"]["skip"] == "provenance"
    out = tmp_path / "x.jsonl"
    invoke("export", "jsonl", str(case), "-o", str(out))
    assert all(json.loads(line)["ai"] is None for line in out.read_text().splitlines())
    for bad in ("hashes", "nonsense"):
        code, text = invoke("add", str(case), str(small_evidence), "--label", "b", "--skip", bad)
        assert code == 2 and "skip" in text, text
    code, text = invoke("status", str(case), "--json")
    assert [e["label"] for e in json.loads(text)["evidence"]] == ["a"], (
        "no evidence row on a bad flag"
    )


def test_show_text_view_and_literal_labels(tmp_path: Path, small_evidence: Path) -> None:
    case = tmp_path / "c"
    invoke("case", "init", str(case), "--name", "Op [x]", "--examiner", "e")
    label = "[bold]phone[/bold]"
    invoke("add", str(case), str(small_evidence / "DCIM"), "--label", label, "-j", "1")
    code, text = invoke("status", str(case))
    assert code == 0 and label in text and "Op [x]" in text
    code, text = invoke("show", str(case), "IMG_0001.JPG")
    assert code == 0, text
    sha = hashlib.sha256((small_evidence / "DCIM" / "IMG_0001.JPG").read_bytes()).hexdigest()
    assert sha in text and "AI-generation evidence: none found" in text
    assert "absence of evidence" in text
