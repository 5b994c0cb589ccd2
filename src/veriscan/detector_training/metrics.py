"""Detection metrics and Platt calibration in plain numpy.

Written out here rather than taken from scikit-learn so the tool has one dependency less and every
definition an examiner may be asked about in court is in one readable place. The convention is
everywhere the same: label 1 = AI-generated, a higher score means more likely AI, and an image is
called AI when its score is at or above the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from veriscan.analyzers.detect.bundle import Calibration

ECE_BINS = 10


def _arrays(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.int64).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return s, y


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their mean rank, so tied scores count as half a win."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size, dtype=np.float64)
    sorted_vals = values[order]
    i = 0
    while i < values.size:
        j = i
        while j + 1 < values.size and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def roc_auc(scores: Any, labels: Any) -> float:
    """Probability that a random AI image outscores a random real one (Mann-Whitney U).

    NaN when either class is absent: an AUC from one class would be a made-up number.
    """
    s, y = _arrays(scores, labels)
    n_pos = int(np.sum(y == 1))
    n_neg = int(np.sum(y == 0))
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _ranks(s)
    u = float(np.sum(ranks[y == 1])) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), one point per distinct score plus the (0, 0) corner.

    Point k says what happens when everything scoring >= thresholds[k] is called AI.
    """
    s, y = _arrays(scores, labels)
    n_pos = max(int(np.sum(y == 1)), 1)
    n_neg = max(int(np.sum(y == 0)), 1)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_run = np.r_[np.diff(s_sorted) != 0, True]
    tp = np.cumsum(y_sorted == 1)[last_of_run]
    fp = np.cumsum(y_sorted == 0)[last_of_run]
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    thresholds = np.r_[np.inf, s_sorted[last_of_run]]
    return fpr, tpr, thresholds


def tpr_at_fpr(scores: Any, labels: Any, max_fpr: float) -> float:
    """Highest true-positive rate of any threshold whose false-positive rate stays <= max_fpr.

    With few real images the achievable FPRs are coarse (1/n steps): at 1% FPR and fewer than 100
    real images this is the TPR at zero false positives, which the report's counts make visible.
    """
    s, y = _arrays(scores, labels)
    if not (np.any(y == 1) and np.any(y == 0)):
        return math.nan
    fpr, tpr, _ = roc_curve(s, y)
    ok = fpr <= max_fpr + 1e-12
    return float(np.max(tpr[ok]))


def accuracy(probs: Any, labels: Any, threshold: float) -> float:
    p, y = _arrays(probs, labels)
    if p.size == 0:
        return math.nan
    return float(np.mean((p >= threshold).astype(np.int64) == y))


def reliability(probs: Any, labels: Any, bins: int = ECE_BINS) -> list[dict[str, float | int]]:
    """Per equal-width probability bin: count, mean predicted probability, observed AI fraction."""
    p, y = _arrays(probs, labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows: list[dict[str, float | int]] = []
    for b in range(bins):
        inside = index == b
        n = int(np.sum(inside))
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": n,
                "confidence": float(np.mean(p[inside])) if n else math.nan,
                "observed": float(np.mean(y[inside])) if n else math.nan,
            }
        )
    return rows


def expected_calibration_error(probs: Any, labels: Any, bins: int = ECE_BINS) -> float:
    """Count-weighted mean gap between predicted probability and observed AI fraction per bin."""
    p, _ = _arrays(probs, labels)
    if p.size == 0:
        return math.nan
    total = 0.0
    for row in reliability(probs, labels, bins):
        if row["count"]:
            total += int(row["count"]) * abs(float(row["confidence"]) - float(row["observed"]))
    return total / p.size


@dataclass(frozen=True)
class PlattFit:
    calibration: Calibration
    fallback: bool
    note: str


def fit_platt(logits: Any, labels: Any, *, iterations: int = 100) -> PlattFit:
    """Platt scaling by damped Newton steps on the smoothed targets of Platt (1999).

    The smoothed targets (N+ + 1)/(N+ + 2) and 1/(N- + 2) keep the fit finite when validation is
    perfectly separated, which is common on a small corpus. A slope <= 0 would turn the detector's
    ranking upside down, so it is never shipped: the identity calibration is used instead and the
    metadata says so.
    """
    x, y = _arrays(logits, labels)
    n_pos = int(np.sum(y == 1))
    n_neg = int(np.sum(y == 0))
    if n_pos == 0 or n_neg == 0:
        return PlattFit(Calibration(), True, "validation lacks one class: identity calibration")
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    a, b = 0.0, math.log((n_pos + 1.0) / (n_neg + 1.0))
    loss = _platt_loss(x, t, a, b)
    for _ in range(iterations):
        p = _sigmoid(a * x + b)
        w = p * (1.0 - p) + 1e-12
        grad = np.array([np.sum((p - t) * x), np.sum(p - t)])
        hess = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        hess += np.eye(2) * 1e-9
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        scale = 1.0
        while scale > 1e-10:
            na, nb = a - scale * float(step[0]), b - scale * float(step[1])
            new_loss = _platt_loss(x, t, na, nb)
            if new_loss <= loss - 1e-4 * scale * float(grad @ step):
                break
            scale /= 2.0
        else:
            break
        converged = abs(loss - new_loss) < 1e-12 * max(1.0, abs(loss))
        a, b, loss = na, nb, new_loss
        if converged:
            break
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return PlattFit(
            Calibration(), True, f"Platt fit gave slope {a:.4g} <= 0: identity calibration"
        )
    return PlattFit(Calibration(a=a, b=b), False, "Platt scaling on validation image logits")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


def _platt_loss(x: np.ndarray, t: np.ndarray, a: float, b: float) -> float:
    """Cross-entropy against the smoothed targets, written stably for large |z|."""
    z = a * x + b
    return float(np.sum(np.logaddexp(0.0, z) - t * z))


def youden_threshold(probs: Any, labels: Any) -> float:
    """Probability threshold with the largest TPR - FPR on validation.

    The threshold is put halfway to the next lower distinct score rather than on a validation
    score itself, so tiny shifts in scores do not flip those images. 0.5 when undefined.
    """
    p, y = _arrays(probs, labels)
    if not (np.any(y == 1) and np.any(y == 0)):
        return 0.5
    fpr, tpr, thr = roc_curve(p, y)
    j = tpr - fpr
    best = int(np.argmax(j[1:])) + 1
    upper = float(thr[best])
    lower = float(thr[best + 1]) if best + 1 < thr.size else 0.0
    return (upper + lower) / 2.0


def summary(probs: Any, labels: Any, threshold: float, logits: Any | None = None) -> dict[str, Any]:
    """The headline numbers with the counts they rest on; ranking metrics use the logits.

    The calibrated probability is a monotone function of the logit, so AUC and TPR-at-FPR do not
    change with calibration, but probabilities saturate to 0/1 in float64 and would tie.
    """
    p, y = _arrays(probs, labels)
    rank = p if logits is None else _arrays(logits, labels)[0]
    return {
        "n_ai": int(np.sum(y == 1)),
        "n_real": int(np.sum(y == 0)),
        "auc": _clean(roc_auc(rank, y)),
        "accuracy": _clean(accuracy(p, y, threshold)),
        "tpr_at_threshold": _clean(
            float(np.mean(p[y == 1] >= threshold)) if np.any(y == 1) else math.nan
        ),
        "fpr_at_threshold": _clean(
            float(np.mean(p[y == 0] >= threshold)) if np.any(y == 0) else math.nan
        ),
        "tpr_at_fpr_1pct": _clean(tpr_at_fpr(rank, y, 0.01)),
        "tpr_at_fpr_5pct": _clean(tpr_at_fpr(rank, y, 0.05)),
        "ece": _clean(expected_calibration_error(p, y)),
    }


def _clean(value: float) -> float | None:
    """JSON has no NaN: a metric that is undefined for the data is written as null."""
    return None if math.isnan(value) else round(float(value), 6)
