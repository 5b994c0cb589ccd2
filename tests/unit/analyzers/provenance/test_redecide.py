"""A verdict re-decided after the batch stage equals the verdict an inline scan decides.

Provenance runs on the same bytes twice: once with the detector's outcome already in the cache
(inline), once with the check pending and the outcome applied afterwards from the stored JSON.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from conftest import draw_scene, encode
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.detect.analyzer import CACHE_KEY, FAILED_KEY
from veriscan.analyzers.detect.pending import PENDING_KEY
from veriscan.analyzers.provenance.analyzer import ProvenanceAnalyzer
from veriscan.analyzers.provenance.redecide import RedecideError, redecide
from veriscan.domain import Attribute
from veriscan.settings import Settings

FLAGGED = {
    "score": 0.9132,
    "model": "m@1",
    "flagged": True,
    "threshold": 0.5,
    "logit": 2.3,
    "patches": 16,
}
BELOW = {**FLAGGED, "score": 0.1201, "flagged": False, "logit": -2.0}
OUTCOMES: list[tuple[dict[str, Any] | None, str | None]] = [
    (FLAGGED, None),
    (BELOW, None),
    (None, "pixels unreadable"),
]


def with_params(text: str) -> bytes:
    info = PngInfo()
    info.add_text("parameters", text)
    out = io.BytesIO()
    draw_scene(3).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def camera_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 80D"
    return encode(draw_scene(4), "JPEG", exif=exif.tobytes())


DRAWN = {
    "plain.png": encode(draw_scene(1), "PNG"),
    "ComfyUI_00001_.png": encode(draw_scene(2), "PNG"),
    "00012-1234.png": with_params("a red boat\nSteps: 20, Sampler: Euler a, Seed: 1, Model: v1-5"),
    "tool-name-only.png": with_params("Steps: unknown"),
    "IMG_0001.JPG": camera_jpeg(),
}


def verdict(name: str, data: bytes, cache: dict[str, Any]) -> dict[str, Any] | None:
    ctx = FileContext(name, data, "image/png", Settings())
    ctx.cache.update(cache)
    facts = ProvenanceAnalyzer(Settings()).analyze(ctx)
    found = [f.value for f in facts if isinstance(f, Attribute) and f.name == "ai"]
    return found[0] if found else None


def inline_cache(result: dict[str, Any] | None, failed: str | None) -> dict[str, Any]:
    return {CACHE_KEY: result} if result is not None else {FAILED_KEY: failed}


def check_equal(name: str, data: bytes) -> None:
    waiting = verdict(name, data, {PENDING_KEY: "m@1"})
    if waiting is None:
        return
    check = next(c for c in waiting["checks"] if c["name"] == "pixel detector")
    assert check["outcome"] == "pending: the batch stage scores it (model m@1)"
    stored = json.loads(json.dumps(waiting))  # as read back from the database
    for result, failed in OUTCOMES:
        assert redecide(stored, result, failed) == verdict(name, data, inline_cache(result, failed))


@pytest.mark.parametrize("name", sorted(DRAWN))
def test_redecided_equals_inline_on_drawn_images(name: str) -> None:
    check_equal(name, DRAWN[name])


def corpus_files(corpus: Path) -> list[Path]:
    wanted = (".png", ".jpg", ".jpeg", ".webp")
    files = [p for p in sorted(corpus.rglob("*")) if p.suffix.lower() in wanted and p.is_file()]
    return [p for p in files if p.stat().st_size < 8 << 20][::7][:60]


def test_redecided_equals_inline_on_the_corpus(shared_data: Path) -> None:
    files = corpus_files(shared_data)
    assert len(files) >= 20
    verdicts = set()
    for path in files:
        data = path.read_bytes()
        check_equal(path.name, data)
        ai = verdict(path.name, data, {CACHE_KEY: BELOW})
        verdicts.add(ai["verdict"] if ai else None)
    assert {"conclusive", "none found"} <= verdicts  # both generated and plain files were covered


def test_flagged_score_raises_a_plain_verdict_to_indicative_only() -> None:
    waiting = verdict("plain.png", DRAWN["plain.png"], {PENDING_KEY: "m@1"})
    assert waiting is not None and waiting["verdict"] == "none found"
    after = redecide(waiting, FLAGGED)
    assert after["verdict"] == "indicative"
    positive = [e["signal"] for e in after["evidence"] if e["strength"] != "none"]
    assert positive == ["pixel-detector"]
    assert "statistical estimate" in after["explanation"]


def test_unreadable_stored_verdict_is_an_error_not_a_guess() -> None:
    with pytest.raises(RedecideError):
        redecide(
            {
                "verdict": "none found",
                "params": [{"unknown_field": 1}],
                "evidence": [],
                "checks": [],
            },
            FLAGGED,
        )
    with pytest.raises(RedecideError):
        redecide({"verdict": "none found"}, FLAGGED)
