"""PdqAnalyzer on images drawn in code: hex format, decode paths, fast-mode scaling, failures."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw

from veriscan.analyzers.base import FileContext
from veriscan.analyzers.decode import FAST_MIN_SIDE, decoded
from veriscan.analyzers.pdq import PdqAnalyzer, bits_to_hex, pdq_hash
from veriscan.domain import Attribute, Fact, Problem
from veriscan.settings import Settings


def landscape(width: int, height: int) -> Image.Image:
    """Sky gradient, sun, hills and a lake: varied enough that PDQ reports full quality."""
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    sky = np.stack([70 + 110 * y + 30 * x, 130 + 80 * y + 0 * x, 235 - 70 * y + 0 * x], axis=-1)
    img = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.1, height * 0.08, width * 0.25, height * 0.08 + width * 0.15), "orange")
    draw.polygon(
        [(0, height * 0.65), (width * 0.45, height * 0.2), (width, height * 0.65)], "sienna"
    )
    draw.rectangle((0, height * 0.65, width, height), fill=(30, 120, 60))
    draw.ellipse((width * 0.55, height * 0.75, width * 0.95, height * 0.95), fill=(40, 80, 200))
    return img


def encode(img: Image.Image, fmt: str = "JPEG", **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def run(data: bytes, pdq: str = "exact", mime: str = "image/jpeg") -> list[Fact]:
    s = Settings(pdq=pdq)
    return PdqAnalyzer(s).analyze(FileContext("x", data, mime, s))


def values(facts: list[Fact]) -> dict[str, Any]:
    assert not [f for f in facts if isinstance(f, Problem)], facts
    return {f.name: f.value for f in facts if isinstance(f, Attribute)}


def threatexchange_hex(bits: Any) -> str:
    """python-threatexchange's conversion: bits joined into a binary string, read as one int."""
    bin_str = "".join(str(int(x)) for x in bits)
    return f"{int(bin_str, 2):0{(len(bin_str) + 3) // 4}x}"


def reference_hash(data: bytes) -> str:
    """What python-threatexchange computes for these bytes: Pillow decode, convert('RGB')."""
    bits, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return threatexchange_hex(bits)


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_bit_order_is_most_significant_first() -> None:
    bits = np.zeros(256, dtype=np.int64)
    bits[0] = 1
    bits[255] = 1
    assert bits_to_hex(bits) == "8" + "0" * 62 + "1"


def test_hex_matches_threatexchange_conversion_on_random_vectors() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        bits = rng.integers(0, 2, 256)
        assert bits_to_hex(bits) == threatexchange_hex(bits)


def test_bits_to_hex_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="256"):
        bits_to_hex(np.zeros(64, dtype=np.int64))


@pytest.mark.parametrize("pdq", ["fast", "exact"])
def test_facts_are_hash_quality_and_mode(pdq: str) -> None:
    facts = values(run(encode(landscape(400, 300)), pdq))
    assert set(facts) == {"hash", "quality", "mode"}
    assert len(facts["hash"]) == 64 and facts["hash"] == facts["hash"].lower()
    int(facts["hash"], 16)
    assert isinstance(facts["quality"], int) and 0 <= facts["quality"] <= 100
    assert facts["mode"] == pdq


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("RGB", "PNG"),
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("L", "PNG"),
        ("P", "PNG"),
        ("1", "PNG"),
        ("I;16", "PNG"),
        ("CMYK", "JPEG"),
        ("RGB", "WEBP"),
        ("RGB", "TIFF"),
        ("RGB", "BMP"),
    ],
)
def test_exact_mode_matches_threatexchange_for_every_pil_mode(mode: str, fmt: str) -> None:
    img = landscape(320, 240)
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img.convert("L"), dtype=np.uint16) * 257)
        assert img.mode == "I;16"
    elif mode == "P":
        img = img.quantize(64)
    else:
        img = img.convert(mode)
    data = encode(img, fmt)
    assert values(run(data, "exact", f"image/{fmt.lower()}"))["hash"] == reference_hash(data)


def test_exact_mode_hashes_a_full_size_jpeg_decode() -> None:
    data = encode(landscape(2048, 1536), quality=92)
    s = Settings(pdq="exact")
    ctx = FileContext("x", data, "image/jpeg", s)
    assert values(PdqAnalyzer(s).analyze(ctx))["hash"] == reference_hash(data)
    assert ctx.cache["decoded:exact"].rgb.size == (2048, 1536)


@pytest.mark.parametrize(
    "size",
    [(2048, 1536), (4096, 3072), (5000, 5000), (4096, 600), (1023, 1023), (1024, 1024), (800, 600)],
)
def test_fast_mode_uses_smallest_jpeg_scale_keeping_512(size: tuple[int, int]) -> None:
    data = encode(landscape(*size), quality=85)
    ctx = FileContext("x", data, "image/jpeg", Settings())
    width, height = decoded(ctx, "fast").rgb.size  # type: ignore[union-attr]
    scale = size[0] / width
    assert scale in (1, 2, 4, 8)
    assert (width, height) == (math.ceil(size[0] / scale), math.ceil(size[1] / scale))
    for got, orig in ((width, size[0]), (height, size[1])):
        assert got >= min(orig, FAST_MIN_SIDE)
    if scale < 8:  # one more halving would have taken a side below the 512 floor
        assert any(o / (scale * 2) < min(o, FAST_MIN_SIDE) for o in size)


def test_fast_mode_decodes_non_jpeg_fully() -> None:
    data = encode(landscape(2048, 1536), "PNG")
    ctx = FileContext("x", data, "image/png", Settings())
    assert decoded(ctx, "fast").rgb.size == (2048, 1536)  # type: ignore[union-attr]
    assert values(run(data, "fast", "image/png"))["hash"] == reference_hash(data)


def test_fast_mode_stays_close_to_exact() -> None:
    data = encode(landscape(3000, 2000), quality=90)
    fast = values(run(data, "fast"))["hash"]
    exact = values(run(data, "exact"))["hash"]
    assert distance(fast, exact) <= 16


@pytest.mark.parametrize(
    ("orientation", "undo"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),  # 6: the viewer turns it 90 degrees clockwise
        (8, Image.Transpose.ROTATE_270),
    ],
)
@pytest.mark.parametrize("pdq", ["fast", "exact"])
def test_exif_orientation_is_applied_before_hashing(
    orientation: int, undo: Image.Transpose, pdq: str
) -> None:
    upright = landscape(1600, 1200)
    # Store the pixels turned the other way and let the tag say how to turn them back.
    stored = upright.transpose(undo)
    exif = Image.Exif()
    exif[0x0112] = orientation
    tagged = values(run(encode(stored, quality=95, exif=exif), pdq))["hash"]
    plain = values(run(encode(upright, quality=95), pdq))["hash"]
    ignored = values(run(encode(stored, quality=95), pdq))["hash"]
    assert distance(tagged, plain) <= 8
    assert distance(ignored, plain) > 32  # the check above would catch a missing transpose


def test_animated_gif_hashes_its_first_frame() -> None:
    first = landscape(200, 150)
    other = first.transpose(Image.Transpose.ROTATE_180)
    data = encode(first, "GIF", save_all=True, append_images=[other, other], duration=100)
    got = values(run(data, "exact", "image/gif"))["hash"]
    assert got == reference_hash(data)
    second = Image.open(io.BytesIO(data))
    second.seek(1)
    second_bits, _ = pdqhash.compute(np.asarray(second.convert("RGB")))
    assert distance(got, threatexchange_hex(second_bits)) > 32


def test_animated_webp_hashes_its_first_frame() -> None:
    first = landscape(200, 150)
    other = Image.new("RGB", (200, 150), (250, 250, 250))
    data = encode(first, "WEBP", save_all=True, append_images=[other], lossless=True, duration=100)
    assert values(run(data, "exact", "image/webp"))["hash"] == pdq_hash(first)[0]


@pytest.mark.parametrize("size", [(1, 1), (3, 700), (16, 16)])
def test_tiny_images_still_hash(size: tuple[int, int]) -> None:
    facts = values(run(encode(Image.new("RGB", size, (90, 60, 30)), "PNG"), "fast", "image/png"))
    assert len(facts["hash"]) == 64
    assert 0 <= facts["quality"] <= 100


def test_corrupt_image_is_a_pdq_problem() -> None:
    data = encode(landscape(800, 600))
    facts = run(data[: len(data) // 2], "fast")
    assert [(f.analyzer, f.code) for f in facts if isinstance(f, Problem)] == [
        ("pdq", "corrupt-image")
    ]
    assert len(facts) == 1


def test_pdq_hash_requires_rgb() -> None:
    with pytest.raises(ValueError, match="RGB"):
        pdq_hash(Image.new("L", (8, 8)))
