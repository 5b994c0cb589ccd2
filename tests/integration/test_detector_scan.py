"""The pixel detector through the CLI: stored, exported, shown, reported, and switched off.

A tiny seeded bundle stands in for the shipped model (see tests/detector_bundle.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from detector_bundle import make_bundle
from veriscan.analyzers.detect import analyzer as detect
from veriscan.cli.app import app

runner = CliRunner()
IMAGES = {"image/jpeg", "image/png"}


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def export(case: Path, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / f"{case.name}.jsonl"
    code, text = invoke("export", "jsonl", str(case), "-o", str(out))
    assert code == 0, text
    return [json.loads(line) for line in out.read_text().splitlines()]


def last_run(case: Path) -> dict[str, Any]:
    code, text = invoke("status", str(case), "--json")
    assert code == 0, text
    run: dict[str, Any] = json.loads(text)["runs"][-1]
    return run


def pixel_check(rec: dict[str, Any]) -> str:
    return next(c["outcome"] for c in rec["ai"]["checks"] if c["name"] == "pixel detector")


def test_scan_stores_exports_shows_and_reports_the_score(
    tmp_path: Path, small_evidence: Path
) -> None:
    bundle = make_bundle(tmp_path / "bundle", b=30.0)  # every readable image is flagged
    case = tmp_path / "case"
    code, text = invoke(
        "scan", str(small_evidence), "--case", str(case), "--detector-model", str(bundle), "-j", "1"
    )
    assert code == 1, text  # the truncated JPEG is a problem
    assert last_run(case)["analyzers"]["detector"] == "1/tiny-test@0"
    records = export(case, tmp_path)
    images = [r for r in records if r["mime"] in IMAGES]
    scored = [r for r in images if r["detector"] is not None]
    assert len(scored) == len(images) - 1
    for rec in scored:
        assert rec["detector"]["model"] == "tiny-test@0" and rec["detector"]["flagged"] is True
        assert {"score", "threshold", "flagged", "model"} <= set(rec["detector"])
        # provenance ran after the detector in the worker, so the score reached the verdict
        assert rec["ai"]["verdict"] == "indicative", rec["ai"]["explanation"]
        assert any(e["signal"] == "pixel-detector" for e in rec["ai"]["evidence"])
        assert "statistical estimate" in rec["ai"]["explanation"]
    (broken,) = [r for r in images if r["detector"] is None]
    assert "detector-unreadable" in {p["code"] for p in broken["problems"]}
    assert pixel_check(broken) == "not run: pixels unreadable"
    assert all(r["detector"] is None for r in records if r["mime"] not in IMAGES)

    code, text = invoke("show", str(case), scored[0]["sha256"])
    assert code == 0, text
    assert "Pixel detector: score 1.0000" in text and "statistical estimate" in text
    assert "pixel detector score 1.0000" in (case / "report.html").read_text()


def test_no_detector_flag_leaves_it_out(tmp_path: Path, small_evidence: Path) -> None:
    bundle = make_bundle(tmp_path / "bundle")
    case = tmp_path / "case"
    invoke("case", "init", str(case), "--name", "n", "--examiner", "e")
    code, text = invoke(
        "add", str(case), str(small_evidence), "--label", "a", "--no-detector",
        "--skip", "pdq", "--detector-model", str(bundle), "-j", "1",
    )  # fmt: skip
    assert code == 1, text
    run = last_run(case)
    assert "detector" not in run["analyzers"] and "pdq" not in run["analyzers"]
    assert set(run["settings"]["skip"].split(",")) == {"detector", "pdq"}
    records = export(case, tmp_path)
    assert all(r["detector"] is None for r in records)
    assert all(pixel_check(r) == "not run" for r in records if r["ai"])


def test_a_named_model_that_cannot_load_stops_before_reading(
    tmp_path: Path, small_evidence: Path
) -> None:
    case = tmp_path / "case"
    invoke("case", "init", str(case), "--name", "n", "--examiner", "e")
    missing = tmp_path / "no-model"
    code, text = invoke(
        "add", str(case), str(small_evidence), "--label", "a", "--detector-model", str(missing)
    )
    assert code == 2
    assert "detector_model" in text and "no-model" in text
    code, text = invoke("status", str(case), "--json")
    assert json.loads(text)["evidence"] == [] and json.loads(text)["runs"] == []


def test_without_a_packaged_model_scans_run_without_the_detector(
    tmp_path: Path, small_evidence: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detect, "BUNDLE_DIR", tmp_path / "not-shipped")
    case = tmp_path / "case"
    invoke("case", "init", str(case), "--name", "n", "--examiner", "e")
    code, text = invoke(
        "add", str(case), str(small_evidence), "--label", "a", "--executor", "inline"
    )
    assert code == 1, text
    assert "detector" not in last_run(case)["analyzers"]
    records = export(case, tmp_path)
    assert all(r["detector"] is None for r in records)
    problems = {p["code"] for r in records for p in r["problems"]}
    assert not any(code.startswith("detector") for code in problems)
