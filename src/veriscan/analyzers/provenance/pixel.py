"""The pixel detector's result as provenance evidence: indicative at most, worded as an estimate.

A classifier's score is neither a record of how a file was made nor a mark a generator wrote, so it
can only ever justify a closer look. And because it can miss generated images, a score below the
threshold adds a check line, never evidence, and is never worded as a sign that an image is real.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from veriscan.analyzers.detect.analyzer import CACHE_KEY, FAILED_KEY
from veriscan.analyzers.detect.pending import PENDING_KEY
from veriscan.analyzers.provenance.base import Evidence
from veriscan.analyzers.provenance.verdict import Check

SIGNAL: Final = "pixel-detector"
CHECK: Final = "pixel detector"
STRENGTH: Final = "indicative"
CAVEAT: Final = (
    "The pixel detector's score is a statistical estimate from the pixels alone, not proof: it can "
    "flag photographs and miss generated images, and a low score never shows that an image is a "
    "camera photograph."
)


def pixel_signal(cache: Mapping[str, Any]) -> tuple[list[Evidence], Check, str | None]:
    """Evidence (only when flagged), the check line, and the caveat the explanation must carry
    whenever a score was computed."""
    result = cache.get(CACHE_KEY)
    waiting = cache.get(PENDING_KEY)
    if waiting and not isinstance(result, Mapping):
        return [], Check(CHECK, f"pending: the batch stage scores it (model {waiting})"), None
    if not isinstance(result, Mapping):
        failed = cache.get(FAILED_KEY)
        return [], Check(CHECK, f"not run: {failed}" if failed else "not run"), None
    score, threshold = float(result["score"]), float(result["threshold"])
    model = str(result["model"])
    shown, limit = _pair(score, threshold)
    if not result.get("flagged"):
        outcome = f"score {shown} below threshold {limit}: no indication (model {model})"
        return [], Check(CHECK, outcome), CAVEAT
    summary = (
        f"pixel-level detector estimates AI generation (score {shown}, threshold {limit}, "
        f"model {model}); a statistical estimate, not proof"
    )
    details = {"score": score, "threshold": threshold, "model": model}
    evidence = Evidence(SIGNAL, STRENGTH, summary, generator=None, details=details)
    return [evidence], Check(CHECK, f"score {shown}: {STRENGTH} (model {model})"), CAVEAT


def _pair(score: float, threshold: float) -> tuple[str, str]:
    """Two decimals, unless that would print a score below the threshold as equal to it."""
    digits = 2 if f"{score:.2f}" != f"{threshold:.2f}" or score == threshold else 4
    return f"{score:.{digits}f}", f"{threshold:.{digits}f}"
