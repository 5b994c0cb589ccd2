"""Re-deciding a stored verdict once the detector's batch stage has scored the image.

On a cluster the provenance analyzer runs in the CPU units, before the batch stage has a score;
it stores a verdict whose pixel-detector check says "pending". When the score arrives, the verdict
is decided again from what it stored (generator parameters, evidence, checks) with the pixel signal
put in its place, so it is the verdict an inline scan gives the same bytes, without reading the
file a second time. Tests hold the two equal on the corpus.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from veriscan.analyzers.detect.analyzer import CACHE_KEY, FAILED_KEY
from veriscan.analyzers.failures import log_exception
from veriscan.analyzers.provenance.base import Evidence, GenerationParams, Lora
from veriscan.analyzers.provenance.pixel import CHECK, SIGNAL, pixel_signal
from veriscan.analyzers.provenance.verdict import Check, decide, params_evidence


class RedecideError(ValueError):
    """A stored verdict this version cannot read back (written by another veriscan version)."""


def redecide(
    ai: Mapping[str, Any], result: Mapping[str, Any] | None, failed: str | None = None
) -> dict[str, Any]:
    """The verdict JSON with the detector's ``result`` (or the reason it has none) in place of
    the pending check."""
    try:
        params = [_params(p) for p in ai["params"]]
        found = [Evidence(**e) for e in ai["evidence"]]
        checks = [Check(**c) for c in ai["checks"]]
    except (KeyError, TypeError, AttributeError) as exc:
        log_exception("redecide", "stored verdict", exc)
        raise RedecideError(
            "stored verdict not readable by this version: it lacks a field this version needs"
        ) from exc
    for derived in params_evidence(params):  # decide() derives these from params again
        if derived in found:
            found.remove(derived)
    evidence = [e for e in found if e.signal != SIGNAL]
    cache: dict[str, Any] = {}
    if result is not None:
        cache[CACHE_KEY] = dict(result)
    if failed is not None:
        cache[FAILED_KEY] = failed
    pixel_evidence, check, caveat = pixel_signal(cache)
    if any(c.name == CHECK for c in checks):
        checks = [check if c.name == CHECK else c for c in checks]
    else:
        checks.append(check)
    verdict = decide(params, evidence + pixel_evidence, checks, [caveat] if caveat else [])
    return verdict.to_json()


def _params(raw: Mapping[str, Any]) -> GenerationParams:
    fields = dict(raw)
    fields["loras"] = [Lora(**lora) for lora in fields.get("loras", [])]
    return GenerationParams(**fields)
