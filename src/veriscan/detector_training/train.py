"""Train a detector from scratch and write a bundle that inference can load as is.

Each epoch draws the same number of patches from both classes (AI images are usually the
majority), each patch freshly augmented from a stored native-resolution crop. The epoch with the
best validation AUC is kept, exported to ONNX and checked against PyTorch; then Platt calibration
and the decision threshold are fitted on validation image logits computed by the exported graph,
so the shipped numbers describe the shipped file.

Validation images are scored twice, as stored and re-encoded as JPEG q90 (both classes), and both
scores enter calibration: otherwise a container difference between the classes in validation
would be folded into the probabilities.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from veriscan.analyzers.detect.bundle import (
    INPUT,
    ONNX_NAME,
    OUTPUT,
    BundleMeta,
    Calibration,
    write_meta,
)
from veriscan.analyzers.detect.patches import GRID_PATCHES, PATCH, grid_patches
from veriscan.detector_training import metrics
from veriscan.detector_training.augment import (
    CROP,
    CROPS_PER_IMAGE,
    AugmentConfig,
    augment_patch,
    decode,
    encode,
    random_crops,
)
from veriscan.detector_training.data import (
    MIN_SIDE,
    SPLIT_FRACTIONS,
    DataError,
    Dataset,
    Sample,
    UnusableError,
    read_pixels,
)
from veriscan.detector_training.evaluate import session
from veriscan.detector_training.export import export_onnx
from veriscan.detector_training.nets import WIDTH, build, parameter_count

VAL_JPEG: Final = 90
Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    design: str = "npr"
    epochs: int = 10
    patches_per_epoch: int = 4096
    patch: int = PATCH
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    width: int = WIDTH
    device: str = "cpu"
    crops_per_image: int = CROPS_PER_IMAGE
    crop: int = CROP
    min_side: int = MIN_SIDE
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    name: str = ""
    version: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        values = dict(data)
        aug = dict(values.pop("augment", {}))
        for key in ("jpeg_quality", "rescale", "blur_sigma"):
            if key in aug:
                aug[key] = tuple(aug[key])
        known = set(cls.__dataclass_fields__)
        return cls(augment=AugmentConfig(**aug), **{k: v for k, v in values.items() if k in known})


@dataclass
class TrainResult:
    folder: Path
    meta: BundleMeta
    skipped: Counter[str]


@dataclass
class _TrainImage:
    label: int
    family: str
    crops: list[np.ndarray]


@dataclass
class _ValSet:
    patches: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Same seed, same bundle on CPU; cuDNN autotuning would pick kernels by timing instead."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _as_uint8(grid: np.ndarray) -> np.ndarray:
    """Grid patches stored as bytes: a quarter of the memory, and exactly reversible."""
    return np.rint(grid * 255.0).astype(np.uint8)


def _as_float(stored: np.ndarray) -> np.ndarray:
    return stored.astype(np.float32) / np.float32(255.0)


def load_split(
    samples: list[Sample], cfg: TrainConfig, skipped: Counter[str], log: Log
) -> tuple[list[_TrainImage], _ValSet]:
    """Decode train and validation images once; failures are counted, never raised."""
    train: list[_TrainImage] = []
    val = _ValSet()
    for i, sample in enumerate(samples):
        split = sample.split
        if split == "test":
            continue
        try:
            pixels = read_pixels(sample, min_side=cfg.min_side)
        except UnusableError as exc:
            skipped[str(exc)] += 1
            continue
        if split == "train":
            rng = np.random.default_rng([cfg.seed, _stable_int(sample.group + sample.name)])
            crops = random_crops(pixels, rng, count=cfg.crops_per_image, size=cfg.crop)
            train.append(_TrainImage(sample.label, sample.family, crops))
        else:
            for condition, version in (
                ("as stored", pixels),
                (f"jpeg{VAL_JPEG}", decode(encode(pixels, "JPEG", VAL_JPEG))),
            ):
                grid = grid_patches(version, patch=cfg.patch, count=GRID_PATCHES)
                val.patches.append(_as_uint8(grid))
                val.labels.append(sample.label)
                val.conditions.append(condition)
        if (i + 1) % 100 == 0:
            log(f"decoded {i + 1}/{len(samples)} images")
    return train, val


def draw_epoch(
    images: list[_TrainImage], n: int, rng: np.random.Generator, cfg: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` augmented patches, half of each class, images drawn uniformly within a class."""
    by_class = [[im for im in images if im.label == c] for c in (0, 1)]
    half = n // 2
    xs = np.empty((2 * half, cfg.patch, cfg.patch, 3), dtype=np.uint8)
    ys = np.empty(2 * half, dtype=np.float32)
    k = 0
    for label, pool in enumerate(by_class):
        for _ in range(half):
            image = pool[int(rng.integers(len(pool)))]
            crop = image.crops[int(rng.integers(len(image.crops)))]
            xs[k] = augment_patch(crop, rng, cfg.augment, cfg.patch)
            ys[k] = label
            k += 1
    order = rng.permutation(2 * half)
    return xs[order], ys[order]


def _image_logits(patch_logits: np.ndarray, count: int) -> np.ndarray:
    return np.asarray(patch_logits.reshape(-1, count).mean(axis=1), dtype=np.float64)


def _torch_val(model: nn.Module, val: _ValSet, device: torch.device) -> tuple[float, float]:
    """Validation AUC and image-level loss of the model being trained (PyTorch, for selection)."""
    model.eval()
    logits: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(val.patches), 16):
            chunk = np.concatenate(val.patches[start : start + 16])
            out = model(torch.from_numpy(_as_float(chunk)).to(device))
            logits.append(out.float().cpu().numpy())
    scores = _image_logits(np.concatenate(logits), GRID_PATCHES)
    labels = np.asarray(val.labels)
    loss = F.binary_cross_entropy_with_logits(
        torch.from_numpy(scores), torch.from_numpy(labels.astype(np.float64))
    )
    return metrics.roc_auc(scores, labels), float(loss)


def pick_device(requested: str, log: Log) -> torch.device:
    if requested == "cuda":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log("CUDA requested but not available: training on CPU")
    elif requested != "cpu":
        raise DataError(f"device must be cpu or cuda, not {requested!r}")
    return torch.device("cpu")


def train_detector(dataset: Dataset, cfg: TrainConfig, out: Path, log: Log = print) -> TrainResult:
    """Train, select, export, verify, calibrate and write the bundle folder ``out``."""
    started = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device, log)
    skipped: Counter[str] = Counter(dataset.skipped)
    train, val = load_split(dataset.samples, cfg, skipped, log)
    classes = Counter(im.label for im in train)
    if classes[0] == 0 or classes[1] == 0:
        raise DataError("the training split needs both real and AI images")
    log(
        f"{len(train)} training images ({classes[1]} AI, {classes[0]} real), "
        f"{len(val.labels) // 2} validation images; decoded in "
        f"{time.perf_counter() - started:.0f} s"
    )
    torch.manual_seed(cfg.seed)
    model = build(cfg.design, cfg.width).to(device)
    steps_per_epoch = max(1, cfg.patches_per_epoch // cfg.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15
    )
    history: list[dict[str, Any]] = []
    best: tuple[float, float] = (-1.0, float("inf"))
    best_state: dict[str, torch.Tensor] = copy.deepcopy(model.state_dict())
    best_epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, epoch])
        xs, ys = draw_epoch(train, steps_per_epoch * cfg.batch_size, rng, cfg)
        t_data = time.perf_counter() - t0
        model.train()
        total = 0.0
        for step in range(steps_per_epoch):
            sl = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
            x = torch.from_numpy(np.ascontiguousarray(xs[sl].transpose(0, 3, 1, 2)))
            x = x.to(device).float().div_(255.0)
            y = torch.from_numpy(ys[sl]).to(device)
            loss = F.binary_cross_entropy_with_logits(model(x), y)
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            sched.step()
            total += float(loss.detach())
        auc, val_loss = _torch_val(model, val, device) if val.labels else (float("nan"), 0.0)
        seconds = time.perf_counter() - t0
        row = {
            "epoch": epoch,
            "loss": round(total / steps_per_epoch, 5),
            "val_auc": None if np.isnan(auc) else round(auc, 5),
            "val_loss": round(val_loss, 5),
            "seconds": round(seconds, 1),
            "data_seconds": round(t_data, 1),
        }
        history.append(row)
        log(
            f"epoch {epoch}/{cfg.epochs}  loss {row['loss']:.4f}  val AUC {auc:.3f}  "
            f"val loss {val_loss:.3f}  {seconds:.0f} s (data {t_data:.0f} s)"
        )
        key = (-1.0 if np.isnan(auc) else auc, val_loss)
        if key[0] > best[0] or (key[0] == best[0] and key[1] <= best[1]):
            best, best_state, best_epoch = key, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model = model.to("cpu").eval()
    out.mkdir(parents=True, exist_ok=True)
    export = export_onnx(model, out, patch=cfg.patch, seed=cfg.seed)
    log(f"exported {out / ONNX_NAME} ({export['bytes'] / 1e6:.2f} MB), epoch {best_epoch}")
    calibration, threshold, validation = _calibrate(out, val, log)
    meta = BundleMeta(
        name=cfg.name or f"veriscan-{cfg.design}",
        version=cfg.version or dt.date.today().isoformat(),
        design=cfg.design,
        patch=cfg.patch,
        patches=GRID_PATCHES,
        threshold=threshold,
        calibration=calibration.calibration,
        training={
            "data": {
                **dataset.counts(),
                "skipped": dict(sorted(skipped.items())),
                "used": {
                    "train": {"ai": classes[1], "real": classes[0]},
                    "train_families": dict(sorted(Counter(im.family for im in train).items())),
                    "val": {
                        "ai": sum(val.labels) // 2,
                        "real": (len(val.labels) - sum(val.labels)) // 2,
                    },
                },
            },
            "split": {
                "rule": "sha256 of the source-image key; all tiles of one upstream image together",
                "fractions": list(SPLIT_FRACTIONS),
            },
            "config": cfg.to_json(),
            "augmentations": cfg.augment.describe(),
            "seeds": {"python": cfg.seed, "numpy": cfg.seed, "torch": cfg.seed},
            "params": parameter_count(model),
            "history": history,
            "best_epoch": best_epoch,
            "export": export,
            "calibration": {"fallback": calibration.fallback, "note": calibration.note},
            "threshold_rule": "max Youden J on validation (as stored + JPEG q90), calibrated",
            "validation": validation,
            "torch": torch.__version__,
            "device": str(device),
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    write_meta(meta, out)
    log(f"wrote {out} in {meta.training['seconds']:.0f} s")
    return TrainResult(out, meta, skipped)


def _calibrate(
    folder: Path, val: _ValSet, log: Log
) -> tuple[metrics.PlattFit, float, dict[str, Any]]:
    """Platt scaling and threshold from validation image logits of the exported graph."""
    if not val.labels:
        log("no validation images: identity calibration, threshold 0.5")
        return metrics.PlattFit(Calibration(), True, "no validation images"), 0.5, {}
    sess = session(folder / ONNX_NAME)
    logits = np.array(
        [float(np.mean(sess.run([OUTPUT], {INPUT: _as_float(p)})[0])) for p in val.patches]
    )
    labels = np.asarray(val.labels)
    fit = metrics.fit_platt(logits, labels)
    if fit.fallback:
        log(f"calibration: {fit.note}")
    probs = np.array([fit.calibration.probability(v) for v in logits])
    threshold = metrics.youden_threshold(probs, labels)
    conditions = np.asarray(val.conditions)
    validation = {
        cond: metrics.summary(
            probs[conditions == cond],
            labels[conditions == cond],
            threshold,
            logits[conditions == cond],
        )
        for cond in sorted(set(val.conditions))
    }
    log(
        f"calibration a={fit.calibration.a:.4f} b={fit.calibration.b:.4f}, "
        f"threshold {threshold:.4f}; validation AUC "
        + ", ".join(f"{c} {v['auc']}" for c, v in validation.items())
    )
    return fit, threshold, validation
