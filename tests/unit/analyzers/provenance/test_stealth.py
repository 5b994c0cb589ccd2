"""LSB "stealth" payloads: the four sd_webui_stealth_pnginfo kinds, bounds, the upstream vector."""

from __future__ import annotations

import gzip
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veriscan.analyzers.provenance.a1111 import A1111Parser
from veriscan.analyzers.provenance.base import MAX_TEXT_BYTES, ProvenanceError
from veriscan.analyzers.provenance.metadata import read_metadata
from veriscan.analyzers.provenance.stealth import StealthPayload, read_stealth

REPO = Path(__file__).resolve().parents[4]
DATA = REPO.parent / "shared" / "data"
STEALTH_VECTOR = DATA / "a1111" / "sd-parsers" / "automatic1111_stealth.png"

KINDS = ("stealth_pnginfo", "stealth_pngcomp", "stealth_rgbinfo", "stealth_rgbcomp")
BENIGN = (
    "a lighthouse on a cliff at sunset\nNegative prompt: fog\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model: coastXL"
)


def gradient(width: int, height: int, mode: str = "RGBA") -> Image.Image:
    """A sky-to-sea gradient with odd and even values everywhere, so LSBs start out mixed."""
    y = np.linspace(0, 255, height)[:, None]
    x = np.linspace(0, 255, width)[None, :]
    rgba = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2, 200 + 0 * x * y], axis=-1)
    return Image.fromarray(rgba.astype(np.uint8), "RGBA").convert(mode)


def write_stealth(img: Image.Image, text: str | bytes, kind: str) -> Image.Image:
    """The extension's writer: signature, 32-bit bit length, payload, column-major in the LSBs."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if kind.endswith("comp") and isinstance(text, str):
        data = gzip.compress(data)
    bits = np.unpackbits(np.frombuffer(kind.encode("ascii"), np.uint8))
    length = np.unpackbits(np.frombuffer((len(data) * 8).to_bytes(4, "big"), np.uint8))
    stream = np.concatenate([bits, length, np.unpackbits(np.frombuffer(data, np.uint8))])
    alpha = kind.startswith("stealth_png")
    out = img.convert("RGBA" if alpha else img.mode)
    pixels = np.array(out).transpose(1, 0, 2).copy()  # (x, y, channel): column-major order
    plane = pixels[..., 3] if alpha else pixels[..., :3]
    flat = plane.reshape(-1)
    if stream.size > flat.size:
        raise ValueError("payload larger than the image holds")
    flat[: stream.size] = (flat[: stream.size] & 0xFE) | stream
    if alpha:
        pixels[..., 3] = flat.reshape(plane.shape)
    else:
        pixels[..., :3] = flat.reshape(plane.shape)
    return Image.fromarray(pixels.transpose(1, 0, 2).copy(), out.mode)


def png_round_trip(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_round_trips_through_png(kind: str) -> None:
    img = png_round_trip(write_stealth(gradient(64, 48), BENIGN, kind))
    assert read_stealth(img) == StealthPayload(kind, kind.endswith("comp"), BENIGN)


@pytest.mark.parametrize("kind", ["stealth_rgbinfo", "stealth_rgbcomp"])
def test_rgb_kinds_work_without_alpha(kind: str) -> None:
    img = png_round_trip(write_stealth(gradient(40, 40, "RGB"), BENIGN, kind))
    assert img.mode == "RGB"
    payload = read_stealth(img)
    assert payload is not None and payload.kind == kind and payload.text == BENIGN


def test_payload_spanning_many_columns_keeps_column_major_order() -> None:
    text = "a lighthouse on a cliff at sunset; " * 4
    img = write_stealth(gradient(400, 7), text, "stealth_pnginfo")  # 7 rows: 182 columns
    payload = read_stealth(img)
    assert payload is not None and payload.text == text
    transposed = write_stealth(gradient(7, 400), text, "stealth_pnginfo").transpose(
        Image.Transpose.TRANSPOSE
    )
    assert read_stealth(transposed) is None  # row-major reading would find it: we must not


def test_alpha_kind_is_ignored_once_alpha_is_dropped() -> None:
    img = write_stealth(gradient(64, 64), BENIGN, "stealth_pngcomp").convert("RGB")
    assert read_stealth(img) is None


def test_la_and_palette_modes_are_read() -> None:
    img = write_stealth(gradient(64, 64), BENIGN, "stealth_pnginfo").convert("LA")
    payload = read_stealth(png_round_trip(img))
    assert payload is not None and payload.text == BENIGN
    assert read_stealth(gradient(64, 64, "P")) is None
    assert read_stealth(gradient(64, 64, "L")) is None
    assert read_stealth(Image.new("La", (64, 64))) is None  # Pillow cannot convert it


def test_truncated_pixels_are_not_mistaken_for_a_signature() -> None:
    """The analyzer reads ProvenanceError as "signature found": decoder errors stay OSError."""
    rng = np.random.default_rng(3)
    noise = Image.fromarray(rng.integers(0, 256, (300, 300, 4), dtype=np.uint8), "RGBA")
    data = io.BytesIO()
    noise.save(data, "PNG")
    with pytest.raises(OSError, match="truncated"):
        read_stealth(Image.open(io.BytesIO(data.getvalue()[:20_000])))


def test_novelai_style_gzip_json_is_returned_as_text() -> None:
    comment = {"prompt": "a lighthouse on a cliff at sunset", "steps": 28, "seed": 42}
    text = json.dumps({"Software": "NovelAI", "Comment": json.dumps(comment)})
    payload = read_stealth(png_round_trip(write_stealth(gradient(96, 96), text, "stealth_pngcomp")))
    assert (
        payload is not None and payload.compressed and json.loads(payload.text) == json.loads(text)
    )


def test_plain_images_have_no_payload() -> None:
    assert read_stealth(gradient(256, 256)) is None
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (128, 128, 4), dtype=np.uint8), "RGBA")
    assert read_stealth(noise) is None


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (1, 50), (12, 12)])
def test_images_too_small_for_a_signature(size: tuple[int, int]) -> None:
    assert read_stealth(gradient(*size)) is None


def test_length_beyond_the_image_is_a_problem_not_a_crash() -> None:
    img = write_stealth(gradient(30, 30), b"", "stealth_pnginfo")
    pixels = np.array(img).transpose(1, 0, 2).copy()
    flat = pixels[..., 3].reshape(-1)
    big = np.unpackbits(np.frombuffer((10_000_000).to_bytes(4, "big"), np.uint8))
    flat[120:152] = (flat[120:152] & 0xFE) | big
    pixels[..., 3] = flat.reshape(pixels.shape[:2])
    with pytest.raises(ProvenanceError, match="holds"):
        read_stealth(Image.fromarray(pixels.transpose(1, 0, 2).copy(), "RGBA"))


def test_empty_payload_is_reported_empty() -> None:
    payload = read_stealth(write_stealth(gradient(30, 30), b"", "stealth_rgbinfo"))
    assert payload == StealthPayload("stealth_rgbinfo", False, "")


def test_corrupt_and_truncated_gzip_raise() -> None:
    with pytest.raises(ProvenanceError, match="gzip"):
        read_stealth(write_stealth(gradient(64, 64), b"not gzip at all", "stealth_pngcomp"))
    truncated = gzip.compress(BENIGN.encode() * 20)[:-30]
    with pytest.raises(ProvenanceError, match="truncated"):
        read_stealth(write_stealth(gradient(64, 64), truncated, "stealth_rgbcomp"))


def test_gzip_bomb_is_cut_at_the_text_limit() -> None:
    bomb = gzip.compress(b"a" * (MAX_TEXT_BYTES + 4096), 9)
    img = write_stealth(gradient(512, 512), bomb, "stealth_pngcomp")
    payload = read_stealth(img)
    assert payload is not None and len(payload.text) == MAX_TEXT_BYTES


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    payload = read_stealth(
        write_stealth(gradient(32, 32), b"\xff\xfe sunset \xc3", "stealth_pnginfo")
    )
    assert payload is not None and "sunset" in payload.text and "\ufffd" in payload.text


def test_large_image_reads_only_the_leading_columns() -> None:
    img = Image.new("RGBA", (8000, 6000), (90, 140, 200, 255))
    img.paste(write_stealth(gradient(2, 6000), BENIGN, "stealth_pngcomp"), (0, 0))
    start = time.perf_counter()
    payload = read_stealth(img)
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target
    assert payload is not None and payload.text == BENIGN
    img.paste(gradient(2, 6000), (0, 0))
    start = time.perf_counter()
    assert read_stealth(img) is None
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target


def test_stealth_text_feeds_the_a1111_parser() -> None:
    data = io.BytesIO()
    write_stealth(gradient(64, 64), BENIGN, "stealth_pngcomp").save(data, "PNG")
    meta = read_metadata(data.getvalue(), "stealth.png")
    assert A1111Parser().parse(meta) == []
    assert meta.pixels is not None
    payload = read_stealth(meta.pixels())
    assert payload is not None
    meta.text.update(stealth=payload.text, stealth_kind=payload.kind)
    [params] = A1111Parser().parse(meta)
    assert params.source == "stealth:stealth_pngcomp"
    assert (params.prompt, params.seed, params.model) == (
        "a lighthouse on a cliff at sunset",
        1234,
        "coastXL",
    )


@pytest.mark.skipif(not STEALTH_VECTOR.is_file(), reason=f"shared corpus absent: {STEALTH_VECTOR}")
def test_upstream_vector_from_sd_parsers() -> None:
    """Expected text decoded independently: a per-pixel Python loop over the alpha LSBs."""
    with Image.open(STEALTH_VECTOR) as img:
        payload = read_stealth(img)
    assert payload == StealthPayload(
        "stealth_pngcomp",
        True,
        "a circle\nNegative prompt: a square\nSteps: 20, Sampler: Euler, Schedule type: Automatic,"
        " CFG scale: 7, Seed: 2015833630, Size: 64x64, Model hash: 15012c538f, Model: "
        "realisticVisionV51_v51VAE, Clip skip: 2, Version: v1.9.4-169-ga30b19dd",
    )
