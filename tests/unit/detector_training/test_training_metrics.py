"""Detector metrics and calibration on hand-made numbers (numpy only, no torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from veriscan.detector_training import metrics


def test_auc_perfect_reversed_and_tied() -> None:
    labels = [0, 0, 0, 1, 1]
    assert metrics.roc_auc([0.1, 0.2, 0.3, 0.8, 0.9], labels) == 1.0
    assert metrics.roc_auc([0.9, 0.8, 0.7, 0.2, 0.1], labels) == 0.0
    assert metrics.roc_auc([0.5] * 5, labels) == 0.5
    assert math.isnan(metrics.roc_auc([0.1, 0.2], [1, 1]))


def test_auc_counts_ties_as_half() -> None:
    # pairs (pos, neg): 0.5 vs 0.5 tie -> 0.5, 0.5 vs 0.1 win; 0.9 beats both -> (0.5+1+2)/4
    assert metrics.roc_auc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1]) == pytest.approx(3.5 / 4)


def test_tpr_at_fpr_hand_made() -> None:
    # 10 real, 4 AI. One real scores 0.95, above three of the AI images.
    real = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.95]
    ai = [0.99, 0.9, 0.85, 0.5]
    scores = real + ai
    labels = [0] * 10 + [1] * 4
    assert metrics.tpr_at_fpr(scores, labels, 0.0) == pytest.approx(0.25)
    assert metrics.tpr_at_fpr(scores, labels, 0.05) == pytest.approx(0.25)
    assert metrics.tpr_at_fpr(scores, labels, 0.10) == pytest.approx(1.0)


def test_roc_curve_ends_at_corners() -> None:
    fpr, tpr, thr = metrics.roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert thr[0] == np.inf


def test_ece_of_a_calibrated_toy_is_near_zero() -> None:
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, 200_000)
    labels = (rng.uniform(0, 1, probs.size) < probs).astype(int)
    assert metrics.expected_calibration_error(probs, labels) < 0.01
    overconfident = np.where(probs > 0.5, 1.0, 0.0)
    assert metrics.expected_calibration_error(overconfident, labels) > 0.2


def test_ece_exact_small_case() -> None:
    # bin [0.2,0.3): p=0.25 with half positives -> gap 0.25; bin [0.9,1.0]: p=1.0 all positive
    probs = [0.25, 0.25, 1.0, 1.0]
    labels = [1, 0, 1, 1]
    assert metrics.expected_calibration_error(probs, labels) == pytest.approx(0.125)


def test_platt_is_monotonic_in_unit_interval_with_positive_slope() -> None:
    rng = np.random.default_rng(1)
    logits = np.r_[rng.normal(1.5, 1.0, 300), rng.normal(-1.0, 1.2, 300)]
    labels = np.r_[np.ones(300), np.zeros(300)]
    fit = metrics.fit_platt(logits * 3.0 + 2.0, labels)
    assert not fit.fallback
    assert fit.calibration.a > 0
    grid = np.linspace(-40, 40, 401)
    probs = np.array([fit.calibration.probability(v) for v in grid])
    assert np.all((probs >= 0) & (probs <= 1))
    assert np.all(np.diff(probs) >= 0)
    assert probs[0] < 0.01 and probs[-1] > 0.99


def test_platt_stays_finite_on_separated_validation() -> None:
    fit = metrics.fit_platt([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], [0, 0, 0, 1, 1, 1])
    assert not fit.fallback
    assert 0 < fit.calibration.a < 50 and math.isfinite(fit.calibration.b)


def test_platt_falls_back_rather_than_invert_the_ranking() -> None:
    fit = metrics.fit_platt([3.0, 2.0, 1.5, -1.0, -2.0, -2.5], [0, 0, 0, 1, 1, 1])
    assert fit.fallback
    assert (fit.calibration.a, fit.calibration.b) == (1.0, 0.0)
    assert "slope" in fit.note


def test_youden_threshold_separates_a_separable_set() -> None:
    probs = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9]
    labels = [0, 0, 0, 1, 1, 1]
    threshold = metrics.youden_threshold(probs, labels)
    assert 0.3 < threshold < 0.6
    assert metrics.accuracy(probs, labels, threshold) == 1.0
    assert metrics.youden_threshold([0.2, 0.4], [1, 1]) == 0.5


def test_summary_reports_counts_and_null_for_undefined() -> None:
    row = metrics.summary([0.9, 0.8], [1, 1], 0.5)
    assert row["n_ai"] == 2 and row["n_real"] == 0
    assert row["auc"] is None and row["tpr_at_threshold"] == 1.0
