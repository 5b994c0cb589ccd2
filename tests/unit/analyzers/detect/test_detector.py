"""The pixel detector at inference: deterministic, batched, calibrated, and never more than a cue.

Every image here is drawn in code (gradients, shapes, noise); the bundle is a tiny seeded ONNX
graph built by ``tests/detector_bundle.py``, never the shipped model.
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from detector_bundle import make_bundle
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.detect import analyzer as detect
from veriscan.analyzers.detect.analyzer import CACHE_KEY, FAILED_KEY, DetectorAnalyzer
from veriscan.analyzers.detect.bundle import INPUT, META_NAME, ONNX_NAME
from veriscan.analyzers.provenance.analyzer import ProvenanceAnalyzer
from veriscan.analyzers.provenance.pixel import pixel_signal
from veriscan.domain import Attribute, Fact, Problem
from veriscan.pipeline.plan import WorkUnit
from veriscan.pipeline.process import UnitProcessor
from veriscan.settings import Settings, SettingsError


@pytest.fixture(autouse=True)
def _fresh_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test loads its own sessions, as a fresh worker process would."""
    monkeypatch.setattr(detect, "_loaded", {})


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def scene(w: int = 320, h: int = 240, seed: int = 0) -> bytes:
    """A gradient with a rectangle and mild noise: no size cue, no metadata."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    ramp[h // 4 : h // 2, w // 4 : w // 2] = (200, 60, 40)
    noisy = ramp + rng.normal(0, 6, ramp.shape)
    return png(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions but holds no pixels: the limit must act on the header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def settings_for(folder: Path) -> Settings:
    return Settings(detector_model=str(folder))


def run(settings: Settings, data: bytes, name: str = "x.png") -> tuple[list[Fact], FileContext]:
    ctx = FileContext(name, data, "image/png", settings)
    return DetectorAnalyzer(settings).analyze(ctx), ctx


def result(facts: list[Fact]) -> dict[str, Any]:
    found = [f.value for f in facts if isinstance(f, Attribute) and f.name == "detector"]
    assert len(found) == 1, facts
    value: dict[str, Any] = found[0]
    return value


def problem_codes(facts: list[Fact]) -> list[str]:
    return [f.code for f in facts if isinstance(f, Problem)]


def test_result_is_calibrated_batched_and_cached(tmp_path: Path) -> None:
    settings = settings_for(make_bundle(tmp_path / "b", patch=32, patches=9))
    facts, ctx = run(settings, scene())
    out = result(facts)
    assert set(out) == {"score", "model", "flagged", "threshold", "logit", "patches"}
    assert 0.0 <= out["score"] <= 1.0
    assert out["score"] == round(out["score"], 4)
    assert out["patches"] == 9
    assert out["model"] == "tiny-test@0"
    assert out["flagged"] is (out["score"] >= out["threshold"])
    assert ctx.cache[CACHE_KEY] == out
    assert problem_codes(facts) == []


def test_one_batched_run_per_image(tmp_path: Path) -> None:
    settings = settings_for(make_bundle(tmp_path / "b", patch=32, patches=16))
    loaded = detect.load_detector(tmp_path / "b")
    shapes: list[tuple[int, ...]] = []

    class Recording:
        def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> Any:
            shapes.append(feeds[INPUT].shape)
            assert feeds[INPUT].dtype == np.float32
            assert feeds[INPUT].min() >= 0.0 and feeds[INPUT].max() <= 1.0
            return loaded.session.run(names, feeds)

    key = ("detector", str((tmp_path / "b").resolve()))
    detect._loaded[key] = detect.Detector(loaded.meta, Recording(), loaded.providers)
    result(run(settings, scene(640, 480))[0])
    assert shapes == [(16, 3, 32, 32)]


def test_same_bytes_same_score_across_fresh_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_bundle(tmp_path / "b")
    data = scene(seed=3)
    first = result(run(settings_for(folder), data)[0])
    again = result(run(settings_for(folder), data)[0])
    monkeypatch.setattr(detect, "_loaded", {})  # a new process: a new session
    fresh = result(run(settings_for(folder), data)[0])
    copy = shutil.copytree(folder, tmp_path / "copy")  # another folder: another session again
    other = result(run(settings_for(copy), data)[0])
    assert first == again == fresh == other
    assert result(run(settings_for(folder), scene(seed=4))[0])["logit"] != first["logit"]


def test_tiny_images_are_padded_not_refused(tmp_path: Path) -> None:
    settings = settings_for(make_bundle(tmp_path / "b", patch=32, patches=16))
    for w, h in ((5, 3), (1, 1), (31, 200)):
        out = result(run(settings, png(Image.new("RGB", (w, h), (10, 200, 30))))[0])
        assert out["patches"] == 16 and 0.0 <= out["score"] <= 1.0


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff\xe0garbage", b"\x89PNG\r\n\x1a\nbroken"])
def test_corrupt_bytes_are_a_problem(tmp_path: Path, data: bytes) -> None:
    facts, ctx = run(settings_for(make_bundle(tmp_path / "b")), data)
    assert problem_codes(facts) == ["detector-unreadable"]
    assert "0x" not in facts[0].message  # type: ignore[union-attr]  # no object addresses
    assert CACHE_KEY not in ctx.cache and ctx.cache[FAILED_KEY] == "pixels unreadable"


def test_truncated_image_is_a_problem(tmp_path: Path) -> None:
    good = scene()
    facts, _ = run(settings_for(make_bundle(tmp_path / "b")), good[: len(good) // 2])
    assert problem_codes(facts) == ["detector-unreadable"]


@pytest.mark.parametrize("size", [(10_000, 10_000), (40_000, 40_000)])
def test_images_beyond_the_pixel_limit_are_refused_from_the_header(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """100 MP is over the detector's limit; 1.6 GP is over Pillow's own bomb limit as well."""
    facts, ctx = run(settings_for(make_bundle(tmp_path / "b")), png_header(*size))
    assert problem_codes(facts) == ["detector-too-large"]
    assert ctx.cache[FAILED_KEY] == "image too large"


def test_pixel_limit_applies_to_real_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detect, "MAX_PIXELS", 320 * 240 - 1)
    facts, _ = run(settings_for(make_bundle(tmp_path / "b")), scene(320, 240))
    assert problem_codes(facts) == ["detector-too-large"]


def test_named_model_that_cannot_load(tmp_path: Path) -> None:
    missing = settings_for(tmp_path / "nowhere")
    assert DetectorAnalyzer(missing).wants("image/jpeg")  # named: each image says why
    facts, ctx = run(missing, scene())
    assert problem_codes(facts) == ["detector-no-model"]
    assert ctx.cache[FAILED_KEY] == "no model"
    with pytest.raises(SettingsError, match="detector_model"):
        DetectorAnalyzer.prepare(missing)

    broken = make_bundle(tmp_path / "broken")
    (broken / ONNX_NAME).write_bytes(b"not a graph")
    assert problem_codes(run(settings_for(broken), scene())[0]) == ["detector-no-model"]
    wrong = make_bundle(tmp_path / "wrong", patch=32)
    meta = (wrong / META_NAME).read_text().replace('"patch": 32', '"patch": 48')
    (wrong / META_NAME).write_text(meta)  # a graph that cannot take the patches it is given
    with pytest.raises(SettingsError, match="48-pixel"):
        DetectorAnalyzer.prepare(settings_for(wrong))


def test_without_a_packaged_model_the_detector_stays_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detect, "BUNDLE_DIR", tmp_path / "empty")
    assert DetectorAnalyzer.prepare(Settings()) is None
    assert not DetectorAnalyzer(Settings()).wants("image/jpeg")


def test_a_packaged_model_is_used_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detect, "BUNDLE_DIR", make_bundle(tmp_path / "packaged"))
    assert DetectorAnalyzer.prepare(Settings()) == "1/tiny-test@0"
    analyzer = DetectorAnalyzer(Settings())
    assert analyzer.wants("image/jpeg") and analyzer.wants("image/heic")
    assert not analyzer.wants("text/plain") and not analyzer.wants("video/mp4")
    assert result(run(Settings(), scene())[0])["model"] == "tiny-test@0"


def test_whole_analyzers_run_detector_before_provenance(tmp_path: Path) -> None:
    from veriscan.plugins import load_registry

    classes = tuple(load_registry().classes("analyzers"))
    unit = WorkUnit("u", object, None, (), Settings(), classes, str(tmp_path), None)  # type: ignore[arg-type]
    ids = [a.id for a in UnitProcessor(unit).whole]
    assert ids.index("detector") < ids.index("provenance")
    assert ids[-1] == "provenance"


def verdict(settings: Settings, data: bytes) -> dict[str, Any]:
    ctx = FileContext("scene.png", data, "image/png", settings)
    DetectorAnalyzer(settings).analyze(ctx)
    facts = ProvenanceAnalyzer(settings).analyze(ctx)
    ai: dict[str, Any] = next(f.value for f in facts if isinstance(f, Attribute))
    return ai


def checks(ai: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["outcome"] for c in ai["checks"]}


def test_flagged_score_gives_an_indicative_verdict_worded_as_an_estimate(tmp_path: Path) -> None:
    ai = verdict(settings_for(make_bundle(tmp_path / "b", b=30.0)), scene())
    assert ai["verdict"] == "indicative"
    assert ai["generator"] is None  # the detector's model is not the image's generator
    (pixel,) = [e for e in ai["evidence"] if e["signal"] == "pixel-detector"]
    assert pixel["strength"] == "indicative"
    assert "statistical estimate" in pixel["summary"]
    assert "statistical estimate" in ai["explanation"]
    assert checks(ai)["pixel detector"].startswith("score 1.00: indicative")


def test_low_score_is_no_indication_and_never_real(tmp_path: Path) -> None:
    ai = verdict(settings_for(make_bundle(tmp_path / "b", b=-30.0)), scene())
    assert ai["verdict"] == "none found"
    assert not [e for e in ai["evidence"] if e["signal"] == "pixel-detector"]
    assert checks(ai)["pixel detector"].startswith("score 0.00 below threshold 0.50")
    text = ai["explanation"].lower()
    assert "statistical estimate" in text and "absence of evidence" in text
    for wording in ("is real", "authentic", "genuine photo", "not ai", "not generated"):
        assert wording not in text


@pytest.mark.parametrize("size", [(320, 240), (512, 512)])
def test_even_a_certain_score_is_indicative_at_most(size: tuple[int, int]) -> None:
    """Score 1.0 alone, and next to another weak cue (a diffusion-typical size)."""
    settings = Settings()
    ctx = FileContext("scene.png", scene(*size), "image/png", settings)
    ctx.cache[CACHE_KEY] = {
        "score": 1.0,
        "model": "m@1",
        "flagged": True,
        "threshold": 0.5,
        "logit": 40.0,
        "patches": 16,
    }
    facts = ProvenanceAnalyzer(settings).analyze(ctx)
    ai = next(f.value for f in facts if isinstance(f, Attribute))
    assert ai["verdict"] == "indicative"
    assert all(e["strength"] in ("indicative", "none") for e in ai["evidence"])


def test_check_says_when_the_detector_did_not_run(tmp_path: Path) -> None:
    settings = Settings()
    ctx = FileContext("scene.png", scene(), "image/png", settings)
    ai = next(
        f.value for f in ProvenanceAnalyzer(settings).analyze(ctx) if isinstance(f, Attribute)
    )
    assert checks(ai)["pixel detector"] == "not run"
    assert "statistical estimate" not in ai["explanation"]
    _, failed = run(settings_for(tmp_path / "nowhere"), scene())
    assert pixel_signal(failed.cache)[1].outcome == "not run: no model"


def test_scores_next_to_the_threshold_are_not_printed_as_equal() -> None:
    near = {"score": 0.4999, "threshold": 0.5, "model": "m@1", "flagged": False}
    assert pixel_signal({CACHE_KEY: near})[1].outcome.startswith(
        "score 0.4999 below threshold 0.5000"
    )
