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
import functools
import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from veriscan.analyzers.base import FileContext

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

UNIDENTIFIED = "no image decoder recognises these bytes"
"""Pillow's own message names a memory address, which would make two runs' records differ."""


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


@dataclass(frozen=True)
class DecodeFailure:
    code: str
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
    result = decode_bytes(ctx.data, mode)
    ctx.cache[key] = result
    return result


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
                raise Image.DecompressionBombError(
                    f"{width} x {height} is {width * height} pixels, over the limit of {MAX_PIXELS}"
                )
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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return Decoded(mode, header, None, DecodeFailure("image-too-large", f"not decoded: {exc}"))
    except UnidentifiedImageError:
        failure = DecodeFailure("unidentified-image", UNIDENTIFIED)
        return Decoded(mode, None, None, failure)
    except Exception as exc:
        fmt = header.format if header else "image"
        message = f"{fmt} could not be decoded: {str(exc) or type(exc).__name__}"
        return Decoded(mode, header, None, DecodeFailure("corrupt-image", message))
    return Decoded(mode, header, rgb, None, stored)


def _header(img: Image.Image, width: int, height: int, frames: int) -> Header:
    """Header facts, gathered even when the pixels turn out to be unreadable."""
    exif = _exif_tags(img)
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
    )


def _exif_tags(img: Image.Image) -> ExifTags | None:
    """EXIF of the original file; a damaged EXIF block loses its tags, not the image."""
    try:
        exif = img.getexif()
        ifd0 = dict(exif)
        if not ifd0:
            return None
        sub = dict(exif.get_ifd(EXIF_IFD)) if EXIF_IFD in ifd0 else {}
        gps = dict(exif.get_ifd(GPS_IFD)) if GPS_IFD in ifd0 else {}
        byte_order = getattr(exif, "endian", None) or "<"
    except Exception:
        return None
    return ExifTags(ifd0=ifd0, exif=sub, gps=gps, byte_order=byte_order)
