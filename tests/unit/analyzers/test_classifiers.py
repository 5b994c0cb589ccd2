"""The classifier slot's preprocessing, scores and start-up checks, with a tiny model built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.onnx_models import tiny_classifier
from veriscan import offline
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.classifiers import (
    ClassifierAnalyzer,
    ClassifierConfig,
    classifier_configs,
    letterbox,
    preprocess,
)
from veriscan.domain import Attribute, Problem
from veriscan.settings import Settings, SettingsError, plugin_tables

MEAN = (0.5, 0.25, 0.125)
STD = (0.25, 0.5, 0.2)


def settings_for(model: Path, **table: object) -> Settings:
    base: dict[str, object] = {
        "model": str(model),
        "size": 8,
        "mean": list(MEAN),
        "std": list(STD),
        "labels": ["calm", "busy"],
        "flag": {"label": "busy", "threshold": 0.5},
    }
    base.update(table)
    return Settings(plugin_tables=plugin_tables({"classifiers": {"tiny": base}}))


def drawn(size: tuple[int, int]) -> Image.Image:
    img = Image.new("RGB", size, (40, 160, 220))
    for x in range(size[0] // 3):
        for y in range(size[1]):
            img.putpixel((x, y), (250, 200, 30))
    return img


def test_letterbox_keeps_aspect_and_pads_black() -> None:
    boxed = np.asarray(letterbox(Image.new("RGB", (16, 8), (255, 0, 0)), 8))
    assert boxed.shape == (8, 8, 3)
    assert (boxed[:2] == 0).all() and (boxed[6:] == 0).all()  # 16x8 -> 8x4, centred
    assert (boxed[2:6] == (255, 0, 0)).all()


def test_preprocess_normalises_per_channel_in_nchw() -> None:
    config = ClassifierConfig("m", 8, MEAN, STD, ("a", "b"))
    x = preprocess(Image.new("RGB", (16, 8), (255, 0, 0)), config)
    assert x.shape == (1, 3, 8, 8) and x.dtype == np.float32
    # red channel: (1 - 0.5) / 0.25 = 2 on the image, (0 - 0.5) / 0.25 = -2 on the padding
    assert x[0, 0, 3, 3] == pytest.approx(2.0) and x[0, 0, 0, 0] == pytest.approx(-2.0)
    assert x[0, 1, 3, 3] == pytest.approx(-0.5) and x[0, 2, 7, 7] == pytest.approx(-0.625)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_scores_equal_onnxruntime_on_the_same_input(tmp_path: Path, activation: str) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx")
    settings = settings_for(model, activation=activation)
    assert ClassifierAnalyzer.prepare(settings) is not None
    img = drawn((30, 20))
    ctx = FileContext("a.png", _png(img), "image/png", settings)
    facts = ClassifierAnalyzer(settings).analyze(ctx)
    assert len(facts) == 1 and isinstance(facts[0], Attribute)
    result = facts[0].value["tiny"]
    config = classifier_configs(settings)["tiny"]
    ort = offline.onnxruntime()
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    raw = session.run(None, {"x": preprocess(img, config)})[0].reshape(-1).astype(np.float64)
    if activation == "softmax":
        expected = np.exp(raw - raw.max()) / np.exp(raw - raw.max()).sum()
    else:
        expected = 1 / (1 + np.exp(-raw))
    assert list(result["scores"]) == ["calm", "busy"]
    assert [result["scores"][k] for k in ("calm", "busy")] == pytest.approx(list(expected))
    assert result["flagged"] is bool(expected[1] >= 0.5)
    import hashlib

    assert result["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()


def _png(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_unreadable_image_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    settings = settings_for(tiny_classifier(tmp_path / "tiny.onnx"))
    ctx = FileContext("b.png", b"\x89PNG\r\n\x1a\nbroken", "image/png", settings)
    facts = ClassifierAnalyzer(settings).analyze(ctx)
    assert facts and all(isinstance(f, Problem) for f in facts)


def test_no_classifier_configured_leaves_the_analyzer_out() -> None:
    assert ClassifierAnalyzer.prepare(Settings()) is None
    assert not ClassifierAnalyzer(Settings()).wants("image/png")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": 16}, "input shape 1x3x8x8 does not take 1x3x16x16"),
        ({"labels": ["a", "busy", "c"]}, "gives 2 outputs for 3 labels"),
        ({"other_model": "missing.onnx"}, "cannot read"),
        ({"activation": "relu"}, "activation must be one of softmax, sigmoid"),
        ({"flag": {"label": "nope", "threshold": 0.5}}, "flag label 'nope'"),
        ({"colour": 1}, "unknown setting 'colour' in [veriscan.classifiers.tiny]"),
        ({"mean": [0.5]}, "one value per colour channel"),
        ({"size": "big"}, "setting 'size'"),
    ],
)
def test_setup_errors_are_one_line(tmp_path: Path, change: dict[str, object], message: str) -> None:
    model = tiny_classifier(tmp_path / "tiny.onnx")
    if "other_model" in change:
        model = tmp_path / str(change.pop("other_model"))
    with pytest.raises(SettingsError) as info:
        ClassifierAnalyzer.prepare(settings_for(model, **change))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_file_that_is_not_onnx_fails_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(SettingsError, match="not a usable ONNX model") as info:
        ClassifierAnalyzer.prepare(settings_for(bad))
    assert "\n" not in str(info.value)
