"""One shared, guarded image decode for the image and PDQ analyzers.

Decoding is the expensive part of both analyzers, so the first of them to ask decodes and parks the
result in ``FileContext.cache``; the other reuses it. There is one entry per mode because the two
modes give different pixels: ``exact`` is the full decode that python-threatexchange hashes, while
``fast`` lets libjpeg decode at a reduced DCT scale, which is several times cheaper on camera JPEGs
and keeps PDQ within a few bits of the exact hash.

Everything a hostile or broken file can do to Pillow ends here as a :class:`DecodeFailure`, so the
analyzers can report it as a Problem instead of raising.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from veriscan.analyzers import rawpreview, tiffwalk
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.failures import UNIDENTIFIED as UNIDENTIFIED
from veriscan.analyzers.failures import decode_failure, log_exception
from veriscan.domain import ProblemCode

MODES = ("fast", "exact")

IMAGE_MIMES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/bmp",
        "image/tiff",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/vnd.adobe.photoshop",
        *rawpreview.RAW_MIMES,
    }
)

MAX_PIXELS = 200 * 1024 * 1024
"""Largest image (width x height) decoded at all.

Big enough for 200-MP phone sensors (16320 x 12240), small enough that a forged header cannot make a
worker allocate more than about 600 MB of RGB pixels. Pillow's own default would reject real 108-MP
phone photos."""

FAST_MIN_SIDE = 512
"""The fast JPEG decode never shrinks a side below this. PDQ downsamples to 64 x 64 anyway, and 512
is the size the reference C++ hasher itself downsamples to before hashing."""

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
ORIENTATION = 0x0112

EMBEDDED_PREVIEW = "embedded-preview"
RAW_KEY = "raw-preview"


@dataclass(frozen=True)
class ExifTags:
    """The EXIF tags as read from the original file, before any decoder touched them.

    Plain tag -> value dicts, so nothing keeps the source file open after the decode.
    """

    ifd0: dict[int, Any]
    exif: dict[int, Any]
    gps: dict[int, Any]
    byte_order: str
    """``"<"`` or ``">"``: the TIFF header's order, a hint for UTF-16 text without a BOM."""


@dataclass(frozen=True)
class Header:
    format: str
    width: int
    height: int
    frames: int
    exif: ExifTags | None
    orientation: int | None
    """The file's own EXIF orientation; pillow-heif resets the tag to 1 after libheif has already
    rotated the pixels, so for HEIF this is the value it saved aside."""
    source: str | None = None
    """``embedded-preview`` when the pixels are a camera RAW's preview JPEG, not the file itself."""
    damage: tuple[tuple[ProblemCode, str], ...] = ()
    """(code, wording) for defects that cost some facts but not the pixels (malformed EXIF)."""


@dataclass(frozen=True)
class DecodeFailure:
    code: ProblemCode
    message: str


@dataclass(frozen=True)
class Decoded:
    """Header facts, plus upright RGB pixels (first frame) or the reason there are none."""

    mode: str
    header: Header | None
    rgb: Image.Image | None
    failure: DecodeFailure | None
    stored: Image.Image | None = None
    """The pixels as stored (full size, original mode, orientation not applied) when the decode
    produced them anyway, so pixel-level checks (LSB payloads, watermarks) skip a decode."""


def wants_image(mime: str) -> bool:
    return mime.lower() in IMAGE_MIMES


@functools.cache
def init_pillow() -> None:
    """Prepare Pillow once per process, on first use rather than on import.

    Importing veriscan (for ``--help``, or a worker that never sees an image) should not pay for
    libheif or change Pillow's global limits.
    """
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def decoded(ctx: FileContext, mode: str) -> Decoded:
    """The decode for ``mode``, computed once per file and shared through ``ctx.cache``."""
    if mode not in MODES:
        raise ValueError(f"decode mode must be one of {', '.join(MODES)}, not {mode!r}")
    key = f"decoded:{mode}"
    cached = ctx.cache.get(key)
    if isinstance(cached, Decoded):
        return cached
    raw = raw_preview(ctx)
    result = decode_bytes(ctx.data, mode) if raw is None else _decode_raw(ctx, raw, mode)
    ctx.cache[key] = result
    return result


def raw_preview(ctx: FileContext) -> rawpreview.RawPreview | None:
    """The camera RAW container's contents, once per file; None for any other image."""
    kind = rawpreview.RAW_MIMES.get(ctx.mime)
    if kind is None and ctx.mime != "image/tiff":
        return None
    if RAW_KEY in ctx.cache:
        cached = ctx.cache[RAW_KEY]
        return cached if isinstance(cached, rawpreview.RawPreview) else None
    found: rawpreview.RawPreview | None = None
    try:
        if kind is None and ctx.mime == "image/tiff":
            kind = rawpreview.raw_kind_of_tiff(ctx.data)
        if kind is not None:
            found = rawpreview.find_preview(ctx.data, kind)
    except Exception as exc:  # a walker gap must cost the preview, never the file's other facts
        log_exception("raw preview", ctx.name, exc)
        found = rawpreview.RawPreview(kind or "RAW", defects=["container structure unreadable"])
    ctx.cache[RAW_KEY] = found
    return found


def image_bytes(ctx: FileContext) -> bytes:
    """The bytes to decode for pixels: a RAW's preview JPEG (the one that decodes), else the
    file."""
    raw = raw_preview(ctx)
    if raw is None:
        return ctx.data
    good = ctx.cache.get("raw-jpeg")
    return good if isinstance(good, bytes) else (raw.jpegs[0] if raw.jpegs else b"")


def _decode_raw(ctx: FileContext, raw: rawpreview.RawPreview, mode: str) -> Decoded:
    exif = _raw_exif(raw)
    damage = tuple(
        (ProblemCode.RAW_MALFORMED, f"{raw.kind} structure malformed: {d}") for d in raw.defects
    )
    for jpeg in raw.jpegs:
        result = decode_bytes(jpeg, mode)
        if result.failure is None and result.header is not None:
            ctx.cache["raw-jpeg"] = jpeg
            header = dataclasses.replace(
                result.header,
                format=raw.kind,
                exif=exif or result.header.exif,
                source=EMBEDDED_PREVIEW,
                damage=damage + result.header.damage,
            )
            return dataclasses.replace(result, header=header)
    if raw.jpegs:
        wording = f"{raw.kind} camera RAW: its embedded preview image could not be decoded"
        return Decoded(mode, None, None, DecodeFailure(ProblemCode.CORRUPT_IMAGE, wording))
    wording = f"{raw.kind} camera RAW: no embedded preview image found; sensor data not decoded"
    return Decoded(mode, None, None, DecodeFailure(ProblemCode.RAW_NO_PREVIEW, wording))


def _raw_exif(raw: rawpreview.RawPreview) -> ExifTags | None:
    """The camera's tags from the container (the preview JPEG often has none): CR3 keeps IFD0,
    the EXIF and the GPS directory in separate TIFF blocks, the TIFF-based RAWs in the file."""
    blocks = raw.tiff_blocks
    if not blocks:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = Image.Exif()
            first.load(blocks[0])
            ifd0 = dict(first)
            if len(blocks) == 1:
                sub = dict(first.get_ifd(EXIF_IFD)) if EXIF_IFD in ifd0 else {}
                gps = dict(first.get_ifd(GPS_IFD)) if GPS_IFD in ifd0 else {}
            else:
                sub, gps = (_block_tags(block) for block in [*blocks, b"", b""][1:3])
    except Exception:  # damaged camera tags cost the EXIF summary, never the preview
        return None
    order = getattr(first, "endian", None) or "<"
    return ExifTags(ifd0=ifd0, exif=sub, gps=gps, byte_order=order) if ifd0 else None


def _block_tags(block: bytes) -> dict[int, Any]:
    if not block:
        return {}
    exif = Image.Exif()
    exif.load(block)
    return dict(exif)


def decode_bytes(data: bytes, mode: str) -> Decoded:
    init_pillow()
    header: Header | None = None
    try:
        # DecompressionBombWarning becomes an error so an oversized image (or an oversized GIF frame
        # or TIFF tile found while seeking) stops before its pixels are allocated.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{width} x {height}")
            frames = int(getattr(img, "n_frames", 1) or 1)
            if mode == "fast" and isinstance(img, JpegImagePlugin.JpegImageFile):
                img.draft("RGB", (min(width, FAST_MIN_SIDE), min(height, FAST_MIN_SIDE)))
            try:
                img.load()
            except Exception:
                header = _header(img, width, height, frames)
                raise
            header = _header(img, width, height, frames)
            upright = header.orientation in (None, 1)
            stored = img if img.size == (width, height) and upright else None
            # Unreadable EXIF means the orientation is unknown; the pixels then stay as stored.
            if stored is None:
                with contextlib.suppress(Exception):
                    ImageOps.exif_transpose(img, in_place=True)
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            if rgb is not img and stored is None:
                img.close()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        message = f"not decoded: the declared size is over the limit of {MAX_PIXELS} pixels"
        return Decoded(mode, header, None, DecodeFailure(ProblemCode.IMAGE_TOO_LARGE, message))
    except UnidentifiedImageError:
        failure = DecodeFailure(ProblemCode.UNIDENTIFIED_IMAGE, UNIDENTIFIED)
        return Decoded(mode, None, None, failure)
    except Exception as exc:
        log_exception("image decode", f"{len(data)} bytes", exc)
        code, message = decode_failure(exc, header.format if header else "image", len(data))
        # examiners already filter on corrupt-image; the wording says it was truncated
        if code == ProblemCode.IMAGE_TRUNCATED:
            code = ProblemCode.CORRUPT_IMAGE
        return Decoded(mode, _trailer(header, data), None, DecodeFailure(code, message))
    return Decoded(mode, _trailer(header, data), rgb, None, stored)


def _trailer(header: Header | None, data: bytes) -> Header | None:
    """Structural damage the decoder tolerated: a GIF cut short still shows its first frames (the
    missing trailer says it was cut); a TIFF's directories may loop or point past the end."""
    if header is None:
        return header
    damage: list[tuple[ProblemCode, str]] = []
    if header.format == "GIF" and not data.rstrip(b"\0").endswith(b";"):
        wording = f"GIF data ends before its trailer: truncated after {len(data)} bytes"
        damage.append((ProblemCode.IMAGE_TRUNCATED, wording))
    if header.format == "TIFF":
        for defect in tiffwalk.walk(data).defects:
            damage.append((ProblemCode.IMAGE_MALFORMED, f"TIFF structure malformed: {defect}"))
    if not damage:
        return header
    return dataclasses.replace(header, damage=(*header.damage, *damage))


def _header(img: Image.Image, width: int, height: int, frames: int) -> Header:
    """Header facts, gathered even when the pixels turn out to be unreadable."""
    exif, damage = _exif_tags(img)
    orientation: Any = img.info.get("original_orientation")
    if orientation is None and exif is not None:
        orientation = exif.ifd0.get(ORIENTATION)
    return Header(
        format=img.format or "unknown",
        width=width,
        height=height,
        frames=frames,
        exif=exif,
        orientation=orientation if isinstance(orientation, int) else None,
        damage=tuple((ProblemCode.EXIF_MALFORMED, text) for text in damage),
    )


def _exif_tags(img: Image.Image) -> tuple[ExifTags | None, list[str]]:
    """EXIF of the original file, and its defects; a damaged EXIF block loses its tags (some or
    all), never the image, and the defects are stated."""
    block = img.info.get("exif")
    damage = tiffwalk.exif_defects(block) if isinstance(block, bytes) and block else []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exif = img.getexif()
            ifd0 = dict(exif)
            sub = dict(exif.get_ifd(EXIF_IFD)) if EXIF_IFD in ifd0 else {}
            gps = dict(exif.get_ifd(GPS_IFD)) if GPS_IFD in ifd0 else {}
        byte_order = getattr(exif, "endian", None) or "<"
    except Exception:
        return None, damage or ["EXIF block malformed: unreadable"]
    if any(issubclass(w.category, UserWarning) for w in caught) and not damage:
        damage = ["EXIF block malformed: some tags point outside the block and were skipped"]
    if not ifd0:
        return None, damage
    return ExifTags(ifd0=ifd0, exif=sub, gps=gps, byte_order=byte_order), damage
