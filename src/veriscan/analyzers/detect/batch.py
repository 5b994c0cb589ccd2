"""Scoring many images' waiting patches in one model run: the detector's batch stage.

A callable class, so Ray Data can hold one per actor (one model session per GPU or CPU slot) and
the in-process fallback can use the same code. Its input and output are plain columns (strings),
the shape Ray Data moves between nodes; a failure costs the images it concerns, never the batch's
others, and is returned as a problem code, message and the few words the verdict's check line
shows, exactly as the inline analyzer words it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import numpy as np

from veriscan.analyzers.detect import patches, pending
from veriscan.analyzers.detect.analyzer import (
    Detector,
    Failure,
    inference_failed,
    load_detector,
    no_model,
)
from veriscan.analyzers.detect.bundle import BundleError
from veriscan.domain import ProblemCode

COLUMNS: Final = ("sha256", "result", "code", "message", "reason", "providers")
Batch = dict[str, np.ndarray]


class BatchScorer:
    def __init__(self, folder: str) -> None:
        self.detector: Detector | Failure
        try:
            self.detector = load_detector(Path(folder))
        except BundleError as exc:
            self.detector = no_model(exc)

    def __call__(self, batch: Batch) -> Batch:
        shas = [str(s) for s in batch["sha256"]]
        paths = [str(p) for p in batch["path"]]
        out: dict[str, list[str]] = {name: [""] * len(shas) for name in COLUMNS}
        out["sha256"] = shas
        detector = self.detector
        if not isinstance(detector, Detector):
            for i in range(len(shas)):
                _fail(out, i, detector)
            return _columns(out)
        out["providers"] = [",".join(detector.providers)] * len(shas)
        ready: list[tuple[int, np.ndarray]] = []
        for i, path in enumerate(paths):
            try:
                ready.append((i, _load(path, detector.meta.patch)))
            except pending.PendingError as exc:
                _fail(out, i, (ProblemCode.DETECTOR_PIXELS_MISSING, str(exc), "patches missing"))
        if ready:
            self._score(detector, ready, out)
        return _columns(out)

    @staticmethod
    def _score(
        detector: Detector, ready: list[tuple[int, np.ndarray]], out: dict[str, list[str]]
    ) -> None:
        try:
            logits = detector.logits(patches.to_float(np.concatenate([c for _, c in ready])))
        except Exception as exc:  # onnxruntime's own errors, or InferenceError
            for i, _ in ready:
                _fail(out, i, inference_failed(exc))
            return
        start = 0
        for i, crops in ready:
            result = detector.result(logits[start : start + len(crops)])
            start += len(crops)
            out["result"][i] = json.dumps(result, sort_keys=True)


def _load(path: str, patch: int) -> np.ndarray:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise pending.PendingError(
            f"waiting patches not readable here ({exc.strerror or exc}): is the case folder "
            "on storage every node sees at the same path?"
        ) from exc
    return pending.decode(data, patch)


def _fail(out: dict[str, list[str]], i: int, failure: Failure) -> None:
    out["code"][i], out["message"][i], out["reason"][i] = failure


def _columns(out: dict[str, list[str]]) -> Batch:
    return {name: np.array(values, dtype=object) for name, values in out.items()}
