"""Grade a shipped bundle on a dataset, scoring each image exactly as inference does.

Scores come from the bundle's ONNX file through onnxruntime on the deterministic grid of
:func:`grid_patches` (mean of patch logits, then the bundle's calibration), never from a PyTorch
model: the numbers describe the file an examiner runs. By default only the test split is scored,
which training never saw; ``all`` is for foreign data.

Robustness variants are applied on top of the evaluation condition (``jpeg`` re-encodes every
image of both classes first, which removes the corpus's container confound).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image

from veriscan import offline
from veriscan.analyzers.detect.bundle import INPUT, ONNX_NAME, OUTPUT, BundleMeta, read_meta
from veriscan.analyzers.detect.patches import grid_patches
from veriscan.detector_training import metrics
from veriscan.detector_training.augment import decode, encode, resize
from veriscan.detector_training.data import (
    MIN_SIDE,
    REAL,
    Dataset,
    UnusableError,
    container_of,
    read_pixels,
)

Log = Callable[[str], None]
Variant = Callable[[np.ndarray], np.ndarray]
BASE: Final = "base"


def session(path: Path, threads: int = 0) -> Any:
    """An onnxruntime CPU session; ``threads`` 0 lets onnxruntime choose."""
    ort = offline.onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Scorer:
    """A bundle as inference runs it: grid patches, ONNX logits, their mean, calibration."""

    def __init__(self, folder: Path, threads: int = 0) -> None:
        self.folder = folder
        self.meta: BundleMeta = read_meta(folder)
        self.session = session(folder / ONNX_NAME, threads)

    def image_logit(self, pixels: np.ndarray) -> float:
        patches = grid_patches(pixels, patch=self.meta.patch, count=self.meta.patches)
        return float(np.mean(self.session.run([OUTPUT], {INPUT: patches})[0]))

    def probability(self, logit: float) -> float:
        return self.meta.calibration.probability(logit)


def jpeg(quality: int) -> Variant:
    def apply(pixels: np.ndarray) -> np.ndarray:
        return decode(encode(pixels, "JPEG", quality))

    return apply


def half(pixels: np.ndarray) -> np.ndarray:
    return resize(pixels, 0.5, Image.Resampling.BICUBIC)


def crop512(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    y, x = max(0, (h - 512) // 2), max(0, (w - 512) // 2)
    return np.ascontiguousarray(pixels[y : y + 512, x : x + 512])


def screenshot(pixels: np.ndarray) -> np.ndarray:
    """A screen capture of a scaled view: bilinear 0.75x, stored losslessly."""
    return decode(encode(resize(pixels, 0.75, Image.Resampling.BILINEAR), "PNG"))


VARIANTS: Final[dict[str, Variant]] = {
    "jpeg95": jpeg(95),
    "jpeg75": jpeg(75),
    "jpeg50": jpeg(50),
    "half": half,
    "crop512": crop512,
    "screenshot": screenshot,
}


@dataclass
class Scored:
    name: str
    label: int
    family: str
    container: str
    logits: dict[str, float] = field(default_factory=dict)


def score_dataset(
    scorer: Scorer,
    dataset: Dataset,
    *,
    split: str = "test",
    jpeg_quality: int | None = None,
    variants: dict[str, Variant] | None = None,
    min_side: int = MIN_SIDE,
    log: Log = print,
) -> tuple[list[Scored], Counter[str]]:
    """Image logits under the evaluation condition and under each variant on top of it."""
    base: Variant | None = jpeg(jpeg_quality) if jpeg_quality is not None else None
    chosen = dataset.select(split)
    skipped: Counter[str] = Counter()
    scored: list[Scored] = []
    for i, sample in enumerate(chosen):
        try:
            pixels = read_pixels(sample, min_side=min_side)
        except UnusableError as exc:
            skipped[str(exc)] += 1
            continue
        if base is not None:
            pixels = base(pixels)
        item = Scored(sample.name, sample.label, sample.family, container_of(sample))
        item.logits[BASE] = scorer.image_logit(pixels)
        for name, variant in (variants or {}).items():
            item.logits[name] = scorer.image_logit(variant(pixels))
        scored.append(item)
        if (i + 1) % 50 == 0:
            log(f"scored {i + 1}/{len(chosen)} images")
    return scored, skipped


def _arrays(items: list[Scored], condition: str, scorer: Scorer) -> tuple[np.ndarray, ...]:
    logits = np.array([it.logits[condition] for it in items], dtype=np.float64)
    probs = np.array([scorer.probability(v) for v in logits], dtype=np.float64)
    labels = np.array([it.label for it in items], dtype=np.int64)
    return logits, probs, labels


def build_report(scorer: Scorer, items: list[Scored], conditions: list[str]) -> dict[str, Any]:
    """All numbers, each with the image counts it rests on."""
    threshold = scorer.meta.threshold
    logits, probs, labels = _arrays(items, BASE, scorer)
    report: dict[str, Any] = {"overall": metrics.summary(probs, labels, threshold, logits)}
    reals = [it for it in items if it.label == 0]
    families: dict[str, Any] = {}
    for family in sorted({it.family for it in items if it.label == 1}):
        subset = [it for it in items if it.label == 1 and it.family == family] + reals
        lg, pr, lb = _arrays(subset, BASE, scorer)
        row = metrics.summary(pr, lb, threshold, lg)
        families[family] = {
            k: row[k] for k in ("n_ai", "n_real", "auc", "tpr_at_threshold", "tpr_at_fpr_5pct")
        }
    report["families"] = families
    formats: dict[str, Any] = {}
    for container in sorted({it.container for it in items}):
        subset = [it for it in items if it.container == container]
        lg, pr, lb = _arrays(subset, BASE, scorer)
        row = metrics.summary(pr, lb, threshold, lg)
        formats[container] = {
            k: row[k]
            for k in ("n_ai", "n_real", "auc", "accuracy", "tpr_at_threshold", "fpr_at_threshold")
        }
    report["stored_format"] = formats
    report["robustness"] = {}
    for condition in conditions:
        lg, pr, lb = _arrays(items, condition, scorer)
        report["robustness"][condition] = metrics.summary(pr, lb, threshold, lg)
    report["reliability"] = metrics.reliability(probs, labels)
    report["images"] = [
        {
            "name": it.name,
            "label": "ai" if it.label else REAL,
            "family": it.family,
            "stored_format": it.container,
            "logits": {k: round(v, 5) for k, v in it.logits.items()},
            "probability": round(scorer.probability(it.logits[BASE]), 6),
        }
        for it in items
    ]
    return report


def evaluate(
    folder: Path,
    dataset: Dataset,
    out: Path,
    *,
    split: str = "test",
    jpeg_quality: int | None = None,
    robustness: bool = False,
    log: Log = print,
) -> dict[str, Any]:
    """Score, write ``report.json``, ``roc.png`` and ``reliability.png`` under ``out``."""
    from veriscan.detector_training import plots

    started = time.perf_counter()
    scorer = Scorer(folder)
    variants = VARIANTS if robustness else {}
    items, skipped = score_dataset(
        scorer, dataset, split=split, jpeg_quality=jpeg_quality, variants=variants, log=log
    )
    report: dict[str, Any] = {
        "bundle": {
            "folder": str(folder),
            "model_id": scorer.meta.model_id,
            "design": scorer.meta.design,
            "threshold": scorer.meta.threshold,
            "calibration": {"a": scorer.meta.calibration.a, "b": scorer.meta.calibration.b},
        },
        "dataset": {**dataset.counts(), "evaluated_split": split},
        "condition": {
            "jpeg": jpeg_quality,
            "rule": "image logit = mean of grid-patch logits from the ONNX file; AI if "
            "calibrated probability >= threshold",
            "variants_on_top_of_condition": list(variants),
        },
        "skipped": dict(sorted(skipped.items())),
    }
    if not items:
        report["error"] = "no image could be scored"
    else:
        report.update(build_report(scorer, items, list(variants)))
        out.mkdir(parents=True, exist_ok=True)
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for condition in [BASE, *variants]:
            lg, _, lb = _arrays(items, condition, scorer)
            fpr, tpr, _ = metrics.roc_curve(lg, lb)
            curves[condition] = (fpr, tpr)
        title = f"{scorer.meta.model_id}, {split} split" + (
            f", JPEG q{jpeg_quality}" if jpeg_quality else ""
        )
        plots.roc_plot(curves, out / "roc.png", title)
        _, probs, labels = _arrays(items, BASE, scorer)
        plots.reliability_plot(metrics.reliability(probs, labels), out / "reliability.png", title)
        report["plots"] = ["roc.png", "reliability.png"]
    report["seconds"] = round(time.perf_counter() - started, 1)
    write_report(report, out)
    return report


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
