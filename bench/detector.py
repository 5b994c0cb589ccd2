"""Benchmark of the pixel-level detector: inference speed, and accuracy against the issue's targets.

Speed is measured next to a floor: the full-resolution decode (``to_array``) of the same JPEGs,
which the detector cannot avoid. Decode + grid patches + one batched ONNX run per image, on one
thread pinned to one core, gives images/s per core, the figure a scan scales by its worker count.
The target is >= 20 images/s per core on 1024 x 1024 JPEGs; the ratio to the decode-only floor
shows how much of that the model itself costs.

The images are benign drawings (gradients, shapes, noise) made here; no photo corpus is needed.

    .venv/bin/python bench/detector.py                  # the packaged bundle
    .venv/bin/python bench/detector.py --bundle DIR     # another bundle
    .venv/bin/python bench/detector.py --tiny           # the tests' tiny seeded bundle
    .venv/bin/python bench/detector.py --accuracy [--lofo]   # also score ../shared/data

Accuracy (needs the ``[train]`` extra and the corpus in ``../shared/data``) is measured the way
the issue states its targets: every test-split image of both classes re-encoded as JPEG q90,
in-distribution AUC >= 0.97; AUC >= 0.85 after a further JPEG q75; leave-one-family-out mean
AUC >= 0.90 (``--lofo`` retrains once per family with the bundle's own training settings, which
takes minutes per family on a CPU). The numbers are printed whether or not they meet the targets.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from veriscan.analyzers.decode import init_pillow
from veriscan.analyzers.detect.analyzer import Detector, load_detector
from veriscan.analyzers.detect.bundle import BUNDLE_DIR
from veriscan.analyzers.detect.patches import grid_patches, to_array
from veriscan.pipeline.detector_stage import BATCH_IMAGES

REPO = Path(__file__).resolve().parent.parent
TARGET_PER_CORE = 20.0
TARGET_AUC = 0.97
TARGET_AUC_Q75 = 0.85
TARGET_LOFO = 0.90
MANIFEST = REPO.parent / "shared" / "data" / "MANIFEST.tsv"
SIZE = 1024
QUALITY = 90


def benign_jpegs(count: int, size: int = SIZE, seed: int = 0) -> list[bytes]:
    """Shapes on a gradient with sensor-like noise, JPEG q90 in memory: real decode work."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 215, size, dtype=np.float32)
    out = []
    for _ in range(count):
        base = np.stack([ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1)], -1)
        tint = np.full((size, size, 1), rng.uniform(60, 200), np.float32)
        pixels = np.concatenate([base, tint], -1) + rng.normal(0, 8, (size, size, 3))
        img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(12):
            x, y = rng.integers(0, size, 2)
            r = int(rng.integers(size // 32, size // 6))
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([int(x) - r, int(y) - r, int(x) + r, int(y) + r], fill=fill)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=QUALITY)
        out.append(buf.getvalue())
    return out


def _pin_one_core() -> int | None:
    """Pin this process to one core so 'per core' means one core, whatever the libraries do."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _timed(images: Sequence[bytes], work: Callable[[bytes], object], rounds: int) -> float:
    """Best-of-rounds seconds per image: the least disturbed pass over all images."""
    passes = []
    for _ in range(rounds):
        start = time.perf_counter()
        for data in images:
            work(data)
        passes.append((time.perf_counter() - start) / len(images))
    return min(passes)


def speed(bundle: Path, count: int = 32, size: int = SIZE, rounds: int = 3) -> dict[str, Any]:
    """Decode-only floor and decode + patches + inference, in images/s on one core."""
    core = _pin_one_core()
    init_pillow()
    detector: Detector = load_detector(bundle)
    images = benign_jpegs(count, size)
    detector.score(to_array(images[0]))  # warm-up: first-run allocations are not per image
    decode_s = _timed(images, to_array, rounds)
    full_s = _timed(images, lambda data: detector.score(to_array(data)), rounds)
    pixels = to_array(images[0])
    batch = grid_patches(pixels, patch=detector.meta.patch, count=detector.meta.patches)
    infer = []
    for _ in range(max(20, count)):
        start = time.perf_counter()
        detector.logits(batch)
        infer.append(time.perf_counter() - start)
    many = np.concatenate([batch] * BATCH_IMAGES)  # the batch stage's CPU batch: one model run
    batched = []
    for _ in range(5):
        start = time.perf_counter()
        detector.logits(many)
        batched.append(time.perf_counter() - start)
    single_s = statistics.median(infer)
    batched_s = statistics.median(batched) / BATCH_IMAGES
    per_core = 1.0 / full_s
    return {
        "bundle": str(bundle),
        "model": detector.meta.model_id,
        "providers": list(detector.providers),
        "patch": detector.meta.patch,
        "patches": detector.meta.patches,
        "images": count,
        "size": size,
        "jpeg_quality": QUALITY,
        "pinned_core": core,
        "decode_ms": round(decode_s * 1e3, 2),
        "detector_ms": round(full_s * 1e3, 2),
        "inference_only_ms": round(single_s * 1e3, 3),
        "batched_inference_ms_per_image": round(batched_s * 1e3, 3),
        "ratio_batched_vs_single_inference": round(single_s / batched_s, 3),
        "decode_images_per_s_per_core": round(1.0 / decode_s, 1),
        "detector_images_per_s_per_core": round(per_core, 1),
        "ratio_to_decode": round(decode_s / full_s, 3),
        "target_images_per_s_per_core": TARGET_PER_CORE,
        "meets_target": per_core >= TARGET_PER_CORE,
    }


def accuracy(bundle: Path, work: Path, *, lofo: bool = False) -> dict[str, Any]:
    """In-distribution, q75 and (optionally) leave-one-family-out AUC under JPEG q90."""
    from veriscan.analyzers.detect.bundle import read_meta
    from veriscan.detector_training.data import load_dataset
    from veriscan.detector_training.evaluate import evaluate
    from veriscan.detector_training.lofo import leave_one_family_out

    if not MANIFEST.is_file():
        return {"skipped": f"no corpus at {MANIFEST}"}
    dataset = load_dataset(MANIFEST, None, None)
    report = evaluate(bundle, dataset, work / "eval", jpeg_quality=90, robustness=True)
    overall, robust = report.get("overall", {}), report.get("robustness", {})
    out: dict[str, Any] = {
        "test_images": {"ai": overall.get("n_ai"), "real": overall.get("n_real")},
        "auc_q90": overall.get("auc"),
        "auc_q90_then_q75": robust.get("jpeg75", {}).get("auc"),
        "tpr_at_fpr_1pct": overall.get("tpr_at_fpr_1pct"),
        "tpr_at_fpr_5pct": overall.get("tpr_at_fpr_5pct"),
        "ece": overall.get("ece"),
        "robustness_auc": {k: v.get("auc") for k, v in robust.items()},
        "per_family_auc": {k: v.get("auc") for k, v in report.get("families", {}).items()},
        "targets": {"auc_q90": TARGET_AUC, "auc_q75": TARGET_AUC_Q75, "lofo_mean": TARGET_LOFO},
    }
    if lofo:
        result = leave_one_family_out(read_meta(bundle), dataset, work / "lofo", jpeg_quality=90)
        out["lofo_mean_auc"] = result["mean_auc"]
        out["lofo_auc"] = {k: v["auc"] for k, v in result["families"].items()}
    return out


def _tiny_bundle(folder: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from detector_bundle import make_bundle

    return make_bundle(folder / "tiny", patch=64, patches=16)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--bundle", type=Path, help="bundle folder (default: the packaged one)")
    which.add_argument("--tiny", action="store_true", help="the tests' tiny seeded bundle")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--accuracy", action="store_true", help="also score the shared corpus")
    parser.add_argument("--lofo", action="store_true", help="with --accuracy: leave-one-out")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = _tiny_bundle(Path(tmp)) if args.tiny else (args.bundle or BUNDLE_DIR)
        report = {
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
            "speed": speed(bundle, args.images, args.size, args.rounds),
        }
        if args.accuracy:
            report["accuracy"] = accuracy(bundle, Path(tmp), lofo=args.lofo)
    print(json.dumps(report, indent=2))
    return 0 if report["speed"]["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
