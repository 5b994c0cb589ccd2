"""Combining every provenance signal into one explained verdict.

The verdict is the strongest evidence found, never a weighing of absences: a file without traces
gets ``none found`` and a sentence saying that this is absence of evidence, because metadata is
routinely stripped and a photograph of a real child must never be waved through as "real".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from veriscan.analyzers.provenance.base import Evidence, GenerationParams

ORDER = {"conclusive": 3, "strong": 2, "indicative": 1, "none": 0}
NONE_FOUND = "none found"

_WHY = {
    "conclusive": (
        "This is conclusive: the file records how it was generated, which a camera never writes, "
        "or it carries a valid C2PA manifest declaring AI generation."
    ),
    "strong": (
        "This is strong evidence of AI generation, though not conclusive: the signal can in rare "
        "cases be copied onto or survive into other images, or its manifest no longer matches the "
        "content."
    ),
    "indicative": (
        "These are weak cues only: each is easy to fake and also occurs in images that were not "
        "generated, so they justify a closer look, not a conclusion."
    ),
}


@dataclass
class Check:
    """One check that ran, so a report can say what was looked for, not only what was found."""

    name: str
    outcome: str


@dataclass
class Verdict:
    verdict: str
    generator: str | None
    evidence: list[Evidence]
    params: list[GenerationParams]
    checks: list[Check] = field(default_factory=list)
    explanation: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "generator": self.generator,
            "evidence": [
                {
                    "signal": e.signal,
                    "strength": e.strength,
                    "summary": e.summary,
                    "generator": e.generator,
                    "details": e.details,
                }
                for e in self.evidence
            ],
            "params": [p.to_json() for p in self.params],
            "checks": [{"name": c.name, "outcome": c.outcome} for c in self.checks],
            "explanation": self.explanation,
        }


def params_evidence(params: Sequence[GenerationParams]) -> list[Evidence]:
    """Generator metadata as evidence: conclusive with generation parameters, else indicative."""
    out = []
    for p in params:
        if p.has_generation_parameters():
            what = ", ".join(
                f"{name} {value}"
                for name, value in (("model", p.model), ("seed", p.seed), ("steps", p.steps))
                if value is not None
            )
            out.append(
                Evidence(
                    f"generator-metadata:{p.source}",
                    "conclusive",
                    f"{p.generator} generation parameters in {p.source}"
                    + (f" ({what})" if what else ""),
                    generator=p.generator,
                )
            )
        else:
            out.append(
                Evidence(
                    f"generator-metadata:{p.source}",
                    "indicative",
                    f"{p.generator} metadata in {p.source} without generation parameters",
                    generator=p.generator,
                )
            )
    return out


def decide(
    params: Sequence[GenerationParams],
    evidence: Sequence[Evidence],
    checks: Sequence[Check],
    notes: Sequence[str] = (),
) -> Verdict:
    """``notes`` are caveats the explanation must end with whatever the verdict (the pixel
    detector's: its score is a statistical estimate)."""
    found = params_evidence(params) + list(evidence)
    found.sort(key=lambda e: -ORDER.get(e.strength, 0))
    positive = [e for e in found if ORDER.get(e.strength, 0) > 0]
    if not positive:
        explanation = " ".join([_absence(checks), *notes])
        return Verdict(NONE_FOUND, None, found, list(params), list(checks), explanation)
    top = positive[0].strength
    generator = next((e.generator for e in positive if e.generator), None)
    if params and params[0].has_generation_parameters():
        generator = params[0].generator
    lines = [f"Verdict: {top}."]
    lines.append(
        "Evidence found: " + "; ".join(f"{e.summary} [{e.strength}]" for e in positive) + "."
    )
    lines.append(_WHY[top])
    lines.append("Checks that ran: " + _checks_text(checks) + ".")
    lines += notes
    return Verdict(top, generator, found, list(params), list(checks), " ".join(lines))


def _checks_text(checks: Sequence[Check]) -> str:
    return "; ".join(f"{c.name}: {c.outcome}" for c in checks) or "none"


def _absence(checks: Sequence[Check]) -> str:
    return (
        "Verdict: none found. None of the checks that ran found evidence of AI generation ("
        + _checks_text(checks)
        + "). This is an absence of evidence, not evidence that the image is a camera photograph: "
        "generator metadata, C2PA manifests and watermarks are often removed when images are "
        "edited, re-encoded or shared."
    )
