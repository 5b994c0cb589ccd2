"""ROC and reliability plots for the evaluation report (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=110)
    for name, (fpr, tpr) in curves.items():
        ax.step(fpr, tpr, where="post", label=name, linewidth=2.0 if name == "base" else 1.2)
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    ax.set_xlabel("false-positive rate (real called AI)")
    ax.set_ylabel("true-positive rate (AI called AI)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def reliability_plot(rows: list[dict[str, float | int]], path: Path, title: str) -> Path:
    """Observed AI fraction per probability bin, with the bin counts written on the bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=110)
    for row in rows:
        count = int(row["count"])
        if not count:
            continue
        low, high = float(row["low"]), float(row["high"])
        ax.bar(
            low,
            float(row["observed"]),
            width=high - low,
            align="edge",
            alpha=0.6,
            edgecolor="black",
            color="tab:blue",
        )
        ax.text(
            (low + high) / 2, float(row["observed"]) + 0.02, str(count), ha="center", fontsize=7
        )
        ax.plot([(low + high) / 2], [float(row["confidence"])], "o", color="tab:red", markersize=4)
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    ax.set_xlabel("predicted probability of AI (dots: bin mean)")
    ax.set_ylabel("observed fraction AI (bars; numbers: images)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
