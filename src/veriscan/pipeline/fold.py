"""Folding every analyzer's facts about one content into the stored ContentRecord.

Well-known facts (digests, size, MIME, image size, EXIF, PDQ, AI evidence, the detector's score,
the supplied classifiers' scores)
get their own columns because every report and matcher needs them; everything else an analyzer
says is kept under its id in ``findings``, so a new plugin needs no schema change.
"""

from __future__ import annotations

from typing import Any

from veriscan.domain import Artifact, Attribute, ContentRecord, Digest, Finding, Problem

_PROMOTED: dict[tuple[str, str], str] = {
    ("hashes", "size"): "size",
    ("filetype", "mime"): "mime",
    ("image", "width"): "width",
    ("image", "height"): "height",
    ("image", "exif"): "exif",
    ("pdq", "hash"): "pdq_hash",
    ("pdq", "quality"): "pdq_quality",
    ("pdq", "mode"): "pdq_mode",
    ("provenance", "ai"): "ai",
    ("models", "model"): "model",
    ("detector", "detector"): "detector",
    ("classifier", "classifiers"): "classifiers",
}


def fold_findings(findings: list[Finding]) -> ContentRecord:
    digests: dict[str, str] = {}
    columns: dict[str, Any] = {}
    extra: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    artifacts: list[Artifact] = []
    for finding in findings:
        for fact in finding.facts:
            if isinstance(fact, Digest):
                digests[fact.algorithm] = fact.value
            elif isinstance(fact, Attribute):
                column = _PROMOTED.get((finding.analyzer, fact.name))
                if column is not None:
                    columns[column] = fact.value
                else:
                    extra.setdefault(finding.analyzer, {})[fact.name] = fact.value
            elif isinstance(fact, Problem):
                problems.append(fact)
            elif isinstance(fact, Artifact):
                artifacts.append(fact)
            else:
                extra.setdefault(finding.analyzer, {}).setdefault("verdicts", []).append(
                    {
                        "label": fact.label,
                        "strength": fact.strength,
                        "explanation": fact.explanation,
                    }
                )
    return ContentRecord(
        sha256=digests["sha256"],
        md5=digests["md5"],
        sha1=digests["sha1"],
        size=int(columns.pop("size")),
        mime=str(columns.pop("mime", "application/octet-stream")),
        findings=extra,
        problems=problems,
        artifacts=artifacts,
        **columns,
    )
