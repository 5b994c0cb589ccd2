"""The detector's batch stage (``--detector-stage batch``) without a cluster: the same stage code
Ray Data runs, here in the coordinating process.

Whatever path the scores take, the store must end as an inline scan leaves it: same scores, same
re-decided verdicts, same problems; an interrupted stage is finished by the next run, and the
waiting patches (evidence-derived pixels) stay private and are deleted once scored.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import draw_scene, encode
from detector_bundle import make_bundle
from veriscan.analyzers.detect import analyzer as detect
from veriscan.cli.app import app
from veriscan.pipeline import detector_stage
from veriscan.store import detector_results

runner = CliRunner()
A1111 = (
    "a lighthouse on a cliff at dusk, oil painting\n"
    "Negative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 320x240, Model: v1-5"
)


@pytest.fixture(autouse=True)
def _fresh_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "_loaded", {})


@pytest.fixture
def evidence(small_evidence: Path) -> Path:
    """Photos, a truncated JPEG, a zip, and an image with generator metadata (whose verdict the
    stage must re-decide without losing the conclusive evidence)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", A1111)
    path = small_evidence / "docs" / "00012-1234.png"
    draw_scene(21).save(path, "PNG", pnginfo=info)
    return small_evidence


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def scan(case: Path, evidence: Path, bundle: Path, stage: str, label: str = "phone") -> int:
    code, text = invoke(
        "scan", str(evidence), "--case", str(case), "--label", label, "-j", "1",
        "--executor", "inline", "--detector-model", str(bundle), "--detector-stage", stage,
    )  # fmt: skip
    assert code in (0, 1, 130), text
    return code


def records(case: Path) -> list[dict[str, Any]]:
    out = case.parent / f"{case.name}.jsonl"
    code, text = invoke("export", "jsonl", str(case), "-o", str(out))
    assert code == 0, text
    return [json.loads(line) for line in out.read_text().splitlines()]


def pixel_check(rec: dict[str, Any]) -> str:
    return next(c["outcome"] for c in rec["ai"]["checks"] if c["name"] == "pixel detector")


def waiting_files(case: Path) -> list[Path]:
    return (
        sorted(p for p in (case / "derived").rglob("*.npy")) if (case / "derived").exists() else []
    )


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    # threshold at the tiny graph's typical score, so both flagged and unflagged images occur
    return make_bundle(tmp_path / "bundle", threshold=0.5, a=4.0, b=-25.2)


def test_batch_stage_store_equals_inline(
    tmp_path: Path, evidence: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan(tmp_path / "inline", evidence, bundle, "inline")
    monkeypatch.setattr(detector_stage, "SLICE", 3)  # several slices, commits across them
    monkeypatch.setattr(detector_stage, "COMMIT_EVERY", 2)
    scan(tmp_path / "batch", evidence, bundle, "batch")
    inline, batch = records(tmp_path / "inline"), records(tmp_path / "batch")
    assert batch == inline
    scored = [r for r in inline if r["detector"]]
    assert len(scored) >= 6
    assert {r["detector"]["flagged"] for r in scored} == {True, False}, "threshold too far off"
    (made,) = [
        r
        for r in inline
        if any(loc["locator"].endswith("00012-1234.png") for loc in r["locations"])
    ]
    assert made["ai"]["verdict"] == "conclusive" and made["ai"]["generator"] == "automatic1111"
    assert not waiting_files(tmp_path / "batch")
    assert not list((tmp_path / "batch" / "derived" / "detector-pixels").iterdir())


def _stop_after(monkeypatch: pytest.MonkeyPatch, commits: int) -> None:
    """Ctrl-C in the stage after ``commits`` commits of two images each."""
    real = detector_results.record_scores
    calls = {"n": 0}

    def record(*args: Any) -> int:
        if calls["n"] >= commits:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(detector_stage, "COMMIT_EVERY", 2)
    monkeypatch.setattr(detector_stage, "record_scores", record)


def _all_left_waiting(
    case: Path, evidence: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A batch run whose stage is interrupted before its first commit."""
    with monkeypatch.context() as patched:
        _stop_after(patched, commits=0)
        assert scan(case, evidence, bundle, "batch") == 130
    return case


def test_interrupted_stage_is_finished_by_the_same_command(
    tmp_path: Path, evidence: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan(tmp_path / "inline", evidence, bundle, "inline")
    case = tmp_path / "case"
    with monkeypatch.context() as patched:
        _stop_after(patched, commits=1)
        assert scan(case, evidence, bundle, "batch") == 130
    waiting = waiting_files(case)
    assert waiting, "the interrupted stage left nothing to finish"
    pending = [r for r in records(case) if r["ai"] and pixel_check(r).startswith("pending")]
    assert len(pending) == len(waiting)
    for path in [case / "derived", *[p for p in (case / "derived").rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in waiting)

    assert scan(case, evidence, bundle, "batch") in (0, 1)
    assert records(case) == records(tmp_path / "inline")
    assert not waiting_files(case)


def test_a_later_inline_run_finishes_what_a_batch_run_left(
    tmp_path: Path, evidence: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _all_left_waiting(tmp_path / "case", evidence, bundle, monkeypatch)
    assert waiting_files(case)
    other = tmp_path / "other"
    other.mkdir()
    (other / "field.jpg").write_bytes(encode(draw_scene(40), "JPEG"))
    scan(case, other, bundle, "inline", label="camera")
    assert not waiting_files(case)
    images = [r for r in records(case) if r["ai"]]
    assert all(not pixel_check(r).startswith("pending") for r in images)
    assert sum(1 for r in images if r["detector"]) == len(images) - 1  # the truncated JPEG


def test_lost_patches_are_a_recorded_problem(
    tmp_path: Path, evidence: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _all_left_waiting(tmp_path / "case", evidence, bundle, monkeypatch)
    lost = waiting_files(case)[0]
    lost.unlink()
    assert scan(case, evidence, bundle, "batch") == 1
    (rec,) = [r for r in records(case) if r["sha256"] == lost.stem]
    assert rec["detector"] is None
    assert "detector-pixels-missing" in {p["code"] for p in rec["problems"]}
    assert pixel_check(rec) == "not run: patches missing"
    assert not waiting_files(case)


def test_unknown_stage_is_a_usage_error(tmp_path: Path, evidence: Path, bundle: Path) -> None:
    code, text = invoke(
        "scan", str(evidence), "--case", str(tmp_path / "c"), "--detector-stage", "gpu"
    )
    assert code == 2 and "detector_stage" in text
