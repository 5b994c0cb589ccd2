"""Detector training end to end on drawn data: it learns a planted trace, exports a faithful ONNX.

The images are smooth gradients and ellipses with mild sensor-like noise. The "AI" class carries
a faint period-2 tile, the checkerboard that transposed-convolution up-sampling leaves. (Additive
2x2-constant noise would not do: the NPR residual x - up2(down2(x)) cancels it exactly at the
8-aligned patch positions, so no NPR model could see it.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from veriscan.analyzers.detect.bundle import INPUT, ONNX_NAME, OUTPUT, read_meta  # noqa: E402
from veriscan.analyzers.detect.patches import grid_patches  # noqa: E402
from veriscan.cli.app import app  # noqa: E402
from veriscan.detector_training.data import load_dataset  # noqa: E402
from veriscan.detector_training.evaluate import Scorer, evaluate, session  # noqa: E402
from veriscan.detector_training.export import export_onnx  # noqa: E402
from veriscan.detector_training.nets import DESIGNS, build  # noqa: E402
from veriscan.detector_training.train import TrainConfig, train_detector  # noqa: E402


def _scene(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    a, b, c = rng.uniform(-1, 1, 3)
    base = 128 + 60 * np.sin(a * xx / 20 + b * yy / 25 + c)
    img = Image.fromarray(
        np.clip(np.stack([base * rng.uniform(0.6, 1.0) for _ in range(3)], -1), 0, 255).astype(
            np.uint8
        )
    )
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x0, y0 = (int(v) for v in rng.integers(0, size - 20, 2))
        x1, y1 = x0 + int(rng.integers(10, 40)), y0 + int(rng.integers(10, 40))
        draw.ellipse([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return np.asarray(img).astype(np.float32)


def write_planted(root: Path, n: int, *, size: int = 128, amp: float = 4.0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for cls in ("real", "ai"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = _scene(rng, size) + rng.normal(0, 2.0, (size, size, 3))
            if cls == "ai":
                tile = amp * rng.choice([-1.0, 1.0], size=(2, 2, 3))
                img = img + np.tile(tile, (size // 2, size // 2, 1))
            pixels = np.clip(img, 0, 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i:03d}.png")


@pytest.mark.parametrize("design", DESIGNS)
def test_onnx_equals_pytorch(design: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build(design, width=8).eval()
    with torch.no_grad():  # BatchNorm statistics away from the identity, as after training
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    info = export_onnx(model, tmp_path, patch=64)
    assert info["max_abs_diff"] <= 1e-4
    assert (tmp_path / ONNX_NAME).stat().st_size < 4_000_000
    sess = session(tmp_path / ONNX_NAME, threads=1)
    rng = np.random.default_rng(3)
    for n in (1, 16):
        batch = rng.random((n, 3, 64, 64), dtype=np.float32)
        got = sess.run([OUTPUT], {INPUT: batch})[0]
        with torch.no_grad():
            want = model(torch.from_numpy(batch)).numpy()
        assert got.shape == (n,)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_tiny_npr_learns_a_planted_upsampling_trace(tmp_path: Path) -> None:
    write_planted(tmp_path / "data", 60)
    dataset = load_dataset(None, tmp_path / "data/real", tmp_path / "data/ai")
    cfg = TrainConfig(
        design="npr", epochs=4, patches_per_epoch=1024, batch_size=32, width=8, lr=3e-3, seed=0
    )
    bundle = tmp_path / "bundle"
    result = train_detector(dataset, cfg, bundle, log=lambda _: None)
    meta = read_meta(bundle)
    assert (meta.model_id, meta.calibration, meta.threshold) == (
        result.meta.model_id,
        result.meta.calibration,
        result.meta.threshold,
    )
    assert meta.calibration.a > 0 and 0 < meta.threshold < 1
    assert meta.patch == 64 and meta.patches == 16 and meta.design == "npr"
    assert meta.training["data"]["used"]["train"]["ai"] > 0
    assert meta.training["export"]["max_abs_diff"] <= 1e-4

    report = evaluate(
        bundle, dataset, tmp_path / "eval", jpeg_quality=90, robustness=True, log=lambda _: None
    )
    overall = report["overall"]
    assert overall["n_ai"] >= 3 and overall["n_real"] >= 3
    assert overall["auc"] >= 0.9
    assert set(report["robustness"]) == {
        "jpeg95", "jpeg75", "jpeg50", "half", "crop512", "screenshot",
    }  # fmt: skip
    assert report["families"]["ai"]["n_real"] == overall["n_real"]
    for name in ("report.json", "roc.png", "reliability.png"):
        assert (tmp_path / "eval" / name).stat().st_size > 0
    assert json.loads((tmp_path / "eval/report.json").read_text())["overall"] == overall

    scorer = Scorer(bundle)  # what eval scores is what inference computes from the ONNX file
    pixels = np.asarray(Image.open(tmp_path / "data/ai/000.png").convert("RGB"))
    patches = grid_patches(pixels, patch=64, count=16)
    direct = float(np.mean(session(bundle / ONNX_NAME).run([OUTPUT], {INPUT: patches})[0]))
    assert scorer.image_logit(pixels) == pytest.approx(direct, abs=1e-6)


def _tiny_folders(root: Path) -> None:
    write_planted(root, 12, size=96)
    for fam, start in (("famA", 0), ("famB", 6)):
        (root / "ai" / fam).mkdir()
        for i in range(start, start + 6):
            (root / "ai" / f"{i:03d}.png").rename(root / "ai" / fam / f"{i:03d}.png")
    good = (root / "real/000.png").read_bytes()
    (root / "real/corrupt.png").write_bytes(good[:200])
    (root / "real/readme.txt").write_text("not an image\n")


def test_cli_train_and_eval_skip_and_count_corrupt_files(tmp_path: Path) -> None:
    _tiny_folders(tmp_path / "data")
    runner = CliRunner()
    folders = ["--real", str(tmp_path / "data/real"), "--ai", str(tmp_path / "data/ai")]
    bundle = tmp_path / "bundle"
    result = runner.invoke(
        app,
        ["detector", "train", *folders, "--design", "residual", "--epochs", "1",
         "--patches-per-epoch", "64", "--batch-size", "16", "--width", "4",
         "--out", str(bundle), "--version", "test"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "undecodable 1" in result.output
    assert "epoch 1/1" in result.output
    meta = read_meta(bundle)
    assert meta.model_id == "veriscan-residual@test"
    assert meta.training["data"]["skipped"]["undecodable"] == 1
    assert meta.training["data"]["skipped"]["not an image"] == 1

    result = runner.invoke(
        app,
        ["detector", "eval", str(bundle), *folders, "--split", "all", "--jpeg", "90",
         "--lofo", "--lofo-min", "6", "--out", str(tmp_path / "eval")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "eval/report.json").read_text())
    assert report["skipped"] == {"undecodable": 1}
    assert report["overall"]["n_ai"] == 12 and report["overall"]["n_real"] == 12
    assert set(report["families"]) == {"famA", "famB"}
    assert set(report["lofo"]["families"]) == {"famA", "famB"}
    assert report["lofo"]["families"]["famA"]["n_ai"] == 6


def test_cli_without_the_training_extra_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def no_torch(name: str, *args: object) -> object:
        return None if name == "torch" else real_find_spec(name)

    monkeypatch.setattr(importlib.util, "find_spec", no_torch)
    result = CliRunner().invoke(app, ["detector", "train", "--real", ".", "--ai", "."])
    assert result.exit_code == 2
    assert "pip install 'veriscan[train]'" in result.output


def test_same_seed_same_bundle(tmp_path: Path) -> None:
    _tiny_folders(tmp_path / "data")
    dataset = load_dataset(None, tmp_path / "data/real", tmp_path / "data/ai")
    cfg = TrainConfig(design="npr", epochs=1, patches_per_epoch=64, batch_size=16, width=4)
    outputs = []
    for run in ("a", "b"):
        train_detector(dataset, cfg, tmp_path / run, log=lambda _: None)
        batch = np.random.default_rng(5).random((4, 3, 64, 64), dtype=np.float32)
        outputs.append(session(tmp_path / run / ONNX_NAME).run([OUTPUT], {INPUT: batch})[0])
        assert read_meta(tmp_path / run).training["data"]["skipped"]["undecodable"] == 1
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert read_meta(tmp_path / "a").calibration == read_meta(tmp_path / "b").calibration
