"""The whole provenance analyzer over the benign corpus: every trace found, no false alarm."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from veriscan.analyzers.base import FileContext
from veriscan.analyzers.filetype import sniff_mime
from veriscan.analyzers.provenance.analyzer import ProvenanceAnalyzer
from veriscan.domain import Attribute
from veriscan.settings import Settings

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".heic", ".avif", ".tif", ".tiff", ".dng"}


def manifest() -> list[dict[str, str]]:
    path = SHARED / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [
            row
            for row in csv.DictReader(fh, delimiter="\t")
            if Path(row["file"]).suffix.lower() in IMAGE_SUFFIXES
        ]


@cache
def analyse(rel: str) -> dict[str, Any]:
    data = (SHARED / rel).read_bytes()
    ctx = FileContext(Path(rel).name, data, sniff_mime(data[:4096]), Settings())
    facts = ProvenanceAnalyzer(Settings()).analyze(ctx)
    ai = next((f.value for f in facts if isinstance(f, Attribute) and f.name == "ai"), None)
    assert ai is not None, f"{rel}: no verdict ({facts})"
    return dict(ai)


def expected_family(provenance: str) -> set[str]:
    text = provenance.lower()
    for key, families in (
        ("invokeai", {"invokeai"}),
        ("fooocus", {"fooocus"}),
        ("a1111", {"automatic1111"}),
        ("comfyui", {"comfyui"}),
        ("civitai", {"comfyui", "automatic1111", "civitai"}),
    ):
        if key in text:
            return families
    return set()


ROWS = manifest()
METADATA_ROWS = [
    r
    for r in ROWS
    if r["category"] in ("a1111", "comfy", "othergen", "synthetic")
    and r["truth"] == "ai"
    and r["provenance"] not in ("", "none")
    and "no infotext" not in r["provenance"]
]
REAL_ROWS = [r for r in ROWS if r["category"] == "real" and r["truth"] == "real"]


def need_corpus() -> None:
    if not ROWS:
        pytest.skip(f"benign shared corpus not present at {SHARED} (fresh clone)")


@pytest.mark.parametrize("row", METADATA_ROWS or [None], ids=lambda r: r["file"] if r else "none")
def test_generator_metadata_is_found(row: dict[str, str] | None) -> None:
    need_corpus()
    assert row is not None
    ai = analyse(row["file"])
    families = expected_family(row["provenance"])
    assert ai["verdict"] == "conclusive", ai["explanation"]
    if families:
        assert ai["generator"] in families, (row["provenance"], ai["generator"])


def test_detection_rate_is_at_least_99_percent() -> None:
    need_corpus()
    hits = sum(analyse(r["file"])["verdict"] == "conclusive" for r in METADATA_ROWS)
    assert hits / len(METADATA_ROWS) >= 0.99, f"{hits}/{len(METADATA_ROWS)}"


@pytest.mark.parametrize("row", REAL_ROWS or [None], ids=lambda r: r["file"] if r else "none")
def test_no_false_alarm_on_camera_photos(row: dict[str, str] | None) -> None:
    need_corpus()
    assert row is not None
    ai = analyse(row["file"])
    assert ai["verdict"] in ("none found", "indicative"), ai["explanation"]
    if ai["verdict"] == "indicative":
        signals = {e["signal"] for e in ai["evidence"] if e["strength"] == "indicative"}
        assert signals <= {"dimensions", "filename", "software-tag"}, signals


def test_absence_is_worded_as_absence() -> None:
    need_corpus()
    ai = analyse(REAL_ROWS[0]["file"])
    if ai["verdict"] == "none found":
        assert "absence of evidence" in ai["explanation"]
        assert "real" not in ai["verdict"]
        assert {c["name"] for c in ai["checks"]} >= {"C2PA manifest", "IPTC digital source type"}
