"""Leave-one-family-out: how the detector does on a generator it was never trained on.

Casework meets new generators before any detector is retrained, so this is the number that best
predicts field performance. For each AI family with enough images, a detector is trained with the
bundle's own settings but without that family (in every split), then scored on all of that
family's images against the real images of the test split.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from veriscan.analyzers.detect.bundle import BundleMeta
from veriscan.detector_training import metrics
from veriscan.detector_training.data import Dataset
from veriscan.detector_training.evaluate import Log, Scorer, score_dataset
from veriscan.detector_training.train import TrainConfig, train_detector

MIN_FAMILY_IMAGES = 8


def _slug(family: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", family).strip("-").lower() or "family"


def leave_one_family_out(
    meta: BundleMeta,
    dataset: Dataset,
    out: Path,
    *,
    jpeg_quality: int | None = None,
    min_images: int = MIN_FAMILY_IMAGES,
    log: Log = print,
) -> dict[str, Any]:
    stored = dict(meta.training.get("config", {}))
    cfg = TrainConfig.from_json({**stored, "design": meta.design, "patch": meta.patch})
    counts: dict[str, int] = {}
    for sample in dataset.samples:
        if sample.label == 1:
            counts[sample.family] = counts.get(sample.family, 0) + 1
    families = sorted(f for f, n in counts.items() if n >= min_images)
    reals = Dataset(
        [s for s in dataset.samples if s.label == 0 and s.split == "test"], dataset.source
    )
    per_family: dict[str, Any] = {}
    for family in families:
        log(f"leave-one-family-out: training without {family!r} ({counts[family]} images)")
        folder = out / "lofo" / _slug(family)
        train_detector(dataset.without([family]), cfg, folder, log=log)
        held = Dataset(
            [s for s in dataset.samples if s.label == 1 and s.family == family], dataset.source
        )
        scorer = Scorer(folder)
        items_ai, skipped_ai = score_dataset(
            scorer, held, split="all", jpeg_quality=jpeg_quality, log=log
        )
        items_real, skipped_real = score_dataset(
            scorer, reals, split="all", jpeg_quality=jpeg_quality, log=log
        )
        items = items_ai + items_real
        logits = np.array([it.logits["base"] for it in items])
        labels = np.array([it.label for it in items])
        probs = np.array([scorer.probability(v) for v in logits])
        row = metrics.summary(probs, labels, scorer.meta.threshold, logits)
        per_family[family] = {
            "n_ai": row["n_ai"],
            "n_real": row["n_real"],
            "auc": row["auc"],
            "tpr_at_threshold": row["tpr_at_threshold"],
            "fpr_at_threshold": row["fpr_at_threshold"],
            "skipped": dict(skipped_ai + skipped_real),
            "bundle": str(folder),
        }
        log(f"  {family}: AUC {row['auc']} on {row['n_ai']} AI vs {row['n_real']} real")
    aucs = [v["auc"] for v in per_family.values() if v["auc"] is not None]
    return {
        "min_images": min_images,
        "families": per_family,
        "mean_auc": round(float(np.mean(aucs)), 6) if aucs else None,
        "families_too_small": {f: n for f, n in sorted(counts.items()) if n < min_images},
        "note": "held-out family: all its images (every split); real: test split only",
        "complete": len(aucs) == len(families) and not any(math.isnan(a) for a in aucs),
    }
