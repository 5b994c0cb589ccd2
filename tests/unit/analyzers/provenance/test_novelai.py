"""NovelAI: PNG text chunks (V3 and V4 requests) and the alpha-LSB ``stealth_pngcomp`` copy."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from veriscan.analyzers.provenance.base import ImageMetadata, ProvenanceError
from veriscan.analyzers.provenance.metadata import read_metadata
from veriscan.analyzers.provenance.novelai import NovelAIParser
from veriscan.analyzers.provenance.stealth import read_stealth

COMMENT = {
    "prompt": "a red bicycle leaning on a fence, watercolor",
    "steps": 28,
    "height": 1216,
    "width": 832,
    "scale": 5.0,
    "uncond_scale": 1.0,
    "cfg_rescale": 0.0,
    "seed": 2774291234,
    "n_samples": 1,
    "noise_schedule": "native",
    "sampler": "k_euler_ancestral",
    "uc": "lowres, blurry",
    "request_type": "PromptGenerateRequest",
    "signed_hash": "c2lnbmF0dXJl",
}
CHUNKS = {
    "Title": "AI generated image",
    "Description": "a red bicycle leaning on a fence, watercolor",
    "Software": "NovelAI",
    "Source": "Stable Diffusion XL C1E1DE52",
    "Generation time": "4.2",
    "Comment": json.dumps(COMMENT),
}


def png(chunks: dict[str, str], img: Image.Image | None = None) -> ImageMetadata:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    (img or Image.new("RGB", (32, 32), (90, 160, 220))).save(buf, "PNG", pnginfo=info)
    return read_metadata(buf.getvalue(), "fixture.png")


def test_png_text_chunks() -> None:
    (p,) = NovelAIParser().parse(png(CHUNKS))
    assert (p.generator, p.source) == ("novelai", "png:Comment")
    assert (p.prompt, p.negative_prompt) == (COMMENT["prompt"], "lowres, blurry")
    assert (p.seed, p.steps, p.cfg, p.sampler, p.scheduler) == (
        2774291234,
        28,
        5.0,
        "k_euler_ancestral",
        "native",
    )
    assert (p.width, p.height) == (832, 1216)
    assert (p.model, p.model_hash, p.model_hash_scheme) == (
        "Stable Diffusion XL",
        "C1E1DE52",
        "novelai",
    )
    assert p.extra["signed_hash"] == "c2lnbmF0dXJl" and p.extra["Software"] == "NovelAI"


def test_v4_prompts_and_character_captions() -> None:
    comment = {
        "v4_prompt": {
            "caption": {
                "base_caption": "a quiet harbour at dawn",
                "char_captions": [
                    {"char_caption": "a red fox", "centers": []},
                    {"char_caption": "a blue bird"},
                ],
            }
        },
        "v4_negative_prompt": {"caption": {"base_caption": "lowres", "char_captions": []}},
        "seed": "17",
        "steps": 23,
        "scale": 6,
        "sampler": "k_euler",
    }
    chunks = {**CHUNKS, "Source": "NovelAI Diffusion V4.5 4BDE2A90", "Comment": json.dumps(comment)}
    del chunks["Description"]
    (p,) = NovelAIParser().parse(png(chunks))
    assert (p.prompt, p.negative_prompt, p.seed) == ("a quiet harbour at dawn", "lowres", 17)
    assert p.model == "NovelAI Diffusion V4.5" and p.model_hash == "4BDE2A90"
    assert p.extra["character_prompts"] == ["a red fox", "a blue bird"]


def test_broken_or_odd_comments() -> None:
    with pytest.raises(ProvenanceError, match="not valid JSON"):
        NovelAIParser().parse(png({**CHUNKS, "Comment": CHUNKS["Comment"][:-20]}))
    (p,) = NovelAIParser().parse(png({**CHUNKS, "Comment": "[1, 2]"}))
    assert (p.prompt, p.seed, p.model) == (CHUNKS["Description"], None, "Stable Diffusion XL")
    (p,) = NovelAIParser().parse(png({**CHUNKS, "Comment": '{"seed": [1], "scale": "x"}'}))
    assert (p.seed, p.cfg) == (None, None)


def test_not_novelai_without_its_software_tag() -> None:
    chunks = {k: v for k, v in CHUNKS.items() if k != "Software"}
    assert NovelAIParser().parse(png(chunks)) == []
    assert NovelAIParser().parse(png({"Software": "GIMP 2.10", "Comment": "{}"})) == []


def stealth(payload: dict[str, Any], kind: str = "stealth_pngcomp") -> Image.Image:
    """NovelAI's embedding: signature, 32-bit bit length, gzip JSON; alpha LSBs, column-major."""
    data = gzip.compress(json.dumps(payload).encode())
    stream = kind.encode() + (len(data) * 8).to_bytes(4, "big") + data
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
    side = 96
    alpha = np.full(side * side, 254, dtype=np.uint8)
    alpha[: bits.size] |= bits
    rgba = np.zeros((side, side, 4), dtype=np.uint8)
    rgba[..., 0] = np.linspace(0, 255, side, dtype=np.uint8)  # a gradient
    rgba[..., 3] = alpha.reshape(side, side).T  # column-major: x outer, y inner
    return Image.fromarray(rgba, "RGBA")


def with_payload(meta: ImageMetadata, img: Image.Image) -> ImageMetadata:
    """What the analyzer does when the LSB reader finds a payload."""
    found = read_stealth(img)
    assert found is not None
    meta.text["stealth"], meta.text["stealth_kind"] = found.text, found.kind
    return meta


def test_alpha_lsb_payload_end_to_end() -> None:
    img = stealth(CHUNKS)  # Comment stays a JSON string inside the JSON
    meta = with_payload(png({}, img), img)
    (p,) = NovelAIParser().parse(meta)
    assert (p.source, p.seed, p.model) == ("lsb:stealth_pngcomp", 2774291234, "Stable Diffusion XL")
    assert p.prompt == CHUNKS["Description"]
    both = NovelAIParser().parse(with_payload(png(CHUNKS, img), img))
    assert [r.source for r in both] == ["png:Comment", "lsb:stealth_pngcomp"]


def test_stealth_text_that_is_not_novelai() -> None:
    meta = png({})
    meta.text.update(stealth="a cat\nSteps: 20, Seed: 1", stealth_kind="stealth_pnginfo")
    assert NovelAIParser().parse(meta) == []
    meta.text["stealth"] = '{"prompt": "a cat", "seed": 1}'
    assert NovelAIParser().parse(meta) == []
    meta.text["stealth"] = '{"Software": "NovelAI", "Comment": "{\\"seed'
    with pytest.raises(ProvenanceError):
        NovelAIParser().parse(meta)
    meta.text["stealth"] = '{"prompt": "a cat", "se'
    assert NovelAIParser().parse(meta) == []
