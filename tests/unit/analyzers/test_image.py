"""ImageAnalyzer on images drawn in code: header facts, EXIF summary, thumbnail, hostile input."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile, TiffImagePlugin

from veriscan.analyzers import decode
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.decode import MAX_PIXELS, init_pillow
from veriscan.analyzers.image import ImageAnalyzer, exif_summary, gps_position, user_comment
from veriscan.analyzers.pdq import PdqAnalyzer
from veriscan.domain import Artifact, Attribute, Fact, Problem
from veriscan.settings import Settings

RED = (230, 20, 20)


def landscape(width: int, height: int) -> Image.Image:
    """Sky gradient, sun, mountain and a field: structure for PDQ and for orientation checks."""
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    sky = np.stack(
        [60 + 120 * y + 0 * x, 120 + 90 * y + 0 * x, 230 - 60 * y + 20 * x], axis=-1
    ).astype(np.uint8)
    img = Image.fromarray(sky, "RGB")
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.65, height * 0.1, width * 0.8, height * 0.1 + width * 0.15), "gold")
    draw.polygon(
        [(0, height * 0.7), (width * 0.3, height * 0.25), (width * 0.6, height * 0.7)], "gray"
    )
    draw.rectangle((0, height * 0.7, width, height), fill=(40, 140, 50))
    return img


def encode(img: Image.Image, fmt: str = "JPEG", **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def run(data: bytes, mime: str = "image/jpeg", **settings: Any) -> list[Fact]:
    s = Settings(**settings)
    return ImageAnalyzer(s).analyze(FileContext("x", data, mime, s))


def attrs(facts: list[Fact]) -> dict[str, Any]:
    return {f.name: f.value for f in facts if isinstance(f, Attribute)}


def problems(facts: list[Fact]) -> list[Problem]:
    return [f for f in facts if isinstance(f, Problem)]


def thumbnail(facts: list[Fact]) -> Image.Image:
    (art,) = [f for f in facts if isinstance(f, Artifact)]
    assert (art.name, art.suffix) == ("thumbnail", ".jpg")
    img = Image.open(io.BytesIO(art.data))
    assert img.format == "JPEG"
    return img


def exif_with(orientation: int | None = None, big_endian: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif.endian = ">" if big_endian else "<"
    if orientation is not None:
        exif[0x0112] = orientation
    return exif


def test_both_analyzers_want_exactly_the_image_mimes() -> None:
    analyzers = (ImageAnalyzer(Settings()), PdqAnalyzer(Settings()))
    for kind in ("jpeg", "png", "gif", "bmp", "tiff", "webp", "heic", "heif", "avif"):
        assert all(a.wants(f"image/{kind}") for a in analyzers)
    for mime in ("text/plain", "application/pdf", "video/mp4", "image/svg+xml"):
        assert not any(a.wants(mime) for a in analyzers)


def test_header_facts_for_plain_png() -> None:
    facts = run(encode(landscape(300, 200), "PNG"), "image/png")
    assert attrs(facts) == {"width": 300, "height": 200, "format": "PNG"}
    assert not problems(facts)


@pytest.mark.parametrize(
    ("size", "px", "expected"),
    [((1000, 400), 128, (128, 51)), ((400, 1000), 128, (51, 128)), ((50, 30), 128, (50, 30))],
)
def test_thumbnail_is_bounded_and_never_enlarged(
    size: tuple[int, int], px: int, expected: tuple[int, int]
) -> None:
    thumb = thumbnail(run(encode(landscape(*size), "PNG"), "image/png", thumbnail_px=px))
    assert thumb.size == expected
    assert thumb.mode == "RGB"


def test_thumbnail_of_large_jpeg_comes_from_fast_decode_and_stays_bounded() -> None:
    facts = run(encode(landscape(2400, 1600), quality=90), thumbnail_px=256)
    assert thumbnail(facts).size == (256, 171)
    assert attrs(facts)["width"] == 2400  # the header size, not the reduced draft size


def test_thumbnail_can_be_disabled() -> None:
    facts = run(encode(landscape(300, 200)), thumbnail_px=0)
    assert not [f for f in facts if isinstance(f, Artifact)]


def test_cmyk_and_palette_images_get_rgb_thumbnails() -> None:
    for img, fmt in (
        (landscape(120, 80).convert("CMYK"), "JPEG"),
        (landscape(120, 80).quantize(), "GIF"),
    ):
        assert thumbnail(run(encode(img, fmt), f"image/{fmt.lower()}")).mode == "RGB"


def test_orientation_is_applied_to_thumbnail_but_not_to_reported_size() -> None:
    # Stored landscape with a red block top-left; orientation 6 means "rotate 90 degrees clockwise
    # to display", which moves that block to the top-right of a portrait image.
    stored = landscape(300, 100)
    ImageDraw.Draw(stored).rectangle((0, 0, 40, 40), fill=RED)
    facts = run(encode(stored, quality=95, exif=exif_with(6)), thumbnail_px=150)
    values = attrs(facts)
    assert (values["width"], values["height"]) == (300, 100)
    assert values["exif"]["orientation"] == 6
    thumb = thumbnail(facts).convert("RGB")
    assert thumb.size == (50, 150)
    r, g, b = thumb.getpixel((thumb.width - 5, 5))  # type: ignore[misc]
    assert r > 180 and g < 80 and b < 80


def test_exif_summary_cleans_strings_and_prefers_datetime_original() -> None:
    exif = exif_with(3)
    exif[0x010F] = "Acme Optical\0\0  "
    exif[0x0110] = "  Model 7 "
    exif[0x0131] = "Editor 2.1"
    exif[0x0132] = "2021:01:01 00:00:00"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2020:02:03 04:05:06\0"
    sub[0xA434] = "Wide 24mm"
    sub[0xA431] = "SN-0042 "
    values = attrs(run(encode(landscape(64, 48), exif=exif)))
    assert values["exif"] == {
        "make": "Acme Optical",
        "model": "Model 7",
        "datetime_original": "2020:02:03 04:05:06",
        "software": "Editor 2.1",
        "lens_model": "Wide 24mm",
        "serial": "SN-0042",
        "orientation": 3,
    }


@pytest.mark.parametrize("original", [None, "    :  :     :  :  ", "0000:00:00 00:00:00"])
def test_datetime_falls_back_to_ifd0_datetime(original: str | None) -> None:
    exif = exif_with()
    exif[0x0132] = "2021:05:06 07:08:09"
    if original is not None:
        exif.get_ifd(0x8769)[0x9003] = original
    values = attrs(run(encode(landscape(64, 48), exif=exif)))
    assert values["exif"]["datetime_original"] == "2021:05:06 07:08:09"


def test_no_exif_means_no_exif_fact() -> None:
    assert "exif" not in attrs(run(encode(landscape(64, 48))))


@pytest.mark.parametrize("big_endian", [False, True])
def test_gps_is_signed_decimal_degrees(big_endian: bool) -> None:
    exif = exif_with(big_endian=big_endian)
    gps = exif.get_ifd(0x8825)
    gps.update(
        {
            1: "S",
            2: (33.0, 51.0, 54.0),
            3: "W",
            4: (151.0, 12.0, TiffImagePlugin.IFDRational(363, 10)),
            5: b"\x01",
            6: 12.5,
        }
    )
    position = attrs(run(encode(landscape(64, 48), exif=exif)))["exif"]["gps"]
    assert position["lat"] == pytest.approx(-(33 + 51 / 60 + 54 / 3600))
    assert position["lon"] == pytest.approx(-(151 + 12 / 60 + 36.3 / 3600))
    assert position["alt"] == pytest.approx(-12.5)


def test_gps_north_east_without_altitude() -> None:
    position = gps_position({1: "N", 2: (48.0, 51.0, 28.2), 3: "E", 4: (2.0, 17.0, 49.2)})
    assert position == {
        "lat": pytest.approx(48.857833333),
        "lon": pytest.approx(2.297),
        "alt": None,
    }


@pytest.mark.parametrize(
    "gps",
    [
        {0: b"\x02\x02\x00\x00"},  # version tag only: a GPS block without a fix
        {1: "N", 2: (TiffImagePlugin.IFDRational(1, 0), 0.0, 0.0), 3: "E", 4: (1.0, 0.0, 0.0)},
        {1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (1.0, 0.0, 0.0)},
        {1: "N", 2: (10.0, 0.0, 0.0)},
    ],
)
def test_gps_without_a_usable_position_is_omitted(gps: dict[int, Any]) -> None:
    assert gps_position(gps) is None


COMMENT = "Sunset über the Fjord, 山と湖 (test)"


@pytest.mark.parametrize("file_big_endian", [False, True])
@pytest.mark.parametrize(
    "payload",
    [
        COMMENT.encode("utf-16-le"),
        COMMENT.encode("utf-16-be"),
        b"\xff\xfe" + COMMENT.encode("utf-16-le"),
        b"\xfe\xff" + COMMENT.encode("utf-16-be"),
        COMMENT.encode("utf-16-be") + b"\0\0\0\0",
    ],
    ids=["le", "be", "le-bom", "be-bom", "be-padded"],
)
def test_utf16_user_comment_in_either_byte_order(payload: bytes, file_big_endian: bool) -> None:
    exif = exif_with(big_endian=file_big_endian)
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + payload
    assert attrs(run(encode(landscape(64, 48), exif=exif)))["exif"]["user_comment"] == COMMENT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"ASCII\0\0\0Steps: 20, Seed: 1\0\0", ("Steps: 20, Seed: 1", None)),
        (b"\0" * 8 + b"plain text   ", ("plain text", None)),
        (b"\0" * 8 + b"\0" * 32, (None, None)),
        (b"ASCII\0\0\0" + b" " * 40, (None, None)),
        (b"\0" * 8 + b"\x01\x02\x03\xfe", (None, ("\0" * 8).encode().hex() + "010203fe")),
        (b"UNICODE\0" + b"\xdc\xdc\xe0\xe0", (None, "554e49434f444500" + "dcdce0e0")),
        ("already text ", ("already text", None)),
    ],
)
def test_user_comment_charsets(raw: bytes | str, expected: tuple[str | None, str | None]) -> None:
    assert user_comment(raw) == expected


def test_undecodable_user_comment_is_kept_as_hex_not_bytes() -> None:
    exif = exif_with()
    exif.get_ifd(0x8769)[0x9286] = b"\0" * 8 + b"\xc3\x28\x00\x07"
    summary = attrs(run(encode(landscape(64, 48), exif=exif)))["exif"]
    assert summary == {"user_comment_hex": "0000000000000000c3280007"}


def test_exif_summary_is_json_serialisable() -> None:
    import json

    exif = exif_with(8)
    exif[0x010F] = "Acme"
    exif.get_ifd(0x8825).update({1: "N", 2: (1.0, 2.0, 3.0), 3: "E", 4: (4.0, 5.0, 6.0), 6: 7.0})
    exif.get_ifd(0x8769)[0x9286] = b"\0" * 8 + b"\xff\x00"
    values = attrs(run(encode(landscape(64, 48), exif=exif)))
    assert json.loads(json.dumps(values["exif"], allow_nan=False)) == values["exif"]


def test_animated_gif_reports_frames() -> None:
    frames = [landscape(80, 60), landscape(80, 60).rotate(180), Image.new("RGB", (80, 60), RED)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    values = attrs(run(data, "image/gif"))
    assert (values["format"], values["frames"]) == ("GIF", 3)


@pytest.mark.parametrize(("fmt", "mime"), [("HEIF", "image/heic"), ("AVIF", "image/avif")])
def test_heif_and_avif_decode(fmt: str, mime: str) -> None:
    init_pillow()
    facts = run(encode(landscape(128, 96), fmt, quality=90), mime)
    values = attrs(facts)
    assert (values["format"], values["width"], values["height"]) == (fmt, 128, 96)
    assert thumbnail(facts).size == (128, 96)


def test_heif_reports_the_files_own_orientation() -> None:
    init_pillow()
    exif = exif_with(6)
    exif[0x010F] = "Acme"
    values = attrs(run(encode(landscape(128, 96), "HEIF", quality=90, exif=exif), "image/heic"))
    assert values["exif"]["make"] == "Acme"
    assert values["exif"]["orientation"] == 6


def test_heif_opener_is_registered_on_first_use_not_on_import() -> None:
    code = (
        "from PIL import Image\n"
        "import veriscan.analyzers.image, veriscan.analyzers.pdq\n"
        "assert 'HEIF' not in Image.OPEN, 'registered at import'\n"
        "from veriscan.analyzers.decode import init_pillow\n"
        "init_pillow(); init_pillow()\n"
        "assert 'HEIF' in Image.OPEN\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("size", [(640, 480), (2000, 1500)])
@pytest.mark.parametrize("pdq", ["fast", "exact"])
def test_truncated_jpeg_is_a_problem_not_an_exception(size: tuple[int, int], pdq: str) -> None:
    exif = exif_with()
    exif[0x010F] = "Acme"
    data = encode(landscape(*size), quality=90, exif=exif)
    cut = data[: len(data) * 6 // 10]
    s = Settings(pdq=pdq)
    ctx = FileContext("x.jpg", cut, "image/jpeg", s)
    facts = ImageAnalyzer(s).analyze(ctx) + PdqAnalyzer(s).analyze(ctx)
    assert [(p.analyzer, p.code) for p in problems(facts)] == [
        ("image", "corrupt-image"),
        ("pdq", "corrupt-image"),
    ]
    assert "truncated" in problems(facts)[0].message
    values = attrs(facts)  # what the intact header still says is worth keeping
    assert (values["width"], values["height"], values["exif"]["make"]) == (*size, "Acme")
    assert "hash" not in values
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"%PDF-1.7\n" + b"0" * 200, "image/png"),
        (b"", "image/jpeg"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 64, "image/jpeg"),
        (b"GIF89a" + b"\xff" * 20, "image/gif"),
    ],
    ids=["pdf", "empty", "jpeg-marker-only", "gif-garbage"],
)
def test_non_image_bytes_are_a_problem(data: bytes, mime: str) -> None:
    facts = run(data, mime)
    assert facts == [
        Problem("image", "no image decoder recognises these bytes", code="unidentified-image")
    ]


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming a huge size, followed by a tiny IDAT: a classic bomb
    shape that costs nothing to build."""
    real = encode(Image.new("L", (1, 1)), "PNG")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return real[:8] + chunk + real[8 + 25 :]


@pytest.mark.parametrize(
    "size",
    [(15000, 15000), (50000, 50000)],
    ids=["between-limit-and-twice", "far-over"],
)
def test_decompression_bomb_is_a_problem(size: tuple[int, int]) -> None:
    assert size[0] * size[1] > MAX_PIXELS
    facts = run(png_header_only(*size), "image/png")
    assert [p.code for p in problems(facts)] == ["image-too-large"]


def test_oversized_image_leaves_no_pillow_warning_behind() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(png_header_only(15000, 15000), "image/png")
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_bomb_limit_is_also_checked_when_pillows_global_limit_was_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    init_pillow()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    facts = run(png_header_only(20000, 20000), "image/png")
    assert [p.code for p in problems(facts)] == ["image-too-large"]
    assert attrs(facts) == {}


@pytest.mark.parametrize("pdq", ["fast", "exact"])
@pytest.mark.parametrize("image_first", [True, False])
def test_analyzers_share_one_decode_per_mode(
    monkeypatch: pytest.MonkeyPatch, pdq: str, image_first: bool
) -> None:
    calls: list[str] = []
    real = decode.decode_bytes

    def counting(data: bytes, mode: str) -> decode.Decoded:
        calls.append(mode)
        return real(data, mode)

    monkeypatch.setattr(decode, "decode_bytes", counting)
    s = Settings(pdq=pdq)
    ctx = FileContext("x.jpg", encode(landscape(1200, 900)), "image/jpeg", s)
    analyzers = [ImageAnalyzer(s), PdqAnalyzer(s)]
    for analyzer in analyzers if image_first else analyzers[::-1]:
        analyzer.analyze(ctx)
    assert sorted(calls) == sorted({"fast", pdq})
    assert set(ctx.cache) == {f"decoded:{m}" for m in {"fast", pdq}}


def test_exif_summary_ignores_non_text_values() -> None:
    tags = decode.ExifTags(ifd0={0x010F: 12, 0x0110: (1, 2)}, exif={}, gps={}, byte_order="<")
    assert exif_summary(tags) == {}
