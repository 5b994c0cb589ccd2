from __future__ import annotations

import io

import pytest
from PIL import Image

from veriscan.analyzers.base import FileContext
from veriscan.analyzers.image import ImageAnalyzer
from veriscan.analyzers.provenance import metadata
from veriscan.analyzers.provenance.analyzer import ProvenanceAnalyzer
from veriscan.domain import Attribute, Fact
from veriscan.settings import Settings


def gradient_png(w: int = 512, h: int = 512) -> bytes:
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def ai(facts: list[Fact]) -> dict[str, object]:
    return next(f.value for f in facts if isinstance(f, Attribute) and f.name == "ai")


def test_pixels_are_shared_with_the_image_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = metadata._pixels
    monkeypatch.setattr(metadata, "_pixels", lambda data: calls.append(1) or original(data))
    settings = Settings()
    ctx = FileContext("plain.png", gradient_png(), "image/png", settings)
    ImageAnalyzer(settings).analyze(ctx)
    result = ai(ProvenanceAnalyzer(settings).analyze(ctx))
    assert calls == []
    checks = {c["name"]: c["outcome"] for c in result["checks"]}  # type: ignore[index, union-attr]
    assert checks["LSB (stealth) payload"] == "none"
    assert checks["Stable Diffusion invisible watermark"].startswith(("none", "sd"))

    alone = FileContext("plain.png", gradient_png(), "image/png", settings)
    ProvenanceAnalyzer(settings).analyze(alone)
    assert calls == [1], "without a shared decode the analyzer decodes once for both checks"


def test_watermark_policy_is_reported() -> None:
    settings = Settings(watermark="never")
    result = ai(
        ProvenanceAnalyzer(settings).analyze(
            FileContext("a.png", gradient_png(), "image/png", settings)
        )
    )
    outcomes = {c["name"]: c["outcome"] for c in result["checks"]}  # type: ignore[index, union-attr]
    assert outcomes["Stable Diffusion invisible watermark"] == "not checked (watermark = never)"
    assert result["verdict"] == "indicative"  # 512x512 without camera EXIF: a weak cue only
