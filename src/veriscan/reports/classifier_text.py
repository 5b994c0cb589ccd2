"""How `show` and the HTML report word the supplied classifiers' scores (one wording for both)."""

from __future__ import annotations

from collections.abc import Mapping

NOTICE = (
    "Classifier scores are the estimate of a model the examiner supplied, identified by its "
    "SHA-256; veriscan ships no content classifier."
)


def classifier_lines(value: object) -> list[str]:
    """One line per configured classifier of one content; [] when none ran on it."""
    if not isinstance(value, Mapping):
        return []
    lines = []
    for name in sorted(value):
        result = value[name]
        scores = ", ".join(f"{label} {p:.4f}" for label, p in result["scores"].items())
        flagged = "flagged" if result["flagged"] else "not flagged"
        lines.append(
            f"Classifier {name}: {scores}; {flagged}; the supplied model's estimate "
            f"(model sha256 {result['model_sha256']}; veriscan ships no content classifier)"
        )
    return lines
